"""`FrameReader`: exact frames for the GUI, decoded in a worker thread, newest request first.

    reader = FrameReader(info)                      # info: engine.video.VideoInfo
    reader.frame_ready.connect(show)                # show(index, image, generation), GUI thread
    reader.failed.connect(report)                   # report(index, message, generation)
    reader.request(1234, generation)                # returns at once
    reader.prefetch(1234, -1)                       # the user steps backwards: fill the cache below
    ...
    reader.close()

Requests never pile up: there is one slot, and a request that is replaced before the worker picks it
up is dropped, so scrubbing shows the newest frame as soon as the one in progress is done. When no
request waits, the worker fills the cache ahead of the playhead (`ExactFrames.prefetch_step`) frame by
frame, and stops that at once for a new request; the decoder keeps its place, so nothing is lost.
QImages are made in the worker thread (allowed off the GUI thread; QPixmaps are not).
"""

from __future__ import annotations

import logging
import threading

from PySide6.QtCore import QObject, QThread, Signal, Slot
from PySide6.QtGui import QImage

from app.exact_frames import DEFAULT_CACHE_BYTES, ExactFrames
from engine.errors import ScenescopeError
from engine.video import VideoInfo

log = logging.getLogger(__name__)


class FrameReader(QObject):
    """Exact frames of one video, delivered by signal in the thread that made the reader (the GUI's).

    The decoding runs in a `_Worker` in a QThread of its own. Call `close()` when done.
    """

    frame_ready = Signal(int, QImage, int)  # index, image (RGB888, display orientation), generation
    preview_ready = Signal(int, QImage, int)  # on the way to a far frame: the keyframe decoded first
    failed = Signal(int, str, int)  # index, one-line message for the user, generation

    def __init__(self, info: VideoInfo, cache_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        super().__init__()
        self._worker = _Worker(ExactFrames(info, cache_bytes))
        self._thread = QThread()
        self._thread.setObjectName("frame-reader")
        self._worker.moveToThread(self._thread)
        # Queued: re-emitted in this object's thread, so that even plain functions connected to the
        # public signals run there (PySide6 calls those in the emitting thread otherwise).
        self._worker.ready.connect(self.frame_ready)
        self._worker.preview.connect(self.preview_ready)
        self._worker.failed.connect(self.failed)
        self._thread.start()

    def request(self, index: int, generation: int) -> None:
        """Ask for frame `index`; `frame_ready` (or `failed`) answers with the same generation."""
        self._worker.post(request=(index, generation))

    def prefetch(self, index: int, direction: int) -> None:
        """The playhead is at `index`, moving forward (+1) or backward (-1): fill the cache that way."""
        self._worker.post(focus=(index, direction))

    def cache_bytes(self) -> int:
        return self._worker.frames.cache_bytes()

    def cache_frames(self) -> int:
        return self._worker.frames.cache_frames()

    def close(self) -> None:
        """Stop the worker (within one decoded frame) and release the file."""
        self._worker.stop()
        self._thread.quit()
        self._thread.wait()
        self._worker.frames.close()


class _Worker(QObject):
    """Serves the newest request, else prefetches; lives in the reader's thread."""

    ready = Signal(int, QImage, int)
    preview = Signal(int, QImage, int)
    failed = Signal(int, str, int)
    _wake = Signal()

    def __init__(self, frames: ExactFrames) -> None:
        super().__init__()
        self.frames = frames
        self._lock = threading.Lock()
        self._request: tuple[int, int] | None = None  # (index, generation) waiting to be served
        self._focus: tuple[int, int] | None = None  # (playhead, direction) not yet applied
        self._awake = False  # a wake-up is queued or the worker is working: no need to send another
        self._closing = False
        self._wake.connect(self._work)  # queued once moved: `_work` runs in the worker thread

    def post(self, request: tuple[int, int] | None = None, focus: tuple[int, int] | None = None) -> None:
        """From any thread: replace the waiting request and/or focus, and wake the worker if it sleeps."""
        with self._lock:
            if self._closing:
                return
            if request is not None:
                self._request = request
            if focus is not None:
                self._focus = focus
            wake, self._awake = not self._awake, True
        if wake:
            self._wake.emit()

    def stop(self) -> None:
        with self._lock:
            self._closing = True

    def _news(self) -> bool:
        """Whether to drop what it is doing and look again (plain reads: no lock needed)."""
        return self._closing or self._request is not None or self._focus is not None

    @Slot()
    def _work(self) -> None:
        while True:
            with self._lock:
                if self._closing:
                    return
                request, self._request = self._request, None
                focus, self._focus = self._focus, None
            if focus is not None:
                self.frames.focus(*focus)
            if request is not None:
                self._serve(*request)
                continue
            if not self._prefetch():
                with self._lock:
                    if self._request is None and self._focus is None:
                        self._awake = False
                        return

    def _serve(self, index: int, generation: int) -> None:
        try:
            image = self.frames.frame(
                index,
                interrupted=lambda: self._closing,
                preview=lambda shown, picture: self.preview.emit(shown, picture, generation),
            )
        except ScenescopeError as e:
            self.failed.emit(index, str(e), generation)
        except Exception as e:  # a bug: report it rather than let it end the thread
            log.exception("frame %d could not be read", index)
            message = f"Frame {index} could not be read: {e!r}. Please report this bug."
            self.failed.emit(index, message, generation)
        else:
            if image is not None:
                self.ready.emit(index, image, generation)

    def _prefetch(self) -> bool:
        """One step of filling the cache; False when it is full around the playhead (or failed)."""
        try:
            return self.frames.prefetch_step(interrupted=self._news)
        except Exception as e:  # a damaged stretch ahead: the request that reaches it will say so
            log.debug("prefetch stopped: %s", e)
            return False
