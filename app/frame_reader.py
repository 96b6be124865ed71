"""Exact frames by index for the paused player: PyAV in a thread, with a cache around the playhead.

QMediaPlayer shows the previous frame at exact frame starts and cannot reach open-GOP leading pictures
or land on MPEG-TS seeks (gui_patterns §1.2), so while paused the window shows frames decoded here:
seek to the keyframe decoding must start from (the frame table's `seek_keyframe`), decode, and name
every decoded picture by its pts in the table, never by counting. A demuxer that lands after the wanted
frame (MPEG-TS) is sent one keyframe further back.

Stepping is fast both ways: forwards, the open decoder continues from where it is (no seek) and decodes
a few frames ahead when idle; backwards, the frames decoded on the way to a target are kept, so the
steps before it are in the cache. The cache is bounded in bytes, least recently used out first.
Requests never pile up: only the newest is served (`request` may be called at any rate).

    reader = FrameReader(info)                     # VideoInfo, from the worker's open_video result
    reader.frame_ready.connect(show)               # (index, QImage, generation)
    reader.request(1234, generation=7)
"""

from __future__ import annotations

import collections
import threading

import av
import numpy as np
from PySide6.QtCore import QObject, QThread, Signal, Slot
from PySide6.QtGui import QImage

from engine.video import VideoInfo

DEFAULT_CACHE_BYTES = 384 << 20  # about 64 1080p frames
PREFETCH_FRAMES = 8  # decoded ahead of a forward step while idle
CONTINUE_WITHIN = 300  # frames ahead of the decoder that are reached by decoding on rather than seeking
MAX_BACKOFF = 4  # keyframes further back when a seek lands past the frame (MPEG-TS)


