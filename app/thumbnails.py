"""Keyframe thumbnails for the timeline's strip, decoded with PyAV in a background thread, coarse to fine.

Opening a file queues ~100 evenly spaced thumbnails of the whole file (a seek and one keyframe decode
each: a few ms); `request(times)` queues denser ones for the visible range. A thumbnail is the keyframe
at or before the time asked for (a strip needs no exact frame), keyed by that keyframe's own time, so
whatever keyframe a seek lands on is filed where it belongs, and a keyframe is decoded once per file.

Every job carries a generation number and the generation of the file it was queued for. A newer
request replaces the queued rest of the older one; results that arrive for another file (an earlier
`open`) are dropped; results of a replaced request of the same file are true keyframes of this file and
are kept, but no longer counted as awaited. QImages are made in the thread, QPixmaps on the GUI thread,
kept in an LRU bounded by count and bytes.
"""

from __future__ import annotations

import bisect
import logging
import math
import threading
import weakref
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field

import av
import numpy as np
from av.video.reformatter import VideoReformatter
from PySide6.QtCore import QObject, QThread, Signal
from PySide6.QtGui import QImage, QPixmap

from engine.video import main_video_stream

log = logging.getLogger(__name__)

COARSE_COUNT = 100
THUMB_HEIGHT = 96  # pixels: twice the strip's height, so thumbnails stay sharp on HiDPI screens
MAX_COUNT = 4000
MAX_BYTES = 96 << 20


class ThumbnailCache:
    """Thumbnails by keyframe time; the least recently used go first beyond `max_count` or `max_bytes`."""

    def __init__(self, max_count: int = MAX_COUNT, max_bytes: int = MAX_BYTES) -> None:
        self.max_count, self.max_bytes = max_count, max_bytes
        self._items: OrderedDict[float, QPixmap] = OrderedDict()
        self._keys: list[float] = []  # sorted, for "at or before"
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    def keys(self) -> list[float]:
        return list(self._keys)

    def add(self, key_s: float, pixmap: QPixmap) -> list[float]:
        """Store a thumbnail; returns the keys evicted to stay within the budget."""
        if key_s in self._items:
            self.bytes -= _size(self._items.pop(key_s))
        else:
            bisect.insort(self._keys, key_s)
        self._items[key_s] = pixmap
        self.bytes += _size(pixmap)
        evicted = []
        while len(self._items) > 1 and (len(self._items) > self.max_count or self.bytes > self.max_bytes):
            old, old_pixmap = self._items.popitem(last=False)
            self.bytes -= _size(old_pixmap)
            del self._keys[bisect.bisect_left(self._keys, old)]
            evicted.append(old)
        return evicted

    def at_or_before(self, time_s: float) -> tuple[float, QPixmap] | None:
        """The thumbnail of the latest keyframe at or before `time_s` that is in the cache."""
        i = bisect.bisect_right(self._keys, time_s) - 1
        if i < 0:
            return None
        key = self._keys[i]
        self._items.move_to_end(key)
        return key, self._items[key]

    def clear(self) -> None:
        self._items.clear()
        self._keys.clear()
        self.bytes = 0


def _size(pixmap: QPixmap) -> int:
    return pixmap.width() * pixmap.height() * 4


@dataclass(frozen=True)
class Source:
    """A video file with its clock and orientation as `probe` found them, so that thumbnails are filed at
    the times the rest of the app uses and stand the way the picture is shown."""

    path: str
    start_s: float = 0.0  # the file's start time (VideoInfo.frames.start_s): times count from it
    rotation: int = 0  # degrees clockwise the picture is turned for display (VideoInfo.rotation)


@dataclass
class _Job:
    file_generation: int  # which `open` it belongs to
    generation: int  # which request
    source: Source | None
    times: deque[float] = field(default_factory=deque)


