"""How long the Qt event loop went without running: a 10 ms precise timer that records its gaps."""

from __future__ import annotations

import gc

from PySide6.QtCore import QElapsedTimer, Qt, QTimer


class Heartbeat:
    def __init__(self, interval_ms: int = 10) -> None:
        self.gaps_ms: list[int] = []  # time between ticks; a stall shows as a long one
        self._clock = QElapsedTimer()
        self._timer = QTimer()
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(lambda: self.gaps_ms.append(self._clock.restart()))

    def start(self) -> None:
        # The test process holds every earlier test's objects: a full garbage collection walking them
        # would stall the loop for reasons of the test run, not of the window. Set them aside.
        gc.collect()
        gc.freeze()
        self._clock.start()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        gc.unfreeze()

    @property
    def longest_ms(self) -> int:
        return max(self.gaps_ms[1:], default=0)  # the first gap includes the start itself
