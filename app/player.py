"""Playback state of one video: what plays, at what speed, and which frame is on screen.

Playing: QMediaPlayer with QAudioOutput decodes and paces video and audio; its frames arrive at our own
QVideoSink and are identified by their start time against the engine's frame table (never index/fps),
so the frame number shown is the frame painted, also on variable-frame-rate files.
Paused and stepping: the exact frame of an index comes from `exact` (app/frame_reader.py, PyAV with a
cache around the playhead), because QMediaPlayer seeks land a frame early at exact frame starts and are
wrong on open GOPs and MPEG-TS (gui_patterns §1.2). Without a reader, paused frames come from
QMediaPlayer seeks to the middle of the wanted frame (§1.3), one seek in flight, the newest target wins.
J plays backwards by stepping (the player has no reverse), 1x, 2x, 4x, from the reader's cache.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, QUrl, Signal
from PySide6.QtGui import QImage
from PySide6.QtMultimedia import QAudioOutput, QMediaPlayer, QVideoFrame, QVideoSink

from engine.video import VideoInfo

SHUTTLE_SPEEDS = (1.0, 2.0, 4.0)
MIN_RATE, MAX_RATE = 0.1, 8.0
REVERSE_TICK_MS = 33  # reverse play shows at most ~30 pictures a second, skipping frames at higher speeds


class Player(QObject):
    frame_shown = Signal(QImage, int)  # the picture and its frame index: paint exactly this
    position_changed = Signal(int, float)  # frame index on screen, its time in seconds
    state_changed = Signal(str)  # "paused", "playing", "reverse"
    rate_changed = Signal(float)
    muted_changed = Signal(bool)
    error = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.media = QMediaPlayer(self)
        self.audio = QAudioOutput(self)
        self.sink = QVideoSink(self)
        self.media.setAudioOutput(self.audio)
        self.media.setVideoSink(self.sink)
        self.sink.videoFrameChanged.connect(self._sink_frame)
        self.media.mediaStatusChanged.connect(self._media_status)
        self.media.errorOccurred.connect(lambda _e, text: self.error.emit(f"Playback: {text}"))
        self.exact = None  # app/frame_reader.FrameReader of the open video, or None
        self.info: VideoInfo | None = None
        self.index = -1  # the frame on screen
        self.state = "paused"
        self.rate = 1.0
        self._wanted = -1  # paused: the frame asked for
        self._generation = 0
        self._seek_in_flight = False  # QMediaPlayer seek mode: one at a time
        self._seek_target = -1  # the frame the last QMediaPlayer seek asked for
        self._reverse = QTimer(self)
        self._reverse.setInterval(REVERSE_TICK_MS)
        self._reverse.timeout.connect(self._reverse_tick)

    # ----- opening ------------------------------------------------------------------------------------------
    def open(self, info: VideoInfo, exact=None, start_s: float = 0.0) -> None:
        """Play `info`'s file, paused on the frame at `start_s`."""
        self.stop_reverse()
        self.info = info
        if exact is not None:
            self.set_exact(exact)
        self.index, self._wanted = -1, -1
        self.media.setSource(QUrl.fromLocalFile(str(info.path)))
        self.media.pause()  # delivers the first frame once loaded
        self._set_state("paused")
        self.show_index(info.frames.index_at(min(max(0.0, start_s), info.duration_s)))

    def set_exact(self, exact) -> None:
        """The exact-frame source for paused display (app/frame_reader.py); the old one is closed."""
        self._close_exact()
        self.exact = exact
        exact.frame_ready.connect(self._exact_frame)
        exact.preview_ready.connect(self._exact_frame)  # a picture at once; the exact frame follows
        exact.failed.connect(lambda _index, message, _generation: self.error.emit(message))

    def close(self) -> None:
        self.stop_reverse()
        self.media.stop()
        self.media.setSource(QUrl())
        self._close_exact()
        self.info, self.index = None, -1

    def _close_exact(self) -> None:
        if self.exact is not None:
            self.exact.close()  # its thread stops; nothing more arrives from it
            self.exact = None

    @property
    def frame_count(self) -> int:
        return 0 if self.info is None else self.info.frame_count

    def time_of(self, index: int) -> float:
        assert self.info is not None
        return self.info.frames.time_of(index)

    # ----- moving -------------------------------------------------------------------------------------------
    def show_index(self, index: int) -> None:
        """Pause-mode display of exactly frame `index` (clamped to the video)."""
        if self.info is None:
            return
        index = max(0, min(self.frame_count - 1, index))
        self._wanted = index
        self._generation += 1
        if self.exact is not None:
            self.exact.request(index, self._generation)
        elif not self._seek_in_flight:
            self._seek_media(index)

    def seek(self, time_s: float) -> None:
        """Show the frame on screen at `time_s`; keeps playing if playing."""
        if self.info is None:
            return
        index = self.info.frames.index_at(max(0.0, time_s))
        if self.state == "playing":
            self._seek_media(index)
        else:
            self.show_index(index)

    def step(self, frames: int) -> None:
        """Pause and move by `frames` (negative: backwards), exactly."""
        if self.info is None:
            return
        self.pause()
        base = self._wanted if self._wanted >= 0 else self.index
        self.show_index(base + frames)
        if self.exact is not None:  # the next steps go the same way: have them decoded already
            self.exact.prefetch(max(0, min(self.frame_count - 1, base + frames)), 1 if frames > 0 else -1)

    def jump(self, seconds: float) -> None:
        if self.info is not None and self.index >= 0:
            self.seek(self.time_of(self.index) + seconds)

    def play(self) -> None:
        if self.info is None:
            return
        self.stop_reverse()
        start = self._wanted if self._wanted >= 0 else self.index
        if start >= self.frame_count - 1:
            start = 0  # play again from the start, as players do at the end
        self._seek_media(start)
        self.media.setPlaybackRate(self.rate)
        self.media.play()
        self._set_state("playing")

    def pause(self) -> None:
        self.stop_reverse()
        if self.state == "playing":
            self.media.pause()
            self._wanted = self.index
        self._set_state("paused")

    def toggle(self) -> None:
        self.pause() if self.state != "paused" else self.play()

    def shuttle(self, direction: int) -> None:
        """L (1) / J (-1): start that way at 1x, or go faster (1, 2, 4x) when already going that way."""
        going = {"playing": 1, "reverse": -1}.get(self.state, 0)
        speed = _next_speed(self.rate) if going == direction else 1.0
        self.set_rate(speed)
        if direction > 0:
            if self.state != "playing":
                self.play()
        elif self.state != "reverse":
            self.pause()
            self._reverse.start()
            self._set_state("reverse")

    def stop_reverse(self) -> None:
        if self._reverse.isActive():
            self._reverse.stop()
            self._set_state("paused")

    def set_rate(self, rate: float) -> None:
        self.rate = max(MIN_RATE, min(MAX_RATE, rate))
        self.media.setPlaybackRate(self.rate)
        self.rate_changed.emit(self.rate)

    def toggle_mute(self) -> None:
        self.audio.setMuted(not self.audio.isMuted())
        self.muted_changed.emit(self.audio.isMuted())

    # ----- frames arriving ----------------------------------------------------------------------------------
    def _sink_frame(self, frame: QVideoFrame) -> None:
        if not frame.isValid() or self.info is None:
            return
        index = self.info.frames.index_at(frame.startTime() / 1e6)
        if self.state == "playing":
            self._display(frame.toImage(), index)
        elif self.exact is None:  # paused frames come from QMediaPlayer seeks
            self._seek_in_flight = False
            if self._wanted != self._seek_target:
                self._seek_media(self._wanted)  # a newer target came while that seek was in flight
            else:
                self._display(frame.toImage(), index)

    def _exact_frame(self, index: int, image: QImage, generation: int) -> None:
        if generation == self._generation and self.state != "playing":
            self._display(image, index)

    def _display(self, image: QImage, index: int) -> None:
        self.index = index
        self.frame_shown.emit(image, index)
        self.position_changed.emit(index, self.time_of(index))

    def _seek_media(self, index: int) -> None:
        """QMediaPlayer to frame `index`: the middle of the frame, since a frame's exact start shows the
        frame before it (gui_patterns §1.3)."""
        table = self.info.frames
        start = table.time_of(index)
        end = table.time_of(index + 1) if index + 1 < table.frame_count else table.duration_s
        self._seek_in_flight, self._seek_target = self.state != "playing", index
        self.media.setPosition(round((start + end) / 2 * 1000))

    def _reverse_tick(self) -> None:
        if self.info is None or self.index <= 0:
            self.stop_reverse()
            return
        fps = self.info.fps or 30.0
        frames = max(1, round(fps * self.rate * REVERSE_TICK_MS / 1000))
        if self.exact is None and self._seek_in_flight:
            return  # still decoding the last one: skip this tick rather than pile up seeks
        self.show_index((self._wanted if self._wanted >= 0 else self.index) - frames)

    def _media_status(self, status: QMediaPlayer.MediaStatus) -> None:
        if status == QMediaPlayer.MediaStatus.EndOfMedia and self.state == "playing":
            self._wanted = self.frame_count - 1
            self._set_state("paused")
            self.show_index(self.frame_count - 1)
        elif status == QMediaPlayer.MediaStatus.InvalidMedia:
            self.error.emit("This file cannot be played here; stepping through its frames still works.")

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.state_changed.emit(state)


def _next_speed(rate: float) -> float:
    faster = [s for s in SHUTTLE_SPEEDS if s > rate + 1e-9]
    return faster[0] if faster else SHUTTLE_SPEEDS[-1]
