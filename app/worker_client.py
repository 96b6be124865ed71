"""The window's side of the engine worker: a QProcess speaking JSON lines, its events as Qt signals.

    client = WorkerClient(["--device", "cpu"])
    client.start()
    call = client.request("open_video", path="harbour.mp4")
    call.finished.connect(show_video)          # result data
    call.failed.connect(show_error)            # {"code", "message", "hint"}
    call.progress.connect(status_bar.show_job)  # engine.jobs.Progress
    client.cancel(call)

Nothing here blocks: lines are read as they arrive (readyReadStandardOutput), and the window never waits
for the worker. A watchdog pings every `PING_EVERY_MS` (a `status` request, which also feeds the status
bar); no answer within `HANG_AFTER_MS` means the worker hangs: it is killed. When the process ends
unexpectedly (a crash, the out-of-memory killer, a hang), every call in flight fails with code
`worker_exited`, `crashed` says what happened, and `restart()` starts a fresh worker.
"""

from __future__ import annotations

import collections
import itertools
import json
import sys
from typing import Any

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal

from engine.jobs import Progress

PING_EVERY_MS = 2000
HANG_AFTER_MS = 15_000  # model loading answers pings too (the reader is its own thread): this is a hang
STDERR_LINES_KEPT = 200
WORKER_EXITED = "worker_exited"


