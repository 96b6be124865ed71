"""A non-modal strip across the top of the window: what went wrong with the engine, and what to do.

Shown when the worker crashes, hangs or runs out of memory (with Restart, and after an out-of-memory
error Restart with lighter settings), or when a request fails in a way the user should see. The window
stays usable underneath; the banner never blocks.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

COLOURS = {  # background, border, text
    "error": ("#5c1f1f", "#8a3030", "#f3dede"),
    "warning": ("#4d3d12", "#7a6320", "#f5ecd2"),
    "info": ("#1f3a5c", "#30598a", "#dde8f5"),
}


class Banner(QFrame):
    restart_requested = Signal(bool)  # True: with lighter settings

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 6, 8, 6)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.label, 1)
        self.restart = QPushButton("Restart engine")
        self.lighter = QPushButton("Restart with lighter settings")
        self.close_button = QPushButton("Dismiss")
        for button in (self.restart, self.lighter, self.close_button):
            button.setCursor(Qt.CursorShape.PointingHandCursor)
            layout.addWidget(button)
        self.restart.clicked.connect(lambda: self.restart_requested.emit(False))
        self.lighter.clicked.connect(lambda: self.restart_requested.emit(True))
        self.close_button.clicked.connect(self.hide)
        self.hide()

    def show_message(
        self, text: str, kind: str = "error", restart: bool = False, lighter: bool = False
    ) -> None:
        background, border, text_colour = COLOURS[kind]
        self.setStyleSheet(
            f"QFrame#banner {{ background: {background}; border-bottom: 1px solid {border}; }}"
            f"QLabel {{ color: {text_colour}; }}"
        )
        self.label.setText(text)
        self.restart.setVisible(restart)
        self.lighter.setVisible(lighter)
        self.show()
