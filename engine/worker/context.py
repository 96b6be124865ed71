"""What a request handler is given: its arguments, the worker's state, and its job."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from engine.jobs import Job
from engine.worker.protocol import Args
from engine.worker.state import Handles, Models, OpenVideo


@dataclass
class State:
    handles: Handles
    models: Models
    running: Callable[[], list[dict[str, str]]]  # the jobs now running: [{"id", "type"}]


@dataclass
class Context:
    args: Args
    state: State
    job: Job  # progress -> progress events, partial -> partial events, cancelled by a cancel request

    @property
    def handles(self) -> Handles:
        return self.state.handles

    def video(self, field: str = "video") -> OpenVideo:
        return self.handles.get("video", self.args.text(field))
