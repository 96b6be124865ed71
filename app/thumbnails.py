"""Keyframe thumbnails for the timeline, made in a background thread, coarse to fine.

A request is a list of times and a generation number. The worker thread seeks to the keyframe at or
before each time, decodes that one picture (PyAV, non-keyframes skipped), scales it to the strip's
height in display orientation and hands a QImage back with the keyframe's own time. A newer request
makes an older one stop at its next picture (gui_patterns §4.2: ~3-5 ms a thumbnail, so the first ~100
for the whole file arrive in well under a second, then denser ones for the range in view).
QImages are made in the thread (allowed), QPixmaps by the receiver on the GUI thread.
"""

from __future__ import annotations

import threading
from pathlib import Path

import av
import numpy as np
from PySide6.QtCore import QObject, QThread, Signal, Slot
from PySide6.QtGui import QImage


class ThumbnailMaker(QObject):
    """Lives in its own QThread; `made(generation, time_s, image)` for every thumbnail."""

    made = Signal(int, float, QImage)
    failed = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self._latest = 0
        self._lock = threading.Lock()

    def supersede(self, generation: int) -> None:
        """Called from the GUI thread: requests older than `generation` stop at their next picture."""
        with self._lock:
            self._latest = max(self._latest, generation)

    def _stale(self, generation: int) -> bool:
        with self._lock:
            return generation < self._latest

    @Slot(str, float, int, int, object, int)
    def make(
        self, path: str, start_s: float, rotation: int, height: int, times: object, generation: int
    ) -> None:
        try:
            with av.open(path) as container:
                stream = container.streams.video[0]
                stream.codec_context.skip_frame = "NONKEY"
                stream.thread_type = "AUTO"
                done_keys: set[int] = set()
                for t in times:  # type: ignore[attr-defined]
                    if self._stale(generation):
                        return
                    container.seek(round((t + start_s) / stream.time_base), stream=stream, backward=True)
                    frame = next(container.decode(stream), None)
                    if frame is None or frame.pts is None or frame.pts in done_keys:
                        continue
                    done_keys.add(frame.pts)
                    image = _picture(frame, rotation, height)
                    self.made.emit(generation, float(frame.pts * stream.time_base) - start_s, image)
        except Exception as e:  # a damaged file must not end the thread; the strip just stays empty there
            self.failed.emit(f"thumbnails of {Path(path).name}: {e}")


def _picture(frame: av.VideoFrame, rotation: int, height: int) -> QImage:
    """The frame in display orientation, `height` pixels high, as an RGB888 QImage (a copy)."""
    turned = rotation in (90, 270)
    coded_h = frame.width if turned else frame.height
    coded_w = frame.height if turned else frame.width
    width = max(1, round(height * coded_w / coded_h))
    out_w, out_h = (height, width) if turned else (width, height)
    rgb = frame.to_ndarray(format="rgb24", width=out_w, height=out_h)
    rgb = np.ascontiguousarray(np.rot90(rgb, k=-rotation // 90) if rotation else rgb)
    h, w, _ = rgb.shape
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


class Thumbnails(QObject):
    """The GUI side: asks for thumbnails and keeps the ones that arrive (`ready` after each)."""

    ready = Signal()
    request = Signal(str, float, int, int, object, int)
    MAX_IMAGES = 4000  # about 40 MB at 78x44: the oldest go first

    def __init__(self, height: int, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.height = height
        self.images: dict[float, QImage] = {}  # keyframe time -> picture
        self.generation = 0
        self._opened_at = 0  # pictures of requests before this generation belong to another file
        self.path: str | None = None
        self._start_s, self._rotation = 0.0, 0
        self._thread = QThread()
        self._thread.setObjectName("thumbnails")
        self.maker = ThumbnailMaker()
        self.maker.moveToThread(self._thread)
        self.request.connect(self.maker.make)
        self.maker.made.connect(self._made)
        self._thread.start()

    def open(self, path: str, start_s: float = 0.0, rotation: int = 0) -> None:
        self.path, self._start_s, self._rotation = path, start_s, rotation
        self.generation += 1
        self.maker.supersede(self.generation)
        self._opened_at = self.generation
        self.images.clear()
        self.ready.emit()

    def ask(self, times: np.ndarray) -> None:
        """Thumbnails at (the keyframes before) these times; stops whatever was asked before."""
        if self.path is None or len(times) == 0:
            return
        self.generation += 1
        self.maker.supersede(self.generation)
        self.request.emit(self.path, self._start_s, self._rotation, self.height, list(times), self.generation)

    def close(self) -> None:
        self.maker.supersede(self.generation + 1)
        self._thread.quit()
        self._thread.wait(5000)

    def _made(self, generation: int, time_s: float, image: QImage) -> None:
        if generation <= self._opened_at:
            return  # made for the file before this one
        self.images[round(time_s, 6)] = image  # a coarser request's pictures stay: they are right too
        while len(self.images) > self.MAX_IMAGES:
            del self.images[next(iter(self.images))]
        self.ready.emit()
