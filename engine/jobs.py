"""The one contract of every long engine call: progress, results handed out as they come, cancellation.

    job = Job(on_progress=show, on_partial=handle)   # what the caller passes
    answer = chat.ask("What happens?", job=job)      # the call reports through it and checks it
    job.cancel()                                     # from any thread: the call raises `Cancelled`
                                                     # at its next progress step

Every long call (model load and download, opening a video, ask, ground, tracking, clip and mask
exports) takes `job: Job | None = None` and does three things with it:
- `job.progress(stage, done, total, message)` after each unit of work: one `Progress` record reaches
  `on_progress`, then the job checks whether it was cancelled;
- `job.partial(kind, data)` for results that arrive bit by bit (answer text pieces, relevance-curve
  windows, tracked frames); `data` is plain JSON-ready data;
- `job.check()` between steps that report nothing.
A cancelled call ends one way, by raising `Cancelled`; whatever it handed out or stored before stays
valid (masks already tracked, clips already written), and nothing half-written is left.

Calls inside calls share their caller's job; `job.within(...)` maps a sub-step's progress onto the
caller's stage (clip k of n onto the whole export), `job.quiet()` keeps only its cancellation.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any


class Cancelled(Exception):
    """A job stopped because it was cancelled; results handed out before the stop stay valid."""


@dataclass(frozen=True)
class Progress:
    """How far a job is in its current stage."""

    stage: str  # what is being done: "download", "load", "decode", "encode", "answer", "scan", ...
    done: float  # units of the stage done so far (frames, windows, bytes, ...)
    total: float | None  # units in the stage, None when not known
    message: str = ""  # a short line for a status bar, e.g. "clip 2 of 5"
    time_s: float | None = None  # where in the video the work is (a tracking front), when that applies

    @property
    def fraction(self) -> float | None:
        """done / total in [0, 1], or None when the total is not known."""
        if not self.total:
            return None
        return min(1.0, max(0.0, self.done / self.total))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Progress:
        time_s = data.get("time_s")
        return cls(
            str(data["stage"]),
            data["done"],
            data["total"],
            str(data.get("message", "")),
            None if time_s is None else float(time_s),
        )


ProgressSink = Callable[[Progress], None]
PartialSink = Callable[[str, dict[str, Any]], None]


class Job:
    """Progress, partial results and cancellation of one long call. Thread-safe to cancel."""

    def __init__(
        self,
        on_progress: ProgressSink | None = None,
        on_partial: PartialSink | None = None,
        cancel_event: threading.Event | None = None,
    ) -> None:
        self._on_progress = on_progress
        self._on_partial = on_partial
        self.event = cancel_event or threading.Event()  # set = cancelled; decoders watch it directly

    def cancel(self) -> None:
        self.event.set()

    @property
    def cancelled(self) -> bool:
        return self.event.is_set()

    def check(self) -> None:
        """Raise `Cancelled` if the job was cancelled."""
        if self.event.is_set():
            raise Cancelled("cancelled")

    def progress(
        self,
        stage: str,
        done: float,
        total: float | None = None,
        message: str = "",
        time_s: float | None = None,
    ) -> None:
        """Report one step of work, then stop here if the job was cancelled."""
        self.report(Progress(stage, done, total, message, time_s))

    def report(self, progress: Progress) -> None:
        """Pass on a progress record made elsewhere (a sub-step's), then stop here if cancelled."""
        if self._on_progress is not None:
            self._on_progress(progress)
        self.check()

    def partial(self, kind: str, data: dict[str, Any]) -> None:
        """Hand out a piece of the result as soon as it exists."""
        if self._on_partial is not None:
            self._on_partial(kind, data)

    def within(
        self, stage: str, offset: float, total: float | None, message: str = "", *, partials: bool = True
    ) -> Job:
        """A job for a sub-step whose progress counts from `offset` in this job's `stage` of `total`.

        Shares this job's cancellation, and its partial results unless `partials=False` (a sub-step
        whose pieces are not part of the caller's result). The sub-step's own stage name and total are
        replaced by the caller's, its message kept when the caller gives none.
        """

        def forward(p: Progress) -> None:
            if self._on_progress is not None:
                self._on_progress(Progress(stage, offset + p.done, total, message or p.message, p.time_s))

        return Job(forward, self._on_partial if partials else None, self.event)

    def quiet(self) -> Job:
        """A job for a sub-step that reports nothing but stops when this one is cancelled."""
        return Job(None, None, self.event)


def job_or_new(job: Job | None) -> Job:
    """The caller's job, or a silent one that is never cancelled."""
    return job if job is not None else Job()