class FrameCache:
    """Decoded pictures by frame index, least recently used out first once over `max_bytes`."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._images: collections.OrderedDict[int, QImage] = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, index: int) -> QImage | None:
        with self._lock:
            image = self._images.get(index)
            if image is not None:
                self._images.move_to_end(index)
            return image

    def put(self, index: int, image: QImage) -> None:
        with self._lock:
            old = self._images.pop(index, None)
            if old is not None:
                self.bytes -= old.sizeInBytes()
            self._images[index] = image
            self.bytes += image.sizeInBytes()
            while self.bytes > self.max_bytes and len(self._images) > 1:
                _, dropped = self._images.popitem(last=False)
                self.bytes -= dropped.sizeInBytes()

    def __contains__(self, index: int) -> bool:
        with self._lock:
            return index in self._images

    def __len__(self) -> int:
        with self._lock:
            return len(self._images)


class _Decoder(QObject):
    """The thread side: one open container, decoding towards whatever is wanted now."""

    ready = Signal(int, QImage, int)
    failed = Signal(str)

    def __init__(self, info: VideoInfo, cache: FrameCache, newest) -> None:
        super().__init__()
        self.info, self.table, self.cache = info, info.frames, cache
        self._newest = newest  # () -> (index, generation) of the newest request
        self._container = None
        self._frames = None  # iterator of (index, frame) from the open container, in presentation order
        self._next: tuple[int, av.VideoFrame] | None = None  # looked at, not yet handed out
        self._position = -1  # index of the last frame handed out by the iterator
        self._served = -1  # generation of the last request served
        self._last_index = -1

    @Slot()
    def serve(self) -> None:
        index, generation = self._newest()
        if generation == self._served:
            return  # a wake-up for a request already served
        direction = 1 if index > self._last_index else -1
        self._last_index = index
        try:
            image = self.cache.get(index)
            if image is None:
                image = self._decode_to(index, generation, keep_before=direction < 0)
            if self._newest()[1] != generation:
                return  # superseded while decoding: its own wake-up follows
            self._served = generation
            if image is not None:
                self.ready.emit(index, image, generation)
            if direction > 0:
                self._prefetch(index, generation)
        except Exception as e:  # a damaged file or a decoder error must not end the thread
            self._served = generation
            self._close()
            self.failed.emit(f"Cannot decode frame {index} of {self.info.path.name}: {e}")

    def close(self) -> None:
        self._close()

    # ----- decoding -----------------------------------------------------------------------------------------
    def _decode_to(self, target: int, generation: int, keep_before: bool) -> QImage | None:
        """Decode up to frame `target` and return it (None if superseded or not in the stream). Stepping
        backwards, the frames just before the target are kept too: they are the next steps."""
        if not self._reaches(target):
            self._seek(target)
        room = max(1, self.cache.max_bytes // max(1, self.info.width * self.info.height * 3) - 1)
        while (item := self._take()) is not None:
            index, frame = item
            if index == target:
                image = self._image(frame)
                self.cache.put(index, image)
                return image
            if index > target:
                self._next = item  # not in the stream (damaged there); keep it for the next request
                return None
            if keep_before and target - index <= room:
                self.cache.put(index, self._image(frame))
            if self._newest()[1] != generation:
                return None  # a newer request: stop here, the decoder stays where it is
        return None

    def _prefetch(self, index: int, generation: int) -> None:
        """A few frames after `index`, until something newer is asked for."""
        for ahead in range(index + 1, min(self.table.frame_count, index + 1 + PREFETCH_FRAMES)):
            if self._newest()[1] != generation:
                return
            if ahead not in self.cache:
                self._decode_to(ahead, generation, keep_before=False)

    def _reaches(self, target: int) -> bool:
        """Whether decoding on from where the decoder is reaches `target` without a seek."""
        if self._frames is None:
            return False
        ahead = self._next[0] if self._next is not None else self._position + 1
        if not self.info.frames_seekable:
            return ahead <= target
        return ahead <= target <= ahead + CONTINUE_WITHIN and self.table.seek_keyframe[target] <= ahead

    def _seek(self, target: int) -> None:
        """Position the decoder so that decoding passes through `target`."""
        if self._container is None:
            self._container = av.open(str(self.info.path))
            self._stream = self._container.streams[self.info.stream_index]
            self._stream.thread_type = "AUTO"
        if not self.info.frames_seekable:  # no usable timestamps: count frames from the start
            self._container.seek(0)
            self._frames, self._next, self._position = (
                enumerate(self._container.decode(self._stream)),
                None,
                -1,
            )
            return
        keyframes = np.flatnonzero(self.table.keyframe[: int(self.table.seek_keyframe[target]) + 1])
        for back in range(MAX_BACKOFF + 1):
            start = int(keyframes[max(0, len(keyframes) - 1 - back)]) if len(keyframes) else 0
            self._container.seek(int(self.table.pts[start]), stream=self._stream, backward=True)
            self._frames, self._next = self._by_pts(), None
            self._next = self._take()
            if self._next is None or self._next[0] <= target:
                return
        # still past the frame after backing off: decode from the start
        self._container.seek(0, stream=self._stream, backward=True)
        self._frames, self._next = self._by_pts(), None

    def _take(self) -> tuple[int, av.VideoFrame] | None:
        if self._next is not None:
            item, self._next = self._next, None
        else:
            item = next(self._frames, None) if self._frames is not None else None
        if item is not None:
            self._position = item[0]
        return item

    def _by_pts(self):
        """(index, frame) for each decoded picture whose pts is in the table."""
        pts_table = self.table.pts
        for frame in self._container.decode(self._stream):
            if frame.pts is None:
                continue
            i = int(np.searchsorted(pts_table, frame.pts))
            if i < len(pts_table) and pts_table[i] == frame.pts:
                yield i, frame

    def _image(self, frame: av.VideoFrame) -> QImage:
        rgb = frame.to_ndarray(format="rgb24")
        if self.info.rotation:
            rgb = np.rot90(rgb, k=-self.info.rotation // 90)
        rgb = np.ascontiguousarray(rgb)
        h, w, _ = rgb.shape
        return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()

    def _close(self) -> None:
        if self._container is not None:
            self._container.close()
        self._container, self._frames, self._next, self._position = None, None, None, -1


class FrameReader(QObject):
    """The GUI side: ask for frames, get them by signal. One decoder thread per video."""

    frame_ready = Signal(int, QImage, int)  # index, picture (display orientation), generation
    failed = Signal(str)
    _wake = Signal()

    def __init__(
        self, info: VideoInfo, cache_bytes: int = DEFAULT_CACHE_BYTES, parent: QObject | None = None
    ):
        super().__init__(parent)
        self.info = info
        self.cache = FrameCache(cache_bytes)
        self._lock = threading.Lock()
        self._latest = (0, -1)  # index, generation
        self._thread = QThread()
        self._thread.setObjectName("frame-reader")
        self._decoder = _Decoder(info, self.cache, self._newest)
        self._decoder.moveToThread(self._thread)
        self._wake.connect(self._decoder.serve)
        self._decoder.ready.connect(self.frame_ready)
        self._decoder.failed.connect(self.failed)
        self._thread.start()

    def request(self, index: int, generation: int) -> None:
        """Show frame `index`; a request not started when a newer one comes is dropped."""
        with self._lock:
            self._latest = (index, generation)
        self._wake.emit()

    def cache_bytes(self) -> int:
        return self.cache.bytes

    def cache_frames(self) -> int:
        return len(self.cache)

    def close(self) -> None:
        with self._lock:
            self._latest = (0, -2)  # anything running stops at its next frame
        self._thread.quit()
        self._thread.wait(10_000)
        self._decoder.close()

    def _newest(self) -> tuple[int, int]:
        with self._lock:
            return self._latest
