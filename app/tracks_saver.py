"""Saving the tracked objects on a thread of their own, so the GUI thread never waits for the disk.

    saver = TracksSaver()
    saver.save(path, store, objects, unanswered, then=lambda path: ...)  # returns at once
    saver.saved.connect(...); saver.failed.connect(banner)                # on the GUI thread
    saver.wait()                                                           # closing: all of it on disk

The GUI thread hands over a snapshot: copies of the objects (names and colours change) and the
unanswered clicks; the `TrackStore` may be read from any thread, so the thread serialises it as it is
then. One save runs at a time, in order; saves asked for while one runs fold into one (the newest
state wins, every `then` is called), so a propagation streaming masks never queues up work.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from app.tracks_file import TrackedObject, save_objects
from engine.tracking import Prompt, TrackStore

WAIT_S = 10.0  # closing the window waits this long at most for the last save


@dataclass
class _Save:
    path: Path
    store: TrackStore
    objects: list[TrackedObject]
    unanswered: dict[tuple[int, int], Prompt | None]
    then: list[Callable[[Path | None], None]] = field(default_factory=list)
    error: str = ""
    future: Future | None = None


class TracksSaver(QObject):
    saved = Signal(object)  # the Path now on disk
    failed = Signal(str)  # why a save failed, and what to do, in one line
    _ended = Signal(object)  # from the saving thread: its _Save

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._running: _Save | None = None
        self._next: _Save | None = None
        self.last_s = 0.0  # how long the last save took on its thread
        self._ended.connect(self._finish)
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="save-tracks")
        self._pool.submit(int)  # start the thread now: starting one waits until it holds the interpreter lock

    def save(
        self,
        path: Path,
        store: TrackStore,
        objects: list[TrackedObject],
        unanswered: Mapping[tuple[int, int], Prompt | None],
        then: Callable[[Path | None], None] | None = None,
    ) -> None:
        """Write them (app/tracks_file.save_objects) soon, off the GUI thread; `then(path)` once the file
        is on disk (None: the save failed)."""
        waiting = self._next.then if self._next is not None else []
        snapshot = [copy.copy(o) for o in objects]
        thens = [*waiting, *([then] if then else [])]
        self._next = _Save(Path(path), store, snapshot, dict(unanswered), thens)
        self._start()

    @property
    def idle(self) -> bool:
        return self._running is None and self._next is None

    def wait(self, timeout_s: float = WAIT_S) -> None:
        """Block until every save asked for is on disk (closing the window, tests); a disk that hangs
        longer than `timeout_s` is given up on (the file there is the last whole one)."""
        while not self.idle:
            self._start()
            job = self._running
            assert job is not None and job.future is not None
            try:
                job.future.result(timeout=timeout_s)
            except TimeoutError:
                return
            self._finish(job)  # its queued `_ended` then finds it handled

    def _start(self) -> None:
        if self._running is not None or self._next is None:
            return
        job, self._next = self._next, None
        self._running = job
        job.future = self._pool.submit(self._write, job)

    def _write(self, job: _Save) -> None:  # on the saving thread
        start = time.monotonic()
        try:
            save_objects(job.path, job.store, job.objects, job.unanswered)
            self.last_s = time.monotonic() - start
        except OSError as e:
            job.error = f"Cannot save the tracked objects to {job.path} ({e.strerror}): free some disk space."
        except Exception as e:  # a bug must not leave every later save waiting on this one
            job.error = f"Cannot save the tracked objects to {job.path} ({type(e).__name__}: {e})."
        self._ended.emit(job)

    def _finish(self, job: _Save) -> None:
        if job is not self._running:
            return
        self._running = None
        if job.error:
            self.failed.emit(job.error)
        else:
            self.saved.emit(job.path)
        for then in job.then:
            then(None if job.error else job.path)
        self._start()
