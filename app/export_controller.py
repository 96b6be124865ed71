"""The state of one export: what to write (an `ExportChoice`), checking it, running it through the worker,
and what came of it. The export dialog draws this state; nothing here blocks.

    controller = ExportController(window.worker, video="video-1", tracker="tracker-1")
    controller.changed.connect(dialog.show_state)
    controller.check(choice)      # plans first: existing files -> state "confirm", else it starts
    controller.replace()          # the user allowed replacing them
    controller.cancel()           # the worker stops; finished files stay, no half-written one

States: "idle", "checking", "confirm" (`existing` lists the files that would be replaced), "running"
(`step`, `steps`, `progress`), "done" (`written`, `elapsed_s`), "cancelled" (`kept`), "failed" (`error`).
Each export is one or two worker requests, run one after the other: `export_spans` (clips of the spans,
their sidecars) and `export_tracks` (the tracker's masks as files, and a video with them burned in).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from app.worker_client import Call, WorkerClient, error_line
from engine.export import EncodeSettings
from engine.jobs import Progress
from engine.spans import Span

TRACK_FORMATS = ("png", "palette", "coco", "mot", "video")  # the order the dialog offers them in
STEP_NAMES = {"export_spans": "clips and sidecars", "export_tracks": "tracked objects"}


@dataclass(frozen=True)
class ExportChoice:
    """Everything the user chose in the dialog."""

    out_dir: Path
    spans: tuple[Span, ...] = ()
    clips: bool = True
    sidecars: tuple[str, ...] = ("srt", "vtt", "csv", "json")
    pad_s: float = 0.0
    smart_cut: bool = True
    crf: int = EncodeSettings.crf
    preset: str = EncodeSettings.preset
    burn_in: bool = False  # masks drawn into the clips of the spans (needs a tracker)
    track_formats: tuple[str, ...] = ()  # some of TRACK_FORMATS (needs a tracker)
    track_range: tuple[float, float] | None = None  # of the burned-in video; None: the whole video

    def requests(self, video: str | None, tracker: str | None) -> list[tuple[str, dict[str, Any]]]:
        """The worker requests (type, fields) that write this choice, in order; empty: nothing to do."""
        settings = {"crf": self.crf, "preset": self.preset, "smart_cut": self.smart_cut}
        steps: list[tuple[str, dict[str, Any]]] = []
        if video is not None and self.spans and (self.clips or self.sidecars):
            fields: dict[str, Any] = {
                "video": video,
                "spans": [s.to_dict() for s in self.spans],
                "out_dir": str(self.out_dir),
                "pad_s": self.pad_s,
                "clips": self.clips,
                "sidecars": list(self.sidecars),
                "settings": settings,
            }
            if self.burn_in and self.clips and tracker is not None:
                fields["tracker"] = tracker
            steps.append(("export_spans", fields))
        if tracker is not None and self.track_formats:
            fields = {"tracker": tracker, "out_dir": str(self.out_dir), "formats": list(self.track_formats)}
            fields["settings"] = settings
            if self.track_range is not None and "video" in self.track_formats:
                fields["start_s"], fields["end_s"] = self.track_range
            steps.append(("export_tracks", fields))
        return steps


@dataclass(frozen=True)
class Written:
    """One output of a finished export: a file, or a folder of PNGs (`files` > 1)."""

    path: Path
    bytes: int
    files: int


@dataclass
class _Run:
    steps: list[tuple[str, dict[str, Any]]]
    outputs: list[Path] = field(default_factory=list)
    existing: list[Path] = field(default_factory=list)
    before: dict[Path, int] = field(default_factory=dict)  # mtime_ns of the outputs there at the start
    started: float = 0.0


class ExportController(QObject):
    changed = Signal(str)  # the new state
    progressed = Signal()  # a progress step of the running export (`progress`)

    def __init__(
        self,
        worker: WorkerClient,
        video: str | None,
        tracker: str | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.worker, self.video, self.tracker = worker, video, tracker
        self.state = "idle"
        self.choice: ExportChoice | None = None
        self.existing: list[Path] = []
        self.step, self.steps = 0, 0
        self.progress: Progress | None = None
        self.written: list[Written] = []
        self.kept: list[Path] = []
        self.elapsed_s = 0.0
        self.error = ""
        self._run: _Run | None = None
        self._call: Call | None = None

    # ----- actions ------------------------------------------------------------------------------------------
    def check(self, choice: ExportChoice) -> None:
        """Ask the worker what the export would write; start it unless that replaces files."""
        steps = choice.requests(self.video, self.tracker)
        if not steps:
            return self._fail("Nothing is chosen to export: tick clips, sidecars or a track format.")
        self.choice, self._run = choice, _Run(steps)
        self._set("checking")
        self._plan_next(0)

    def replace(self) -> None:
        """The user allowed replacing the existing files: start, overwriting them."""
        if self.state == "confirm":
            self._start(overwrite=True)

    def keep(self) -> None:
        """The user did not allow replacing: nothing is written."""
        if self.state == "confirm":
            self._set("idle")

    def cancel(self) -> None:
        if self._call is not None and not self._call.done:
            self.worker.cancel(self._call)

    @property
    def step_kind(self) -> str:
        """The request type of the step running now ("export_spans", "export_tracks"), or ""."""
        run = self._run
        return run.steps[self.step - 1][0] if run is not None and self.step else ""

    @property
    def busy(self) -> bool:
        return self.state in ("checking", "running")

    # ----- checking -----------------------------------------------------------------------------------------
    def _plan_next(self, index: int) -> None:
        run = self._run
        assert run is not None
        if index == len(run.steps):
            self.existing = run.existing
            return self._set("confirm") if run.existing else self._start(overwrite=False)
        kind, fields = run.steps[index]
        call = self._send(kind, {**fields, "plan": True})

        def planned(data: dict) -> None:
            run.outputs += [Path(p) for p in data["outputs"]]
            run.existing += [Path(p) for p in data["existing"]]
            self._plan_next(index + 1)

        call.finished.connect(planned)

    # ----- running ------------------------------------------------------------------------------------------
    def _start(self, overwrite: bool) -> None:
        run = self._run
        assert run is not None
        run.before = {p: _mtime_ns(p) for p in run.outputs if p.exists()}
        run.started = time.monotonic()
        self.steps, self.progress = len(run.steps), None
        self._run_step(0, overwrite)

    def _run_step(self, index: int, overwrite: bool) -> None:
        run = self._run
        assert run is not None
        if index == len(run.steps):
            self.elapsed_s = time.monotonic() - run.started
            self.written = [_measure(p) for p in run.outputs if p.exists()]
            return self._set("done")
        self.step = index + 1
        kind, fields = run.steps[index]
        call = self._send(kind, {**fields, "overwrite": overwrite})
        call.progress.connect(self._progressed)
        call.finished.connect(lambda _data: self._run_step(index + 1, overwrite))
        self._set("running")

    def _progressed(self, progress: Progress) -> None:
        self.progress = progress
        self.progressed.emit()

    def _send(self, kind: str, fields: dict[str, Any]) -> Call:
        call = self.worker.request(kind, **fields)
        call.failed.connect(self._failed)
        self._call = call
        return call

    def _failed(self, error: dict) -> None:
        run = self._run
        if error.get("code") == "cancelled" and run is not None:
            # The engine keeps what it finished and removes the file it was writing: list what it wrote.
            self.kept = [p for p in run.outputs if p.exists() and run.before.get(p) != _mtime_ns(p)]
            return self._set("cancelled")
        self._fail(error_line(error))

    def _fail(self, line: str) -> None:
        self.error = line
        self._set("failed")

    def _set(self, state: str) -> None:
        self.state = state
        self.changed.emit(state)


def _mtime_ns(path: Path) -> int:
    return os.stat(path).st_mtime_ns


def _measure(path: Path) -> Written:
    if not path.is_dir():
        return Written(path, path.stat().st_size, 1)
    sizes = [(Path(root) / name).stat().st_size for root, _, names in os.walk(path) for name in names]
    return Written(path, sum(sizes), len(sizes))
