"""A progress bar that asks for a paint when its value changes, where QProgressBar paints at once.

QProgressBar.setValue repaints synchronously, and a synchronous repaint of one widget paints every dirty
widget of the window with it. A job's progress arrives in the middle of other updates (a curve piece, a
list row, the status bar's own bar), so each event painted the window again, several times per turn of the
event loop: 40 ms stalls during a find on a loaded machine. Here the value is set at once (value() is
right) and the paint joins the window's next one.
"""

from __future__ import annotations

from PySide6.QtWidgets import QProgressBar


class ProgressBar(QProgressBar):
    def setValue(self, value: int) -> None:
        if value == self.value():
            return
        self.setUpdatesEnabled(False)  # QWidget.repaint does nothing while updates are off
        super().setValue(value)
        self.setUpdatesEnabled(True)  # and turning them on asks for an ordinary update
