"""The window's progress bar: a new value is there at once and painted with the window's next paint, never
synchronously inside the slot that set it (QProgressBar's own setValue paints the whole window there)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QProgressBar, QVBoxLayout, QWidget

from app.progress_bar import ProgressBar


class Paints(QObject):
    def __init__(self, widget: QWidget) -> None:
        super().__init__(widget)
        self.count = 0
        widget.installEventFilter(self)

    def eventFilter(self, watched, event) -> bool:
        self.count += event.type() == QEvent.Type.Paint
        return False


@pytest.mark.parametrize("kind", [ProgressBar, QProgressBar])
def test_a_value_is_set_at_once_and_painted_later(qtbot, kind) -> None:
    window = QWidget()
    qtbot.addWidget(window)
    bar, neighbour = kind(), QWidget()
    layout = QVBoxLayout(window)
    layout.addWidget(bar)
    layout.addWidget(neighbour)
    bar.setRange(0, 1000)
    window.resize(300, 80)
    window.show()
    qtbot.waitExposed(window)
    bars, neighbours = Paints(bar), Paints(neighbour)
    qtbot.wait(100)
    bars.count = neighbours.count = 0  # the first paints of the window are done
    neighbour.update()  # something else of the window waits to be painted, as the timeline does
    bar.setValue(500)
    painted_at_once = (bars.count, neighbours.count)
    assert bar.value() == 500
    qtbot.waitUntil(lambda: bars.count == 1 and neighbours.count == 1)
    bar.setValue(500)  # the same value: nothing to paint
    qtbot.wait(50)
    assert bars.count == 1
    if kind is ProgressBar:
        assert painted_at_once == (0, 0)
    else:  # why ProgressBar exists: Qt's paints the bar, and the rest of the window with it, right away
        assert painted_at_once == (1, 1)