class _Decoder(QThread):
    """Runs queued jobs: the coarse one first, then the dense one. One result per time, always."""

    # file generation, generation, time asked, keyframe time (nan: none found), QImage (None: made before)
    produced = Signal(int, int, float, float, object)

    def __init__(self, height: int) -> None:
        super().__init__()
        self.height = height
        self._cond = threading.Condition()
        self._jobs: dict[str, _Job] = {}  # "coarse", "dense"
        self._made: set[float] = set()  # keyframes already delivered for the open file
        self._stopping = False
        self._container: av.container.InputContainer | None = None
        self._stream: av.video.VideoStream | None = None
        self._path: str | None = None
        self._broken: str | None = None  # a file that would not open
        self._scaler = VideoReformatter()  # keeps its scaling context: a new one per frame costs ms

    def submit(self, kind: str, job: _Job) -> None:
        """Replace the queued job of this kind (what is left of an older one is stale)."""
        with self._cond:
            if any(j.file_generation != job.file_generation for j in self._jobs.values()):
                self._made.clear()
                self._broken = None
            self._jobs[kind] = job
            self._cond.notify()

    def forget(self, keys: Iterable[float]) -> None:
        """These keyframes left the GUI's cache: decode them again when asked."""
        with self._cond:
            self._made.difference_update(keys)

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self.wait()

    def run(self) -> None:
        try:
            while True:
                with self._cond:
                    while not self._stopping and not any(j.times for j in self._jobs.values()):
                        self._cond.wait()
                    if self._stopping:
                        return
                    kind = next(k for k in ("coarse", "dense") if k in self._jobs and self._jobs[k].times)
                    job = self._jobs[kind]
                    time_s = job.times.popleft()
                    made = self._made.copy()
                key_s, image = self._thumbnail(job.source, time_s, made)
                with self._cond:
                    if image is not None and self._jobs[kind].file_generation == job.file_generation:
                        self._made.add(key_s)
                self.produced.emit(job.file_generation, job.generation, time_s, key_s, image)
        finally:
            if self._container is not None:
                self._container.close()

    def _thumbnail(self, source: Source, time_s: float, made: set[float]) -> tuple[float, QImage | None]:
        path, start_s = source.path, source.start_s
        if path == self._broken:
            return math.nan, None
        try:
            container, stream = self._open(path)
            target = round((time_s + start_s) / stream.time_base)
            container.seek(target, stream=stream, backward=True, any_frame=False)
            for packet in container.demux(stream):
                if not packet.is_keyframe or packet.pts is None:
                    continue
                key_s = round(float(packet.pts * stream.time_base) - start_s, 6)
                if key_s in made:
                    return key_s, None
                # Flushing hands the keyframe out at once, instead of after the decoder's reorder delay.
                frames = [*stream.decode(packet), *stream.decode(None)]
                aspect = float(stream.sample_aspect_ratio or 1)
                return (
                    (key_s, self._image(frames[0], aspect, source.rotation)) if frames else (math.nan, None)
                )
        except Exception as e:  # a damaged file must not stop the thread: log once, answer, go on
            if self._container is None:
                self._broken = path  # cannot even be opened: do not try again for every slot
            log.warning("no thumbnail at %.3f s of %s: %s", time_s, path, e)
            self._close()
        return math.nan, None

    def _open(self, path: str) -> tuple[av.container.InputContainer, av.video.VideoStream]:
        if self._path != path or self._container is None:
            self._close()
            container = av.open(path)
            stream = main_video_stream(container)
            if stream is None:
                container.close()
                raise ValueError("no video stream")
            stream.codec_context.skip_frame = "NONKEY"  # only keyframes are decoded: one decode a thumbnail
            self._container, self._stream, self._path = container, stream, path
        return self._container, self._stream

    def _close(self) -> None:
        if self._container is not None:
            self._container.close()
        self._container, self._path = None, None

    def _image(self, frame: av.VideoFrame, pixel_aspect: float, rotation: int) -> QImage:
        aspect = frame.width / frame.height * pixel_aspect
        quarter_turns = (-rotation // 90) % 4  # np.rot90 turns counter-clockwise
        if quarter_turns % 2:
            aspect = 1 / aspect
        height = self.height
        width = max(1, round(height * aspect))
        size = (height, width) if quarter_turns % 2 else (width, height)
        rgb = self._scaler.reformat(
            frame, width=size[0], height=size[1], format="rgb24", interpolation="AREA"
        )
        pixels = np.ascontiguousarray(np.rot90(rgb.to_ndarray(), k=quarter_turns))
        h, w = pixels.shape[:2]
        return QImage(pixels.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


class ThumbnailProducer(QObject):
    """The timeline's thumbnails: requests go to the decoding thread, results land in `cache`."""

    changed = Signal()  # new thumbnails are in the cache

    def __init__(self, parent: QObject | None = None, height: int = THUMB_HEIGHT) -> None:
        super().__init__(parent)
        self.cache = ThumbnailCache()
        self.stale_dropped = 0  # results for another file, dropped on arrival
        self._resolved: dict[float, float] = {}  # keyframe -> latest time asked known to show it
        self._generation = 0
        self._file_generation = 0
        self._current = {"coarse": -1, "dense": -1}
        self._outstanding = {"coarse": 0, "dense": 0}
        self._source: Source | None = None
        self._decoder = _Decoder(height)
        self._decoder.produced.connect(self._arrived)
        self._decoder.start()
        # Qt aborts the process when a running QThread is destroyed: stop it when this producer goes,
        # however that happens (closed, collected with its widget, or still alive at exit).
        self._stop = weakref.finalize(self, self._decoder.stop)

    def open(self, source: Source | None, duration_s: float) -> None:
        """Start over for `source` (None: no file): the whole file at COARSE_COUNT even steps first."""
        self.cache.clear()
        self._resolved.clear()
        self._source = source
        self._file_generation = self._generation + 1
        times = (
            [] if source is None or duration_s <= 0 else np.arange(COARSE_COUNT) * duration_s / COARSE_COUNT
        )
        self._submit("coarse", times)
        self._submit("dense", [])

    def request(self, times: Iterable[float]) -> None:
        """Thumbnails for these times (the visible slots), replacing the previous request."""
        if self._source is not None:
            self._submit("dense", [t for t in times if not self._known(t)])

    def at_or_before(self, time_s: float) -> tuple[float, QPixmap] | None:
        return self.cache.at_or_before(time_s)

    def idle(self) -> bool:
        """Nothing asked for is still on its way."""
        return not any(self._outstanding.values())

    def close(self) -> None:
        """Stop the thread (waits for the thumbnail being decoded, a few ms). Safe to call again."""
        self._stop()

    def _submit(self, kind: str, times: Iterable[float]) -> None:
        self._generation += 1
        job = _Job(self._file_generation, self._generation, self._source, deque(float(t) for t in times))
        self._current[kind] = job.generation
        self._outstanding[kind] = len(job.times)
        self._decoder.submit(kind, job)

    def _known(self, time_s: float) -> bool:
        """A keyframe in the cache is known to be the latest one at or before `time_s`."""
        found = self.cache.at_or_before(time_s)
        return found is not None and self._resolved.get(found[0], -math.inf) >= time_s

    def _arrived(
        self, file_generation: int, generation: int, time_s: float, key_s: float, image: QImage | None
    ) -> None:
        if file_generation != self._file_generation:
            self.stale_dropped += 1
            return
        for kind, current in self._current.items():
            if current == generation:
                self._outstanding[kind] -= 1
        if math.isnan(key_s):
            return
        if image is not None:
            evicted = self.cache.add(key_s, QPixmap.fromImage(image))
            for key in evicted:
                self._resolved.pop(key, None)
            self._decoder.forget(evicted)
        if key_s <= time_s:  # a demuxer that lands late (MPEG-TS) proves nothing about [key, time]
            self._resolved[key_s] = max(self._resolved.get(key_s, -math.inf), time_s)
        self.changed.emit()
