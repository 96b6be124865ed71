"""A non-modal strip across the top of the window: what went wrong or needs a decision, and what to do.

Shown when the engine crashes, hangs or runs out of memory (Restart, Restart with lighter settings), when
a request fails in a way the user should see, or to offer restoring a session after a crash. The window
stays usable underneath; the banner never blocks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

COLOURS = {  # background, border, text
    "error": ("#5c1f1f", "#8a3030", "#f3dede"),
    "warning": ("#4d3d12", "#7a6320", "#f5ecd2"),
    "info": ("#1f3a5c", "#30598a", "#dde8f5"),
}


class Banner(QFrame):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(12, 6, 8, 6)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._layout.addWidget(self.label, 1)
        self.buttons: list[QPushButton] = []
        self.keep = False
        self.hide()

    def show_message(
        self,
        text: str,
        kind: str = "error",
        actions: Sequence[tuple[str, Callable[[], None]]] = (),
        keep: bool = False,
    ) -> None:
        """Show `text` with a button per (label, callback) and Dismiss; a button also hides the banner.
        `keep`: the message stays when another video opens (an engine crash, a session to restore); the
        others are about the video that was open and go with it (`video_closed`)."""
        self.keep = keep
        background, border, text_colour = COLOURS[kind]
        self.setStyleSheet(
            f"QFrame#banner {{ background: {background}; border-bottom: 1px solid {border}; }}"
            f"QLabel {{ color: {text_colour}; }}"
        )
        self.label.setText(text)
        for button in self.buttons:
            button.deleteLater()
        self.buttons = []
        for label, callback in [*actions, ("Dismiss", lambda: None)]:
            button = QPushButton(label)
            button.setCursor(Qt.CursorShape.PointingHandCursor)
            button.clicked.connect(self.hide)
            button.clicked.connect(callback)
            self._layout.addWidget(button)
            self.buttons.append(button)
        self.show()

    def video_closed(self) -> None:
        if not self.keep:
            self.hide()

    def button(self, label: str) -> QPushButton:
        return next(b for b in self.buttons if b.text() == label)