class Call(QObject):
    """One request in flight. Exactly one of `finished` or `failed` is emitted, once."""

    progress = Signal(object)  # engine.jobs.Progress
    partial = Signal(str, dict)  # kind, data
    finished = Signal(dict)  # the result's data
    failed = Signal(dict)  # {"code", "message", "hint"}

    def __init__(self, request_id: str, kind: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.id, self.kind = request_id, kind
        self.done = False
        self.last_progress: Progress | None = None


class WorkerClient(QObject):
    state_changed = Signal(str)  # "stopped", "starting", "ready", "crashed"
    crashed = Signal(str)  # what happened, in a sentence for the banner
    status_changed = Signal(dict)  # the worker's `status` result, every PING_EVERY_MS
    calls_changed = Signal()  # a call started or ended (the status bar shows the running job)
    job_progress = Signal()  # a progress event of any call arrived

    def __init__(
        self,
        args: list[str] | None = None,
        parent: QObject | None = None,
        hang_after_ms: int = HANG_AFTER_MS,
        env: dict[str, str] | None = None,
    ) -> None:
        super().__init__(parent)
        self.args = list(args or [])
        self.env = dict(env or {})  # set for the worker on top of the window's own environment
        self.hang_after_ms = hang_after_ms
        self.state = "stopped"
        self.calls: dict[str, Call] = {}
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=STDERR_LINES_KEPT)
        self._ids = itertools.count(1)
        self._buffer = b""
        self._process: QProcess | None = None
        self._stopping = False
        self._hung = False
        self._watchdog = QTimer(self)
        self._watchdog.setInterval(PING_EVERY_MS)
        self._watchdog.timeout.connect(self._ping)
        self._unanswered_ms = 0
        self._ping_call: Call | None = None

    # ----- life cycle ---------------------------------------------------------------------------------------
    def start(self) -> None:
        if self._process is not None:
            return
        process = QProcess(self)
        process.setProcessChannelMode(QProcess.ProcessChannelMode.SeparateChannels)
        process.readyReadStandardOutput.connect(self._read_stdout)
        process.readyReadStandardError.connect(self._read_stderr)
        process.finished.connect(self._finished)
        process.errorOccurred.connect(self._error)
        self._process, self._buffer, self._stopping = process, b"", False
        environment = QProcessEnvironment.systemEnvironment()
        for name, value in self.env.items():
            environment.insert(name, value)
        process.setProcessEnvironment(environment)
        self._set_state("starting")
        process.start(sys.executable, ["-m", "engine.worker", *self.args])
        hello = self.request("hello")
        hello.finished.connect(lambda _data: self._set_state("ready"))
        self._unanswered_ms = 0
        self._watchdog.start()

    def restart(self, args: list[str] | None = None) -> None:
        """A fresh worker (with other arguments, e.g. a lighter precision after running out of memory)."""
        if args is not None:
            self.args = list(args)
        self.stop()
        self.start()

    def stop(self) -> None:
        """Shut the worker down (killed if it does not exit within 3 s); calls in flight fail."""
        process = self._process
        if process is None:
            return
        self._stopping = True
        self._watchdog.stop()
        if process.state() != QProcess.ProcessState.NotRunning:
            process.write(b'{"type": "shutdown"}\n')
            process.closeWriteChannel()
            if not process.waitForFinished(3000):
                process.kill()
                process.waitForFinished(3000)
        self._forget_process("The engine was stopped.")
        self._set_state("stopped")

    @property
    def pid(self) -> int | None:
        return None if self._process is None else int(self._process.processId()) or None

    # ----- requests -----------------------------------------------------------------------------------------
    def request(self, kind: str, **fields: Any) -> Call:
        """Send a request now; its events arrive on the returned Call's signals."""
        call = Call(f"w{next(self._ids)}", kind, self)
        self.calls[call.id] = call
        line = json.dumps({"id": call.id, "type": kind, **fields}, ensure_ascii=False).encode() + b"\n"
        if self._process is None or self._process.state() == QProcess.ProcessState.NotRunning:
            QTimer.singleShot(0, lambda: self._end(call, _exited("The engine is not running.")))
        else:
            self._process.write(line)
        if kind not in ("status", "hello"):
            self.calls_changed.emit()
        return call

    def cancel(self, call: Call) -> None:
        if not call.done and self._process is not None:
            self._process.write(json.dumps({"type": "cancel", "target": call.id}).encode() + b"\n")

    def running(self) -> list[Call]:
        """Calls in flight that are jobs (not the watchdog's), oldest first."""
        return [c for c in self.calls.values() if c.kind not in ("status", "hello")]

    # ----- events -------------------------------------------------------------------------------------------
    def _read_stdout(self) -> None:
        assert self._process is not None
        self._buffer += bytes(self._process.readAllStandardOutput())
        *lines, self._buffer = self._buffer.split(b"\n")
        events = [event for event in map(self._parse, lines) if event is not None]
        # A progress line only says where a job is now, and each one shown updates the status bar and the
        # job's own page. When the window was busy and the worker was not, lines come in bursts: only the
        # newest progress of each call in a burst is shown.
        newest = {event["id"]: n for n, event in enumerate(events) if event["event"] == "progress"}
        for n, event in enumerate(events):
            if event["event"] != "progress" or newest[event["id"]] == n:
                self._dispatch(event)

    def _parse(self, line: bytes) -> dict | None:
        """A protocol event with a string `event` and a hashable `id`; anything else is noted and dropped."""
        if not line.strip():
            return None
        try:
            event = json.loads(line)
            if isinstance(event["event"], str) and isinstance(event.get("id"), (str, int, type(None))):
                return event
        except (ValueError, TypeError, KeyError):
            pass
        self.stderr_tail.append(f"[not a protocol line] {line[:200]!r}")
        return None

    def _dispatch(self, event: dict) -> None:
        call, kind = self.calls.get(event.get("id")), event["event"]
        self._unanswered_ms = 0
        if call is None:
            if kind == "error":
                self.stderr_tail.append(f"[error without a request] {event.get('message')}")
            return
        if kind == "progress":
            fields = {k: v for k, v in event.items() if k not in ("id", "event")}
            call.last_progress = Progress.from_dict(fields)
            call.progress.emit(call.last_progress)
            self.job_progress.emit()
        elif kind == "partial":
            call.partial.emit(event.get("kind", ""), event.get("data") or {})
        elif kind in ("result", "pong"):
            self._end(call, event.get("data") or {}, ok=True)
        elif kind == "error":
            self._end(call, {k: event.get(k) for k in ("code", "message", "hint")})

    def _end(self, call: Call, data: dict, ok: bool = False) -> None:
        if call.done:
            return
        call.done = True
        self.calls.pop(call.id, None)
        (call.finished if ok else call.failed).emit(data)
        if call.kind not in ("status", "hello"):
            self.calls_changed.emit()
        call.deleteLater()

    def _read_stderr(self) -> None:
        assert self._process is not None
        text = bytes(self._process.readAllStandardError()).decode("utf-8", "replace")
        self.stderr_tail.extend(line for line in text.splitlines() if line.strip())

    def _ping(self) -> None:
        if self.state not in ("ready", "starting"):
            return
        if self._ping_call is not None and not self._ping_call.done:
            self._unanswered_ms += PING_EVERY_MS
            if self._unanswered_ms >= self.hang_after_ms and self._process is not None:
                self.stderr_tail.append(f"[no answer for {self._unanswered_ms / 1000:.0f} s: killed]")
                self._hung = True
                self._process.kill()
            return
        self._ping_call = self.request("status")
        self._ping_call.finished.connect(self.status_changed.emit)

    def _error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self._crash(f"The engine could not start ({sys.executable} -m engine.worker).")

    def _finished(self, exit_code: int, exit_status: QProcess.ExitStatus) -> None:
        if self._stopping:
            return
        if self._hung:
            reason = f"The engine stopped answering for {self.hang_after_ms / 1000:g} s, so it was stopped."
        elif exit_status == QProcess.ExitStatus.CrashExit:
            reason = _crash_reason(exit_code, self.stderr_tail)
        else:
            reason = f"The engine exited unexpectedly (status {exit_code})."
        self._crash(reason)

    def _crash(self, reason: str) -> None:
        self._watchdog.stop()
        self._forget_process(reason)
        self._set_state("crashed")
        self.crashed.emit(reason)

    def _forget_process(self, reason: str) -> None:
        for call in list(self.calls.values()):
            self._end(call, _exited(reason))
        if self._process is not None:
            self._process.deleteLater()
        self._process, self._hung, self._ping_call = None, False, None

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.state_changed.emit(state)


def error_line(error: dict) -> str:
    """A failed call's error as one line: what went wrong, then what to do when the hint adds it."""
    message = (error.get("message") or "The engine failed.").strip()
    hint = (error.get("hint") or "").strip()
    return f"{message} {hint}" if hint and hint not in message else message


def _exited(reason: str) -> dict[str, Any]:
    return {"code": WORKER_EXITED, "message": reason, "hint": "Restart the engine and try again."}


def _crash_reason(signal_number: int, stderr_tail: collections.deque[str]) -> str:
    """A crash's likely cause: the out-of-memory killer's SIGKILL, or a fault in native code."""
    text = "\n".join(stderr_tail).lower()
    if "out of memory" in text or "memoryerror" in text:
        return "The engine ran out of memory and stopped."
    if signal_number == 9:
        return "The engine was killed (signal 9), often by the system when memory runs out."
    return f"The engine crashed (signal {signal_number}, a fault in native code)."
