"""Thumbnails of the exact frames answers were based on, for the chat's frame strips.

A `FrameReader` of its own (the player's exact-frame machinery: decoded in its QThread, identified by
the frame table) is asked for one frame at a time, in the order they were wanted; each arrives as a
QImage, is scaled to `HEIGHT` in a thread of its own (64 ms for a 4K frame: too long for the GUI
thread) and kept by frame index. The reader's cache is kept small: a strip needs each frame once, and
the reader prefetches around the last frame while it waits.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QImage

from app.frame_reader import FrameReader
from engine.video import VideoInfo

HEIGHT = 54  # pixels of a thumbnail in the strip
READER_CACHE_BYTES = 24 << 20


class ChatFrames(QObject):
    arrived = Signal(int)  # the thumbnail of this frame index is ready
    _scaled = Signal(int, QImage, int)  # from the scaling thread: index, thumbnail, generation

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.images: dict[int, QImage] = {}
        self._reader: FrameReader | None = None
        self._queue: deque[int] = deque()
        self._asked: int | None = None  # the frame the reader is decoding
        self._unreadable: set[int] = set()  # asked for once, failed: not asked again
        self._scaling: set[int] = set()  # decoded, being scaled
        self._generation = 0
        self._scaler = ThreadPoolExecutor(1, thread_name_prefix="chat-thumbnails")
        self._scaled.connect(self._store)  # a method of this object: queued to the GUI thread

    def open(self, info: VideoInfo | None) -> None:
        """Thumbnails of another video (None: no video): the old ones go."""
        self.close()
        self._generation += 1
        self.images.clear()
        self._unreadable.clear()
        self._scaling.clear()
        if info is not None:
            self._reader = FrameReader(info, cache_bytes=READER_CACHE_BYTES)
            self._reader.frame_ready.connect(self._ready)
            self._reader.failed.connect(self._failed)

    def want(self, indices: Iterable[int]) -> None:
        """Queue the frames not made or queued yet; each one's `arrived` follows."""
        if self._reader is None:
            return
        for index in indices:
            known = index in self.images or index in self._unreadable or index in self._scaling
            known = known or index == self._asked
            if not known and index not in self._queue:
                self._queue.append(index)
        if self._asked is None:
            self._next(self._generation)

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
        self._reader, self._asked = None, None
        self._queue.clear()

    def shutdown(self) -> None:
        """For good (the window closes): the reader and the scaling thread end."""
        self.close()
        self._scaler.shutdown(wait=True, cancel_futures=True)

    def _ready(self, index: int, image: QImage, generation: int) -> None:
        if generation != self._generation:
            return
        self._scaling.add(index)
        self._scaler.submit(self._scale, index, image, generation)
        self._next(generation)  # the next frame decodes while this one is scaled

    def _scale(self, index: int, image: QImage, generation: int) -> None:
        self._scaled.emit(
            index, image.scaledToHeight(HEIGHT, Qt.TransformationMode.SmoothTransformation), generation
        )

    def _store(self, index: int, image: QImage, generation: int) -> None:
        if generation == self._generation:
            self._scaling.discard(index)
            self.images[index] = image
            self.arrived.emit(index)

    def _failed(self, index: int, _message: str, generation: int) -> None:
        self._unreadable.add(index)
        self._next(generation)

    def _next(self, generation: int) -> None:
        if generation != self._generation or self._reader is None:
            return
        self._asked = self._queue.popleft() if self._queue else None
        if self._asked is not None:
            self._reader.request(self._asked, self._generation)
