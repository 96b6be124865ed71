"""The strip under the picture: play/pause, the time and frame number of the frame on screen, speed, mute.

Time is HH:MM:SS.mmm of the frame's own presentation time (the engine's frame table), and the frame
number its index in presentation order, so both stay true on variable-frame-rate files.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QFontDatabase, QPalette
from PySide6.QtWidgets import QHBoxLayout, QLabel, QStyle, QToolButton, QWidget

from engine.timecode import format_timecode


class Transport(QWidget):
    play_clicked = Signal()
    mute_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.setSpacing(10)
        self.play = QToolButton()
        self.play.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_MediaPlay))
        self.play.setToolTip("Play / pause (Space, K)")
        self.play.setFixedWidth(34)
        self.play.clicked.connect(self.play_clicked)
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.time = QLabel("--:--:--.---")
        self.time.setFont(mono)
        self.time.setToolTip("Time of the frame on screen (Ctrl+G: go to a time)")
        self.duration = QLabel("/ --:--:--.---")
        self.duration.setFont(mono)
        self.duration.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.frame = QLabel("frame –")
        self.frame.setFont(mono)
        self.frame.setToolTip("Frame number in presentation order, from 0")
        self.state = QLabel("")
        self.speed = QLabel("1.00×")
        self.speed.setFont(mono)
        self.speed.setToolTip("Speed: [ ] ÷/×1.1, { } half/double, Backspace normal")
        self.mute = QToolButton()
        self.mute.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_MediaVolume))
        self.mute.setToolTip("Mute (M)")
        self.mute.clicked.connect(self.mute_clicked)
        for widget in (self.play, self.time, self.duration, self.frame):
            layout.addWidget(widget)
        self._tools = layout.count()  # features' buttons go here, before the stretch
        layout.addStretch(1)
        for widget in (self.state, self.speed, self.mute):
            layout.addWidget(widget)
        self.setEnabled(False)

    def add_tool(self, button: QToolButton) -> None:
        """A feature's button (tracking mode, ...) after the frame number."""
        layout = self.layout()
        layout.insertWidget(self._tools, button)
        self._tools += 1

    def set_video(self, duration_s: float, frame_count: int) -> None:
        self.frame_count = frame_count
        self.duration.setText(f"/ {format_timecode(duration_s)}")
        self.setEnabled(True)

    def set_position(self, index: int, time_s: float) -> None:
        self.time.setText(format_timecode(time_s))
        self.frame.setText(f"frame {index:,} / {self.frame_count - 1:,}")

    def set_state(self, state: str) -> None:
        going = state in ("playing", "reverse")
        icon = QStyle.StandardPixmap.SP_MediaPause if going else QStyle.StandardPixmap.SP_MediaPlay
        self.play.setIcon(self.style().standardIcon(icon))
        self.state.setText({"reverse": "◀◀ reverse", "playing": "", "paused": ""}.get(state, state))

    def set_rate(self, rate: float) -> None:
        self.speed.setText(f"{rate:.2f}×")
        self.speed.setStyleSheet("" if abs(rate - 1) < 1e-9 else "color: #e0b040;")

    def set_muted(self, muted: bool) -> None:
        icon = QStyle.StandardPixmap.SP_MediaVolumeMuted if muted else QStyle.StandardPixmap.SP_MediaVolume
        self.mute.setIcon(self.style().standardIcon(icon))
