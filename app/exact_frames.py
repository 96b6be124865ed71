"""Exact frames of a video by frame index, for the player while it is paused or stepping.

Qt's player seeks by time and misses frames on variable-frame-rate, open-GOP and MPEG-TS files
(../shared/docs/gui_patterns.md §1.2). Here a frame is reached by decoding from the keyframe the
engine's frame table names for it, and every decoded frame is identified by its timestamp in that
table, never by counting, so the picture is exactly the frame of its index.

One demuxer and decoder stay open. A frame ahead of the last one decoded, with no keyframe in
between that decoding could start from, is reached by decoding on (forward stepping costs one frame);
anything else seeks. Decoded frames are kept, in the decoder's own pixel format (half the bytes of
RGB), in a `FrameCache` around the playhead; `prefetch_step` fills it ahead in the direction of travel,
so that backward stepping decodes a stretch once and then shows it from memory.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import av
import numpy as np
from PySide6.QtGui import QImage, QTransform

from app.frame_cache import FrameCache
from engine.errors import VideoError
from engine.video import VideoInfo, decode_packet, open_video_stream, seek_to_keyframe

log = logging.getLogger(__name__)

DEFAULT_CACHE_BYTES = 256 << 20
# Refill the frames ahead when fewer than this share of the cache's frames lie ahead of the playhead.
# Backward refills decode from a keyframe, so each one should bring many frames: half the cache.
_PREFETCH_SHARE = 0.5


class ExactFrames:
    """Exact frames of `info`'s video as QImages (RGB888, display orientation), with a frame cache.

    Not thread-safe: use it from one thread at a time (`FrameReader` runs it in its own thread).
    """

    def __init__(self, info: VideoInfo, cache_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        self.info = info
        self.table = info.frames
        self.cache: FrameCache[av.VideoFrame] = FrameCache(cache_bytes)
        self.seeks = 0  # how often decoding started over (seek, or reopen for files without timestamps)
        self.decoded = 0  # frames the decoder produced
        self._container, self._stream = self._open()
        self._decoding: Iterator[av.VideoFrame] | None = None  # decoded frames of the current run
        self._alone: tuple[av.container.InputContainer, av.video.VideoStream] | None = None
        self._last = -1  # index of the last frame the current run produced
        self._target = 0  # the frame the current `_decode_to` is after
        self._horizon = 0.0  # frames farther than this from the playhead will not stay in the cache
        self._skipped: set[int] = set()  # frames of the current run whose packets went in as skippable
        self._ordinal = -1  # files without timestamps: frames counted since the start (nothing else)
        self._playhead = 0
        self._direction = 1
        self._rotate = QTransform().rotate(info.rotation) if info.rotation else None

    def close(self) -> None:
        self._decoding = None
        self.cache.clear()
        self._container.close()
        if self._alone is not None:
            self._alone[0].close()

    def focus(self, playhead: int, direction: int) -> None:
        """The frame on screen and the way (+1 forward, -1 backward) the user is going."""
        self._playhead = playhead
        self._direction = 1 if direction >= 0 else -1
        self.cache.focus(self._playhead, self._direction)

    def frame(
        self,
        index: int,
        interrupted: Callable[[], bool] | None = None,
        preview: Callable[[int, QImage], None] | None = None,
    ) -> QImage | None:
        """Exactly frame `index`, in display orientation. None only if `interrupted()` said stop.

        When reaching it takes a seek, `preview(index, image)` gets the first frame decoded after the
        seek (the keyframe: tens of milliseconds in), so a window can show a picture at once while the
        exact frame, up to a GOP later, is decoded.

        Also makes `index` the playhead (direction: the way it moved from the previous one). Raises
        `VideoError` when the file cannot deliver the frame (damaged or cut off there).
        """
        if not 0 <= index < self.table.frame_count:
            raise ValueError(f"frame {index} is outside the video (0..{self.table.frame_count - 1})")
        if index != self._playhead:
            self.focus(index, index - self._playhead)
        frame = self.cache.get(index)
        if frame is None:
            frame = self._decode_to(index, interrupted, preview)
        return None if frame is None else self._image(frame)

    def prefetch_step(self, interrupted: Callable[[], bool] | None = None) -> bool:
        """Decode towards the nearest frame ahead of the playhead the cache lacks. False: nothing to do."""
        target = self._next_missing()
        if target is None:
            return False
        self._decode_to(target, interrupted)
        return True

    def cache_bytes(self) -> int:
        return self.cache.bytes

    def cache_frames(self) -> int:
        return len(self.cache)

    def _next_missing(self) -> int | None:
        """The first uncached frame ahead, if it lies within the prefetch reach and would be kept."""
        reach = int(self.cache.capacity_frames() * _PREFETCH_SHARE)
        for step in range(1, reach + 1):
            index = self._playhead + step * self._direction
            if not 0 <= index < self.table.frame_count:
                return None
            if index not in self.cache:
                return index if self.cache.would_keep(index, self.cache.largest_frame_bytes) else None
        return None

    def _decode_to(
        self,
        target: int,
        interrupted: Callable[[], bool] | None,
        preview: Callable[[int, QImage], None] | None = None,
    ) -> av.VideoFrame | None:
        """Decode up to frame `target`, caching what passes; None if `interrupted()` said stop first."""
        self._target = target
        try:
            if self._continues_to(target):
                preview = None  # decoding on: the target is a few frames away
            else:
                keyframe = self._restart_for(target)
                if preview is not None and keyframe is not None:
                    show, preview = preview, None  # the main decoder's first frame would come later
                    alone = self._decode_alone(keyframe)
                    if alone is not None and alone[0] == target:
                        return self._cached(*alone)
                    if alone is not None:
                        show(alone[0], self._image(alone[1]))
            self._horizon = self._survivors_horizon(target)
            assert self._decoding is not None
            for frame in self._decoding:
                index = self._index_of(frame)
                if index is None:
                    continue
                self.decoded += 1
                self._last = index
                self._cached(index, frame)
                if index == target:
                    return frame
                if preview is not None:
                    preview(index, self._image(frame))
                    preview = None
                if index > target:
                    break  # output is in presentation order: the target was never produced
                if interrupted is not None and interrupted():
                    return None
        except av.error.FFmpegError as e:
            self._decoding = None
            raise VideoError(
                f"Reading {self.info.path} failed at frame {target}: {e}. The file is damaged."
            ) from None
        self._decoding = None
        raise VideoError(
            f"Frame {target} of {self.info.path} cannot be decoded: the file is damaged or cut off there. "
            "Copy it again from the source, or re-encode it."
        )

    def _survivors_horizon(self, target: int) -> float:
        """The distance from the playhead within which the frames cached now and the frames decoded on
        the way to `target` fit in the cache: frames beyond it would be dropped again."""
        slots = self.cache.capacity_frames()
        coming = (i for i in range(self._last + 1, target + 1) if i not in self.cache)
        distances = sorted(map(self.cache.distance, [*self.cache.indices(), *coming]))
        return distances[slots - 1] if 0 < slots <= len(distances) else float("inf")

    def _continues_to(self, target: int) -> bool:
        """Whether decoding on from where the decoder is reaches `target` without seeking."""
        if self._decoding is None or self._last >= target or target in self._skipped:
            return False
        return not self.info.frames_seekable or self.table.seek_keyframe[target] <= self._last + 1

    def _restart_for(self, target: int) -> av.Packet | None:
        """Start decoding where `target` can be reached from: its keyframe, or the file's start.
        Returns the keyframe's packet (None for files without timestamps)."""
        self.seeks += 1
        self._skipped.clear()
        if self.info.frames_seekable:
            key = int(self.table.seek_keyframe[target])
            landing = seek_to_keyframe(self._container, self._stream, self.table, key)
            self._decoding = self._decode_packets(landing.packets)
            self._last = key - 1
            return landing.first
        # no usable timestamps: frames can only be counted from the start
        self._container.close()
        self._container, self._stream = self._open()
        self._decoding = self._decode_packets(self._container.demux(self._stream))
        self._last = self._ordinal = -1
        return None

    def _decode_alone(self, keyframe: av.Packet) -> tuple[int, av.VideoFrame] | None:
        """The keyframe decoded on its own, with its index; None if it cannot be.

        The main decoder runs frame threads and reorders for B-frames, so its first frame after a seek
        comes out only after several packets went in. A second decoder without frame threads, flushed
        right after the one packet, gives the keyframe after one frame's decoding: the picture a seek
        shows first (and the exact frame, when the keyframe is the one asked for).
        """
        if self._alone is None:
            self._alone = open_video_stream(self.info.path, self.info.stream_index)
            self._alone[1].codec_context.thread_type = "SLICE"
        cc = self._alone[1].codec_context
        try:
            frames = [*decode_packet(cc, keyframe), *cc.decode(None)]
        except av.error.FFmpegError as e:  # the main decoder meets the damage too, and says so
            log.debug("the keyframe at pts %s does not decode alone: %s", keyframe.pts, e)
            frames = []
        finally:
            cc.flush_buffers()  # after the flush at its end of stream, a decoder takes packets again
        index = self._index_of_pts(frames[0].pts) if frames else None
        return None if index is None else (index, frames[0])

    def _cached(self, index: int, frame: av.VideoFrame) -> av.VideoFrame:
        self.cache.put(index, frame, sum(plane.buffer_size for plane in frame.planes))
        return frame

    def _decode_packets(self, packets: Iterator[av.Packet]) -> Iterator[av.VideoFrame]:
        """Decoded frames. Frames before the target that will not stay in the cache are skipped if
        nothing refers to them (most B-frames), which makes a long stretch before the target cheaper.
        Frames from the target on are always decoded: decoding on is expected to produce them."""
        cc = self._stream.codec_context
        for packet in packets:
            index = self._index_of_pts(packet.pts) if packet.size and self.info.frames_seekable else None
            if index is None or index >= self._target or self.cache.distance(index) <= self._horizon:
                cc.skip_frame = "DEFAULT"
            else:
                cc.skip_frame = "NONREF"
                self._skipped.add(index)
            yield from decode_packet(cc, packet)

    def _open(self) -> tuple[av.container.InputContainer, av.video.VideoStream]:
        container, stream = open_video_stream(self.info.path, self.info.stream_index)
        stream.codec_context.thread_type = "AUTO"  # frame threads: random access decodes on all cores
        stream.codec_context.thread_count = 0
        return container, stream

    def _index_of(self, frame: av.VideoFrame) -> int | None:
        """The table index of a decoded frame, by its timestamp; None for a frame the table lacks."""
        if not self.info.frames_seekable:
            self._ordinal += 1
            return self._ordinal
        return self._index_of_pts(frame.pts)

    def _index_of_pts(self, pts: int | None) -> int | None:
        if pts is None:
            return None
        i = int(np.searchsorted(self.table.pts, pts))
        return i if i < self.table.frame_count and self.table.pts[i] == pts else None

    def _image(self, frame: av.VideoFrame) -> QImage:
        rgb = frame.to_ndarray(format="rgb24")
        height, width = rgb.shape[:2]
        image = QImage(width, height, QImage.Format.Format_RGB888)
        rows = np.frombuffer(image.bits(), np.uint8).reshape(height, image.bytesPerLine())
        rows[:, : width * 3] = rgb.reshape(height, width * 3)
        return image.transformed(self._rotate) if self._rotate is not None else image
