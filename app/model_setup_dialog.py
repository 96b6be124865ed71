"""The model setup dialog: what the model is, its size, where it goes; download it (progress, cancel,
resume) or choose a folder that holds it; offline, how to bring it over. State lives in `ModelSetup`."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.model_setup import ModelSetup
from app.progress_bar import ProgressBar
from app.settings_dialog import choose_folder

TITLES = {"internvideo": "Set up the video assistant", "sam2": "Set up object tracking"}
STYLE = """
QLabel#title { font-size: 15px; font-weight: bold; }
QLabel#error { color: #f2b8b5; background: #3b2323; border: 1px solid #6b3434; border-radius: 4px;
               padding: 6px 8px; }
QLabel#offline { background: #2b3240; border: 1px solid #3d4a60; border-radius: 4px; padding: 6px 8px; }
QLabel[hint="true"] { color: palette(placeholder-text); }
"""


class ModelSetupDialog(QDialog):
    def __init__(
        self,
        setup: ModelSetup,
        parent: QWidget | None = None,
        folder_chooser: Callable[[QWidget, str, str], str] = choose_folder,
    ) -> None:
        super().__init__(parent)
        self.setup, self._choose = setup, folder_chooser
        self.setWindowTitle(TITLES[setup.which])
        self.setStyleSheet(STYLE)
        self.setMinimumWidth(560)
        self.title = _label("", "title")
        self.summary = _label("")
        self.size = _label("", hint=True)
        self.where = _label("", hint=True)
        self.where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.state = _label("")
        self.progress = ProgressBar()
        self.progress.setTextVisible(True)
        self.error = _label("", "error")
        self.offline = _label("", "offline")
        self.offline.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.download_button = QPushButton("Download")
        self.cancel_button = QPushButton("Stop download")
        self.folder_button = QPushButton("Use a folder…")
        self.unverified_button = QPushButton("Use it without checksums")
        self.download_button.clicked.connect(setup.download)
        self.cancel_button.clicked.connect(setup.cancel)
        self.folder_button.clicked.connect(self._pick_folder)
        self.unverified_button.clicked.connect(setup.use_unverified)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)

        actions = QHBoxLayout()
        for button in (self.download_button, self.cancel_button, self.folder_button, self.unverified_button):
            actions.addWidget(button)
        actions.addStretch(1)
        column = QVBoxLayout(self)
        column.setSpacing(8)
        for widget in (self.title, self.summary, self.size, self.where, self.state, self.progress):
            column.addWidget(widget)
        column.addWidget(self.error)
        column.addWidget(self.offline)
        column.addLayout(actions)
        column.addSpacing(4)
        column.addWidget(close)
        setup.changed.connect(self.redraw)
        setup.folder_chosen.connect(lambda which, folder: self.accept())
        self.redraw()

    def redraw(self) -> None:
        setup, step, model = self.setup, self.setup.step, self.setup.model
        self.title.setText(model.get("summary", "").split(":")[0] or TITLES[setup.which])
        what = model.get("summary", "").split(": ", 1)[-1]
        self.summary.setText(what[:1].upper() + what[1:])
        size = model.get("size_bytes")
        self.size.setText(f"About {_amount(size)} to download." if size else "")
        self.where.setText(f"It goes to {setup.target}" if model else "")
        busy = step.state in ("downloading", "verifying")
        self.state.setText(_state_line(setup))
        self.progress.setVisible(busy)
        if busy:
            self._show_progress()
        self.error.setText(step.error)
        self.error.setVisible(bool(step.error))
        self.offline.setText(_offline_help(setup))
        self.offline.setVisible(setup.offline and step.state != "ready")
        pinned = model.get("revision") is not None
        can_fetch = step.state in ("missing", "incomplete") and not setup.offline and pinned
        self.download_button.setText("Resume download" if step.state == "incomplete" else "Download")
        self.download_button.setVisible(step.state in ("missing", "incomplete"))
        self.download_button.setEnabled(can_fetch)
        self.cancel_button.setVisible(step.state == "downloading")
        self.folder_button.setEnabled(not busy and step.state != "loading")
        self.unverified_button.setVisible(bool(step.unverifiable_folder))

    def _show_progress(self) -> None:
        progress = self.setup.step.progress
        if progress is None or not progress.total:
            self.progress.setRange(0, 0)  # busy, no total yet
            self.progress.setFormat("starting…")
            return
        self.progress.setRange(0, 1000)
        self.progress.setValue(round(1000 * (progress.fraction or 0.0)))
        verb = "checked" if progress.stage == "verify" else "downloaded"
        self.progress.setFormat(f"{_amount(progress.done)} of {_amount(progress.total)} {verb}")

    def _pick_folder(self) -> None:
        folder = self._choose(self, "The folder that holds the model's files", "")
        if folder:
            self.setup.use_folder(folder)


def _state_line(setup: ModelSetup) -> str:
    step, copy = setup.step, setup.model.get("copy") or {}
    progress = step.progress
    missing = f"{len(copy.get('missing', []))} of {copy.get('files')}"
    file = f" ({progress.message})" if progress is not None and progress.message else ""
    return {
        "loading": "Looking at what is on this computer…",
        "missing": "Not on this computer yet.",
        "incomplete": f"Partly downloaded: {missing} files missing.",
        "ready": f"On this computer{', verified' if copy.get('verified') else ''}: {copy.get('path', '')}",
        "downloading": f"Downloading{file}…",
        "verifying": f"Checking every file against the published checksums{file}…",
    }[step.state]


def _offline_help(setup: ModelSetup) -> str:
    name, cache = setup.name, setup.listing.get("cache", "the Hugging Face cache")
    return (
        "This computer is offline (HF_HUB_OFFLINE is set). To bring the model over:\n"
        f"1. On a computer with network access: scenescope models download {name}\n"
        f"2. Copy its models--… folder (two levels above what “scenescope models path {name}” prints) "
        f"into {cache} here, or anywhere and choose its snapshots/COMMIT folder with Use a folder….\n"
        "Either way every file is checked against the checksums the Hub published."
    )


def _amount(size: float) -> str:
    return f"{size / 1e9:.2f} GB" if size >= 1e9 else f"{size / 1e6:.1f} MB"


def _label(text: str, name: str = "", hint: bool = False) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    if name:
        label.setObjectName(name)
    if hint:
        label.setProperty("hint", True)
    return label
