"""A small Python client of the worker: start it, send requests, read each request's events.

    with WorkerProcess(["--model", "models/InternVideo2_5", "--device", "cpu"]) as worker:
        video = worker.call("open_video", path="harbour.mp4")["video"]
        for event in worker.stream("ask", video=video, question="What happens?"):
            if event["event"] == "partial":
                print(event["data"]["text"], end="")

For scripts, tests and benchmarks; the desktop window has its own client on Qt's event loop
(app/worker_client.py). A reader thread sorts the worker's lines by request id, so events of several
requests in flight can be read independently.
"""

from __future__ import annotations

import itertools
import json
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import IO, Any

FINAL_EVENTS = ("result", "error", "pong")


class WorkerError(Exception):
    """An error event: `code`, `message`, `hint` as the worker sent them."""

    def __init__(self, event: dict[str, Any]) -> None:
        super().__init__(f"{event.get('code')}: {event.get('message')}")
        self.event = event
        self.code, self.message, self.hint = event.get("code"), event.get("message"), event.get("hint")


class WorkerExited(Exception):
    """The worker process ended while a request waited for its answer."""


class WorkerProcess:
    def __init__(
        self,
        args: Sequence[str] = (),
        *,
        env: dict[str, str] | None = None,
        stderr: IO | int = subprocess.DEVNULL,
        python: str = sys.executable,
    ) -> None:
        self.process = subprocess.Popen(
            [python, "-m", "engine.worker", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=env,
        )
        self._queues: dict[str | None, queue.Queue] = {}
        self._lock = threading.Lock()
        self._exited = False
        self.garbage: list[bytes] = []  # stdout lines that were not protocol messages (there must be none)
        self._ids = itertools.count(1)
        self._write_lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, name="worker-reader", daemon=True)
        self._reader.start()

    def __enter__(self) -> WorkerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----- sending ------------------------------------------------------------------------------------------
    def send_line(self, line: bytes) -> None:
        """Write raw bytes (a line, or anything: tests send hostile input)."""
        with self._write_lock:
            assert self.process.stdin is not None
            self.process.stdin.write(line)
            self.process.stdin.flush()

    def request(self, kind: str, *, request_id: str | None = None, **fields: Any) -> str:
        """Send a request; returns its id (a fresh one unless given)."""
        request_id = request_id or f"r{next(self._ids)}"
        self._queue(request_id)
        self.send_line(json.dumps({"id": request_id, "type": kind, **fields}).encode() + b"\n")
        return request_id

    # ----- receiving ----------------------------------------------------------------------------------------
    def events(self, request_id: str | None, timeout: float = 60.0) -> Iterator[dict[str, Any]]:
        """The events of one request as they come, up to and including its result, error or pong.
        `None` reads the errors that belong to no request."""
        q = self._queue(request_id)
        while True:
            try:
                event = q.get(timeout=timeout)
            except queue.Empty:
                raise TimeoutError(f"no event for {request_id!r} within {timeout} s") from None
            if event is None:
                raise WorkerExited(f"the worker exited with status {self.process.wait()}")
            yield event
            if event.get("event") in FINAL_EVENTS or request_id is None:
                return

    def next_event(self, request_id: str | None, timeout: float = 60.0) -> dict[str, Any]:
        return next(self.events(request_id, timeout))

    def stream(self, kind: str, timeout: float = 120.0, **fields: Any) -> Iterator[dict[str, Any]]:
        """Send a request and yield its events; an error event is raised as `WorkerError`."""
        for event in self.events(self.request(kind, **fields), timeout):
            if event.get("event") == "error":
                raise WorkerError(event)
            yield event

    def call(self, kind: str, timeout: float = 120.0, **fields: Any) -> dict[str, Any]:
        """Send a request and return its result's data (progress and partial events are dropped)."""
        for event in self.stream(kind, timeout, **fields):
            if event["event"] in ("result", "pong"):
                return event.get("data", {})
        raise AssertionError("unreachable")

    def close(self, timeout: float = 10.0) -> int:
        """Ask the worker to shut down; kill it if it does not within `timeout`. Returns its status."""
        if self.process.poll() is None:
            try:
                self.send_line(b'{"type": "shutdown"}\n')
                self.process.stdin.close()  # type: ignore[union-attr]
            except (BrokenPipeError, OSError):
                pass
            try:
                return self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait()

    def _queue(self, request_id: str | None) -> queue.Queue:
        with self._lock:
            if request_id not in self._queues:
                self._queues[request_id] = queue.Queue()
                if self._exited:
                    self._queues[request_id].put(None)
            return self._queues[request_id]

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                event = json.loads(line)
                request_id = event.get("id")
            except (ValueError, AttributeError):
                self.garbage.append(line)
                continue
            self._queue(request_id).put(event)
        with self._lock:
            self._exited = True
            queues = list(self._queues.values())
        for q in queues:
            q.put(None)  # the worker is gone: wake everyone waiting
