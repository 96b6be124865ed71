"""Thumbnails of the exact frames answers were based on, for the chat's frame strips.

A `FrameReader` of its own (the player's exact-frame machinery: decoded in its QThread, identified by
the frame table), made in a thread of its own (opening a 4K file took 0.7 s) and made only once an answer
with frames is shown, is asked for one frame at a time, in the order they were wanted; each arrives as a
QImage, is scaled to `HEIGHT` in a thread of its own (64 ms for a 4K frame: too long for the GUI
thread) and kept by frame index. The reader's cache is kept small: a strip needs each frame once, and
the reader prefetches around the last frame while it waits.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt, Signal
from PySide6.QtGui import QImage

from app.frame_reader import FrameReader
from engine.video import VideoInfo

HEIGHT = 54  # pixels of a thumbnail in the strip
READER_CACHE_BYTES = 24 << 20


class ChatFrames(QObject):
    arrived = Signal(int)  # the thumbnail of this frame index is ready
    _scaled = Signal(int, QImage, int)  # from the helper thread: index, thumbnail, generation
    _made = Signal(object, int)  # from the helper thread: a FrameReader, generation

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.images: dict[int, QImage] = {}
        self._reader: FrameReader | None = None
        self._queue: deque[int] = deque()
        self._asked: int | None = None  # the frame the reader is decoding
        self._unreadable: set[int] = set()  # asked for once, failed: not asked again
        self._scaling: set[int] = set()  # decoded, being scaled
        self._generation = 0
        self._info: VideoInfo | None = None
        self._opening = False  # a reader is being made
        self._helper = ThreadPoolExecutor(1, thread_name_prefix="chat-thumbnails")
        self._scaled.connect(self._store)  # methods of this object: queued to the GUI thread
        self._made.connect(self._reader_made)

    def open(self, info: VideoInfo | None) -> None:
        """Thumbnails of another video (None: no video): the old ones go."""
        self.close()
        self._generation += 1
        self.images.clear()
        self._unreadable.clear()
        self._scaling.clear()
        self._info = info

    def want(self, indices: Iterable[int]) -> None:
        """Queue the frames not made or queued yet; each one's `arrived` follows."""
        if self._info is None:
            return
        for index in indices:
            known = index in self.images or index in self._unreadable or index in self._scaling
            known = known or index == self._asked
            if not known and index not in self._queue:
                self._queue.append(index)
        if self._reader is None and self._queue and not self._opening:
            self._opening = True
            self._helper.submit(self._make_reader, self._info, self._generation)
        elif self._asked is None:
            self._next(self._generation)

    def idle(self) -> bool:
        """Every thumbnail asked for is made (or known to be unreadable)."""
        return not (self._queue or self._scaling or self._opening or self._asked is not None)

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
        self._reader, self._asked, self._info, self._opening = None, None, None, False
        self._queue.clear()

    def shutdown(self) -> None:
        """For good (the window closes): the reader and the helper thread end."""
        self._generation += 1  # a reader still being made is closed when it arrives
        self.close()
        self._helper.shutdown(wait=True, cancel_futures=True)
        QCoreApplication.sendPostedEvents(self, QEvent.Type.MetaCall)  # ... now: a reader made meanwhile

    def _make_reader(self, info: VideoInfo, generation: int) -> None:
        """In the helper thread: open the video, then hand the reader to the GUI thread."""
        reader = FrameReader(info, cache_bytes=READER_CACHE_BYTES)
        reader.moveToThread(self.thread())  # its signals are re-emitted in the GUI thread
        self._made.emit(reader, generation)

    def _reader_made(self, reader: FrameReader, generation: int) -> None:
        if generation != self._generation:
            reader.close()  # made for a video no longer shown
            return
        self._reader, self._opening = reader, False
        reader.frame_ready.connect(self._ready)
        reader.failed.connect(self._failed)
        self._next(generation)

    def _ready(self, index: int, image: QImage, generation: int) -> None:
        if generation != self._generation:
            return
        self._scaling.add(index)
        self._helper.submit(self._scale, index, image, generation)
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
