"""File ▸ Export…: clips of the moments and their sidecars, tracked objects as files, a video with the masks
burned in; checked before anything is written, run by the worker, summed up at the end.

    dialog = ExportDialog(window.worker, "video-1", info, spans, store=QSettings(),
                          tracker="tracker-1", objects={1: "boat"})
    dialog.show()
    tracking.with_tracker(dialog.set_tracker)   # objects given with tracker=None: the tracker comes later

The dialog draws an `ExportController`'s state (app/export_controller.py) and turns its widgets into an
`ExportChoice`. Existing files are listed and replaced only after "Replace"; the destination folder is
remembered in QSettings (`export/folder`). Closing the dialog hides it: a running export goes on (the
status bar shows it, with its Cancel), and File ▸ Export… shows the dialog again while it runs.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from PySide6.QtCore import QSettings, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.export_controller import STEP_NAMES, ExportChoice, ExportController
from app.progress_bar import ProgressBar
from app.worker_client import WorkerClient
from engine.export import X264_PRESETS, EncodeSettings
from engine.spans import Span
from engine.timecode import format_timecode
from engine.video import VideoInfo

FOLDER_KEY = "export/folder"
SIDECARS = (("srt", "SRT"), ("vtt", "WebVTT"), ("csv", "CSV"), ("json", "JSON"))
TRACK_CHOICES = (
    ("png", "PNG masks, one folder per object"),
    ("palette", "Palette PNG per frame (pixel = object id)"),
    ("coco", "COCO JSON (RLE masks)"),
    ("mot", "MOT CSV (boxes)"),
    ("video", "Video with masks burned in, with audio"),
)
SHOWN_EXISTING = 12  # existing files listed by name before "and N more"


class ExportDialog(QDialog):
    def __init__(
        self,
        worker: WorkerClient,
        video: str | None,
        info: VideoInfo | None,
        spans: Sequence[Span],
        store: QSettings,
        tracker: str | None = None,
        objects: Mapping[int, str] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export")
        self.setModal(False)
        self.info, self.spans, self.store = info, list(spans), store
        self.objects = dict(objects or {})
        self.preparing = bool(self.objects) and tracker is None  # until `set_tracker`
        self.controller = ExportController(worker, video, tracker if self.objects else None, self)
        self.open_url: Callable[[QUrl], object] = QDesktopServices.openUrl  # tests put a recorder here
        self._build()
        self.controller.changed.connect(self._show_state)
        self.controller.progressed.connect(self._show_progress)
        self._options_changed()
        self._show_state(self.controller.state)

    # ----- building -----------------------------------------------------------------------------------------
    def _build(self) -> None:
        has_spans, has_tracks = bool(self.spans), bool(self.objects)
        self.about = QLabel(self._about_text())
        self.about.setWordWrap(True)

        self.clips_box = QGroupBox("Clips of the moments")
        self.clips = QCheckBox("A clip per moment (MP4)")
        self.clips.setChecked(has_spans)
        self.pad = QDoubleSpinBox(suffix=" s", decimals=2, maximum=3600.0, singleStep=0.5)
        self.smart_cut = QCheckBox("Smart cut: re-encode only the ends (off: re-encode whole clips)")
        default = EncodeSettings()
        self.smart_cut.setChecked(default.smart_cut)
        self.crf = QSpinBox(minimum=0, maximum=51, value=default.crf)
        self.preset = QComboBox()
        self.preset.addItems(list(X264_PRESETS))
        self.preset.setCurrentText(default.preset)
        self.burn_in = QCheckBox("Burn the tracked masks into the clips")
        self.burn_in.setEnabled(has_tracks)
        encode = QHBoxLayout()
        for label, widget in (("quality (CRF)", self.crf), ("speed", self.preset)):
            encode.addWidget(QLabel(label))
            encode.addWidget(widget)
        encode.addStretch(1)
        form = QFormLayout(self.clips_box)
        form.addRow(self.clips)
        form.addRow("Padding", self.pad)
        form.addRow(self.smart_cut)
        form.addRow("Re-encoding", encode)
        form.addRow(self.burn_in)
        self.sidecars = {kind: QCheckBox(label) for kind, label in SIDECARS}
        row = QHBoxLayout()
        row.addWidget(QLabel("Sidecars listing the moments:"))
        for box in self.sidecars.values():
            box.setChecked(has_spans)
            row.addWidget(box)
        row.addStretch(1)
        form.addRow(row)
        self.clips_box.setEnabled(has_spans)

        self.tracks_box = QGroupBox(self._tracks_title())
        column = QVBoxLayout(self.tracks_box)
        self.track_formats = {kind: QCheckBox(label) for kind, label in TRACK_CHOICES}
        for box in self.track_formats.values():
            box.setChecked(has_tracks)
            column.addWidget(box)
        self.track_range = QComboBox()
        self.track_range.addItem("the whole video", None)
        for number, span in enumerate(self.spans, start=1):
            text = f"moment {number}: {format_timecode(span.start_s)} – {format_timecode(span.end_s)}"
            self.track_range.addItem(text, (span.start_s, span.end_s))
        of = QHBoxLayout()
        of.addSpacing(24)
        of.addWidget(QLabel("of"))
        of.addWidget(self.track_range, 1)
        column.addLayout(of)
        self.tracks_box.setEnabled(has_tracks)

        self.folder = QLineEdit(self._remembered_folder())
        self.browse = QPushButton("Choose…")
        self.browse.clicked.connect(self._choose_folder)
        destination = QHBoxLayout()
        destination.addWidget(QLabel("Save into"))
        destination.addWidget(self.folder, 1)
        destination.addWidget(self.browse)

        self.status = QLabel()
        self.status.setWordWrap(True)
        self.bar = ProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(False)
        self.files = QListWidget()
        self.files.setMaximumHeight(150)
        self.replace = QPushButton("Replace")
        self.replace.clicked.connect(self.controller.replace)
        self.keep = QPushButton("Cancel")
        self.keep.clicked.connect(self.controller.keep)
        self.export = QPushButton("Export")
        self.export.setDefault(True)
        self.export.clicked.connect(self.start)
        self.cancel = QPushButton("Cancel export")
        self.cancel.clicked.connect(self.controller.cancel)
        self.open_folder = QPushButton("Open folder")
        self.open_folder.clicked.connect(lambda: self.open_url(self.folder_url()))
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.close)
        buttons = QHBoxLayout()
        for button in (self.replace, self.keep):
            buttons.addWidget(button)
        buttons.addStretch(1)
        for button in (self.open_folder, self.cancel, self.export, self.close_button):
            buttons.addWidget(button)

        layout = QVBoxLayout(self)
        for widget in (self.about, self.clips_box, self.tracks_box):
            layout.addWidget(widget)
        layout.addLayout(destination)
        for widget in (self.status, self.bar, self.files):
            layout.addWidget(widget)
        layout.addStretch(1)  # room left over by a hidden list goes here, not between the groups
        layout.addLayout(buttons)
        for box in (self.clips, self.burn_in, *self.sidecars.values(), *self.track_formats.values()):
            box.toggled.connect(self._options_changed)
        self.folder.textChanged.connect(self._options_changed)
        self.resize(640, 0)

    def _about_text(self) -> str:
        name = self.info.path.name if self.info is not None else "no video"
        moments = f"{len(self.spans)} moment{'s' * (len(self.spans) != 1)}" if self.spans else "no moments"
        objects = f"{len(self.objects)} tracked object{'s' * (len(self.objects) != 1)}"
        return f"<b>{html.escape(name)}</b>: {moments}, {objects if self.objects else 'no tracked objects'}."

    def _tracks_title(self) -> str:
        if not self.objects:
            return "Tracked objects (none: track an object first)"
        names = ", ".join(f"{obj_id} {name}".strip() for obj_id, name in sorted(self.objects.items()))
        return f"Tracked objects ({names}){': preparing them for export…' if self.preparing else ''}"

    def set_tracker(self, handle: str | None) -> None:
        """The worker's tracker of the objects, once the window has it (a reopened session's is rebuilt
        first); None: it could not be, and the objects are not offered (the window said why)."""
        self.preparing = False
        if handle is None:
            self.objects = {}
        self.controller.tracker = handle if self.objects else None
        self.about.setText(self._about_text())
        self.tracks_box.setTitle(self._tracks_title())
        for box in self.track_formats.values():
            box.setChecked(box.isChecked() and bool(self.objects))
        self._options_changed()

    def _remembered_folder(self) -> str:
        saved = self.store.value(FOLDER_KEY, "")
        if saved:
            return str(saved)
        return str(self.info.path.parent / f"{self.info.path.stem} export") if self.info is not None else ""

    def _choose_folder(self) -> None:
        name = QFileDialog.getExistingDirectory(self, "Export into", self.folder.text())
        if name:
            self.folder.setText(name)

    # ----- choosing -----------------------------------------------------------------------------------------
    def choice(self) -> ExportChoice:
        """The export the widgets describe."""
        formats = tuple(kind for kind, box in self.track_formats.items() if box.isChecked())
        return ExportChoice(
            out_dir=Path(self.folder.text().strip()).expanduser(),
            spans=tuple(self.spans),
            clips=self.clips.isChecked(),
            sidecars=tuple(kind for kind, box in self.sidecars.items() if box.isChecked()),
            pad_s=self.pad.value(),
            smart_cut=self.smart_cut.isChecked(),
            crf=self.crf.value(),
            preset=self.preset.currentText(),
            burn_in=self.burn_in.isChecked(),
            track_formats=formats if self.objects else (),
            track_range=self.track_range.currentData(),
        )

    def nothing_to_export(self) -> str:
        """Why Export cannot start now, and what to do; "" when it can."""
        if self.info is None:
            return "Nothing to export: open a video first (File ▸ Open Video…)."
        if not self.spans and not self.objects:
            return (
                "Nothing to export: this video has no moments and no tracked objects yet. Find moments "
                "(Ctrl+F) or track an object (T), then export them here."
            )
        if not self.folder.text().strip():
            return "Choose a folder to save into."
        ticked = [self.burn_in, *self.track_formats.values()]
        if self.preparing and any(box.isChecked() for box in ticked):
            return "Preparing the tracked objects for export (their clicks go to SAM2 again)…"
        if not self.choice().requests(self.controller.video, self.controller.tracker):
            return "Nothing is ticked: choose clips, sidecars or a format for the tracked objects."
        return ""

    def start(self) -> None:
        if self.nothing_to_export() or self.controller.busy:
            return
        choice = self.choice()
        self.store.setValue(FOLDER_KEY, str(choice.out_dir))
        self.controller.check(choice)

    def folder_url(self) -> QUrl:
        """What "Open folder" opens: the destination folder."""
        return QUrl.fromLocalFile(str(self.choice().out_dir))

    def _options_changed(self) -> None:
        self.smart_cut.setEnabled(self.clips.isChecked())
        self.burn_in.setEnabled(bool(self.objects) and self.clips.isChecked())
        if not self.controller.busy:
            self._show_state(self.controller.state)

    # ----- drawing ------------------------------------------------------------------------------------------
    def _show_state(self, state: str) -> None:
        c = self.controller
        busy, asking = c.busy, state == "confirm"
        why = self.nothing_to_export()
        editable = not busy and not asking  # the options stay as they were while they are being used
        self.clips_box.setEnabled(bool(self.spans) and editable)
        self.tracks_box.setEnabled(bool(self.objects) and editable and not self.preparing)
        self.folder.setEnabled(editable)
        self.browse.setEnabled(editable)
        self.export.setVisible(not busy and not asking)
        self.export.setEnabled(not why)
        self.export.setText("Export again" if state in ("done", "cancelled", "failed") else "Export")
        self.cancel.setVisible(busy)
        self.replace.setVisible(asking)
        self.keep.setVisible(asking)
        self.open_folder.setVisible(state in ("done", "cancelled"))
        self.bar.setVisible(state == "running")
        self.files.setVisible(state in ("confirm", "done", "cancelled"))
        self.files.clear()
        if state == "idle":
            self._say(why or "Ready to export.", "warning" if why else "plain")
        elif state == "checking":
            self._say("Checking the folder and the files the export will write…")
        elif state == "confirm":
            count = len(c.existing)
            self._say(
                f"{count} file{'s' * (count != 1)} to be written already exist{'s' * (count == 1)} in "
                f"{html.escape(str(c.choice.out_dir))}. Replace {'them' if count != 1 else 'it'}?",
                "warning",
            )
            self._list([p.name if p.parent == c.choice.out_dir else str(p) for p in c.existing])
        elif state == "running":
            self._show_progress()
        elif state == "done":
            total = sum(w.bytes for w in c.written)
            files = sum(w.files for w in c.written)
            self._say(
                f"Done: {files} file{'s' * (files != 1)}, {_size(total)}, in {c.elapsed_s:.1f} s, "
                f"in {html.escape(str(c.choice.out_dir))}.",
                "good",
            )
            self._list([_written_line(w) for w in c.written])
        elif state == "cancelled":
            kept = len(c.kept)
            sidecars = " Sidecars are written last, once every clip exists." if c.choice.sidecars else ""
            self._say(
                f"Cancelled. {kept} finished output{'s' * (kept != 1)} kept (listed below); the file that "
                f"was being written was removed, so nothing half-written is left.{sidecars}",
                "warning",
            )
            self._list([p.name for p in c.kept] or ["(nothing was finished)"])
        elif state == "failed":
            self._say(html.escape(c.error), "error")

    def _show_progress(self) -> None:
        c = self.controller
        step = f"Step {c.step} of {c.steps}: " if c.steps > 1 else ""
        progress = c.progress
        detail = ""
        if progress is not None and progress.total:
            detail = (
                f" — {progress.message or progress.stage}, {progress.done:g} of {progress.total:g} frames"
            )
        self._say(f"Exporting {step}{STEP_NAMES.get(c.step_kind, c.step_kind)}{detail}…")
        fraction = None if progress is None else progress.fraction
        self.bar.setValue(0 if fraction is None else round(fraction * 1000))

    def _say(self, text: str, tone: str = "plain") -> None:
        colour = {"plain": "", "good": "#7bc67e", "warning": "#e0b050", "error": "#ef6a6a"}[tone]
        self.status.setText(f'<span style="color:{colour}">{text}</span>' if colour else text)

    def _list(self, lines: list[str]) -> None:
        shown = lines[:SHOWN_EXISTING] + (
            [f"… and {len(lines) - SHOWN_EXISTING} more"] if len(lines) > SHOWN_EXISTING else []
        )
        self.files.addItems(shown)
        rows = self.files.sizeHintForRow(0) * len(shown) + 2 * self.files.frameWidth()
        self.files.setMinimumHeight(min(rows, self.files.maximumHeight()))  # the dialog grows to show them


def _written_line(w) -> str:
    count = f", {w.files} files" if w.path.is_dir() else ""
    return f"{w.path.name}{'/' if w.path.is_dir() else ''}  ({_size(w.bytes)}{count})"


def _size(count: int) -> str:
    for unit, scale in (("GB", 2**30), ("MB", 2**20), ("kB", 2**10)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} bytes"
