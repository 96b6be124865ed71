"""The worker's loop: read request lines, run jobs on threads, write event lines; never die of a request.

The reader (the main thread) answers `ping` at once, cancels on `cancel`, handles quick requests in
place and starts each job on a thread of its own, so pings are answered while a job runs. Events are
written whole, one line at a time, under a lock. A job ends with exactly one `result` or `error`:
engine errors become their codes (the message says what to do), torch's out-of-memory becomes
`out_of_memory` with a hint, anything else becomes `internal` with the traceback in the log.
Progress events of a job are sent at most every `PROGRESS_EVERY_S` (the last one of a stage always);
partial results are never held back. End of input (the window went away) or `shutdown` cancels the
running jobs and ends the process.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any, BinaryIO

from engine.errors import ExportError, ModelError, ScenescopeError, VideoError
from engine.jobs import Cancelled, Job, Progress
from engine.worker import protocol as p
from engine.worker.context import Context, State
from engine.worker.handlers import REQUESTS
from engine.worker.state import Handles, Models, Settings, is_out_of_memory

log = logging.getLogger(__name__)

PROGRESS_EVERY_S = 0.05
SHUTDOWN_WAIT_S = 5.0  # how long running jobs get to stop after a shutdown before the process exits
OUT_OF_MEMORY_HINT = (
    "Choose a lower precision (int8 or int4) or fewer frames in Settings, close other programs that use "
    "the GPU, then try again."
)
ENGINE_CODES = ((VideoError, p.VIDEO_ERROR), (ModelError, p.MODEL_ERROR), (ExportError, p.EXPORT_ERROR))


class Worker:
    def __init__(self, out: BinaryIO, settings: Settings, log_path: str | None = None) -> None:
        self._out = out
        self._write_lock = threading.Lock()
        self._jobs: dict[str, tuple[str, Job, threading.Thread]] = {}  # id -> (type, job, thread)
        self._jobs_lock = threading.Lock()
        self._log_path = log_path
        handles = Handles()
        self.state = State(handles, Models(settings, handles), self._running)

    # ----- output --------------------------------------------------------------------------------------
    def send(self, message: dict[str, Any]) -> None:
        try:
            line = p.encode(message)
        except (TypeError, ValueError) as e:  # a result that is not plain data: a bug
            log.exception("unsendable message for %s", message.get("id"))
            error = p.error_event(message.get("id"), p.INTERNAL, f"unsendable result ({e})", self._hint())
            line = p.encode(error)
        with self._write_lock:
            self._out.write(line)
            self._out.flush()

    # ----- input ---------------------------------------------------------------------------------------
    def serve(self, stdin: BinaryIO) -> int:
        """Read requests until `shutdown` or the end of input. Returns the exit status."""
        try:
            while True:
                line = stdin.readline(p.MAX_LINE_BYTES + 1)
                if not line:
                    break
                if len(line) > p.MAX_LINE_BYTES and not line.endswith(b"\n"):
                    _skip_rest_of_line(stdin)
                    limit = f"a line is limited to {p.MAX_LINE_BYTES:,} bytes"
                    self.send(p.error_event(None, p.LINE_TOO_LONG, limit))
                    continue
                if line.strip() and self._take(line) == "shutdown":
                    break
        finally:
            self._stop_jobs()
        return 0

    def _take(self, line: bytes) -> str | None:
        try:
            request = p.parse_request(line)
        except p.ProtocolError as e:
            self.send(p.error_event(e.request_id, e.code, e.message, e.hint))
            return None
        kind = request.type
        if kind == "ping":
            self.send({"id": request.id, "event": "pong"})
        elif kind == "cancel":
            self._cancel(request)
        elif kind == "shutdown":
            if request.id is not None:
                self.send({"id": request.id, "event": "result", "data": {"shutdown": True}})
        elif kind not in REQUESTS:
            known = ", ".join(sorted([*REQUESTS, "ping", "cancel", "shutdown"]))
            message = f"unknown request type {kind!r}"
            self.send(p.error_event(request.id, p.BAD_REQUEST, message, f"Known: {known}."))
        elif request.id is None:
            self.send(p.error_event(None, p.BAD_REQUEST, f"a {kind} request needs an 'id' (a string)"))
        else:
            handler, is_job = REQUESTS[kind]
            if is_job:
                self._start(request, handler)
            else:
                self._run(request, handler, Job())
        return kind

    def _cancel(self, request: p.Request) -> None:
        target = request.fields.get("target")
        with self._jobs_lock:
            running = self._jobs.get(target) if isinstance(target, str) else None
        if running is None:
            self.send(p.error_event(request.id, p.UNKNOWN_JOB, f"no job {target!r} is running"))
            return
        running[1].cancel()
        if request.id is not None:
            self.send({"id": request.id, "event": "result", "data": {"cancelling": target}})

    # ----- jobs ----------------------------------------------------------------------------------------
    def _start(self, request: p.Request, handler: Callable[[Context], dict[str, Any]]) -> None:
        assert request.id is not None
        job = Job(on_progress=self._progress_sender(request.id), on_partial=self._partial_sender(request.id))
        with self._jobs_lock:
            if request.id in self._jobs:
                self.send(
                    p.error_event(request.id, p.BAD_REQUEST, f"a job with id {request.id!r} is running")
                )
                return
            thread = threading.Thread(
                target=self._run, args=(request, handler, job), name=f"job-{request.id}", daemon=True
            )
            self._jobs[request.id] = (request.type, job, thread)
        thread.start()

    def _run(self, request: p.Request, handler: Callable[[Context], dict[str, Any]], job: Job) -> None:
        try:
            final = {
                "id": request.id,
                "event": "result",
                "data": handler(Context(p.Args.of(request), self.state, job)),
            }
        except BaseException as e:  # every request ends with a result or an error; the worker goes on
            final = self._error(request, e)
        with self._jobs_lock:  # done before it says so: a client may reuse the id at once
            self._jobs.pop(request.id, None)
        self.send(final)

    def _error(self, request: p.Request, error: BaseException) -> dict[str, Any]:
        rid = request.id
        if isinstance(error, p.ProtocolError):
            return p.error_event(rid, error.code, error.message, error.hint)
        if isinstance(error, Cancelled):
            return p.error_event(rid, p.CANCELLED, f"the {request.type} job was cancelled")
        if isinstance(error, ScenescopeError):
            code = next((c for kind, c in ENGINE_CODES if isinstance(error, kind)), p.INPUT_ERROR)
            return p.error_event(rid, code, str(error))
        if is_out_of_memory(error):
            log.warning("out of memory in %s %s: %s", request.type, rid, error)
            self.state.models.release_cached_memory()
            return p.error_event(rid, p.OUT_OF_MEMORY, "the GPU ran out of memory", OUT_OF_MEMORY_HINT)
        trace = "".join(traceback.format_exception(error))
        log.error("internal error in %s %s:\n%s", request.type, rid, trace)
        return p.error_event(
            rid, p.INTERNAL, f"internal error ({type(error).__name__}: {error})", self._hint()
        )

    def _hint(self) -> str:
        where = f" in {self._log_path}" if self._log_path else " in the worker's log"
        return f"This is a bug; the traceback is{where}. The worker is still running: try again."

    def _progress_sender(self, request_id: str) -> Callable[[Progress], None]:
        last = {"time": 0.0, "stage": None}

        def send(progress: Progress) -> None:
            now = time.monotonic()
            finished = progress.total is not None and progress.done >= progress.total
            if now - last["time"] >= PROGRESS_EVERY_S or finished or progress.stage != last["stage"]:
                last.update(time=now, stage=progress.stage)
                self.send({"id": request_id, "event": "progress", **progress.to_dict()})

        return send

    def _partial_sender(self, request_id: str) -> Callable[[str, dict[str, Any]], None]:
        def send(kind: str, data: dict[str, Any]) -> None:
            self.send({"id": request_id, "event": "partial", "kind": kind, "data": data})

        return send

    def _running(self) -> list[dict[str, str]]:
        with self._jobs_lock:
            return [{"id": rid, "type": kind} for rid, (kind, _, _) in self._jobs.items()]

    def _stop_jobs(self) -> None:
        with self._jobs_lock:
            running = list(self._jobs.values())
        for _, job, _ in running:
            job.cancel()
        deadline = time.monotonic() + SHUTDOWN_WAIT_S
        for _, _, thread in running:
            thread.join(max(0.0, deadline - time.monotonic()))


def _skip_rest_of_line(stdin: BinaryIO) -> None:
    while True:
        chunk = stdin.readline(1 << 20)
        if not chunk or chunk.endswith(b"\n"):
            return
