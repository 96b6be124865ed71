"""How long the Qt event loop went without running: a 10 ms precise timer that records its gaps.

Every heartbeat test of the window holds it to the same bound, `HELD_MS` of wall time between two ticks
(issue 11's rule: a wait on the worker or a long paint shows as a longer gap). The GUI thread's own CPU time
between ticks is recorded too, so a failing bound says whether the window worked or the machine's
scheduler held the process back (2 shared cores under other test runs do that for 100 ms at times).
"""

from __future__ import annotations

import gc
import time

from PySide6.QtCore import QElapsedTimer, Qt, QTimer

HELD_MS = 50


class Heartbeat:
    def __init__(self, interval_ms: int = 10) -> None:
        self.gaps_ms: list[int] = []  # time between ticks; a stall shows as a long one
        self.cpu_ms: list[float] = []  # the GUI thread's CPU time between ticks
        self._clock = QElapsedTimer()
        self._cpu = 0.0
        self._timer = QTimer()
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        self.gaps_ms.append(self._clock.restart())
        now = time.thread_time()
        self.cpu_ms.append((now - self._cpu) * 1000)
        self._cpu = now

    def start(self) -> None:
        # The test process holds every earlier test's objects: a full garbage collection walking them
        # would stall the loop for reasons of the test run, not of the window. Set them aside.
        gc.collect()
        gc.freeze()
        self._cpu = time.thread_time()
        self._clock.start()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        gc.unfreeze()

    @property
    def longest_ms(self) -> int:
        return max(self.gaps_ms[1:], default=0)  # the first gap includes the start itself

    def held(self, ticks: int) -> bool:
        """At least `ticks` ticks, none of them more than `HELD_MS` after the one before."""
        return len(self.gaps_ms) > ticks and self.longest_ms < HELD_MS

    def report(self) -> str:
        busiest = max(self.cpu_ms[1:], default=0.0)
        gaps = f"{len(self.gaps_ms)} ticks, longest gap {self.longest_ms} ms"
        return f"{gaps}, busiest GUI thread {busiest:.1f} ms of CPU between two ticks"
