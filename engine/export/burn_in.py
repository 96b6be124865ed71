"""A video with tracked masks and object ids drawn in, H.264 in MP4, keeping the source audio.

    burn_in("clip.mp4", "tracks.json", "clip_tracked.mp4")                    # the whole video
    burn_in(info, tracker.store, "span.mp4", start_s=61.2, end_s=64.0)        # a grounded span

Frames keep their true presentation times (variable frame rate stays variable) and are drawn in
display orientation, so the output needs no rotation flag. The source audio of the same span is
decoded and encoded again as AAC, cut to the sample, so any source codec works and a span starts
in sync. libx264 with 4:2:0 chroma needs even sizes: an odd width or height gets one black pixel
column or row at the right or bottom (mask pixels keep their coordinates).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from engine.atomic import atomic_open
from engine.errors import ScenescopeError
from engine.export.frames import frame_range
from engine.jobs import Job, job_or_new
from engine.tracking import TrackStore, decode_mask, masks_at
from engine.video import VideoInfo, decode_frames, probe

log = logging.getLogger(__name__)

TIME_BASE = Fraction(1, 90000)
ALPHA = 0.45  # opacity of the mask colour
PALETTE = (  # RGB, distinct on most footage; object id n gets PALETTE[(n - 1) % len]
    (255, 64, 64),
    (64, 200, 255),
    (255, 210, 0),
    (120, 255, 80),
    (255, 80, 220),
    (255, 150, 40),
    (150, 110, 255),
    (0, 255, 190),
)


def burn_in(
    video: VideoInfo | str | os.PathLike,
    tracks: TrackStore | str | os.PathLike,
    out_path: str | os.PathLike,
    *,
    start_s: float | None = None,
    end_s: float | None = None,
    overwrite: bool = False,
    crf: int = 18,
    job: Job | None = None,
) -> Path:
    """Write the frames of [start_s, end_s) with masks and ids burned in. Returns the path.

    The frames are those a clip of the range holds (`FrameTable.frames_in`). Progress: stage "export",
    frames written; a cancelled `job` raises `Cancelled` and leaves no file.
    """
    job = job_or_new(job)
    info = video if isinstance(video, VideoInfo) else probe(video)
    store = tracks if isinstance(tracks, TrackStore) else TrackStore.load(tracks)
    if (store.width, store.height) != (info.width, info.height):
        raise ScenescopeError(
            f"The tracks are for a {store.width}x{store.height} picture but {info.path} shows "
            f"{info.width}x{info.height}: they belong to another video."
        )
    try:
        frames = frame_range(info.frames, start_s or 0.0, info.duration_s if end_s is None else end_s)
    except ValueError as e:
        raise ScenescopeError(f"Cannot burn masks into {info.path}: {e}.") from None
    first, last, clip_start, clip_end = frames.first, frames.last, frames.start_s, frames.end_s
    out_path = Path(out_path)
    with atomic_open(out_path, "wb", overwrite=overwrite) as f, av.open(f, "w", format="mp4") as out:
        video_out = _video_stream(out, info, crf)
        audio = _AudioCopier(info, out, clip_start, clip_end) if info.has_audio else None
        for written, frame in enumerate(decode_frames(info, range(first, last + 1), cancel=job.event), 1):
            job.check()
            picture = _pad_even(draw_masks(frame.image, store, frame.index))
            encoded = av.VideoFrame.from_ndarray(picture, format="rgb24")
            encoded.pts = round((frame.time_s - clip_start) / TIME_BASE)
            encoded.time_base = TIME_BASE
            out.mux(video_out.encode(encoded))
            if audio is not None:  # keep the two streams interleaved in the file
                audio.copy_until(frame.time_s - clip_start)
            job.progress("export", written, frames.frame_count)
        out.mux(video_out.encode(None))
        if audio is not None:
            audio.finish()
    return out_path


def draw_masks(image: np.ndarray, store: TrackStore, frame_index: int) -> np.ndarray:
    """[H, W, 3] uint8 RGB with every object's mask tinted, outlined and labelled with its id."""
    picture = image.copy()
    for obj_id, m in sorted(masks_at(store, frame_index).items()):
        if not m.area:
            continue
        color = np.array(PALETTE[(obj_id - 1) % len(PALETTE)], dtype=np.float32)
        mask = decode_mask(m.rle, store.height, store.width)
        picture[mask] = (picture[mask] * (1 - ALPHA) + color * ALPHA).astype(np.uint8)
        contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        thickness = max(1, round(min(store.width, store.height) / 360))
        cv2.drawContours(picture, contours, -1, tuple(int(c) for c in color), thickness)
        _label(picture, str(obj_id), m.bbox, tuple(int(c) for c in color))
    return picture


def _label(picture: np.ndarray, text: str, bbox: tuple[int, int, int, int], color: tuple[int, ...]) -> None:
    scale = max(0.4, picture.shape[0] / 720)
    thickness = max(1, round(scale * 2))
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    x = min(max(bbox[0], 0), max(0, picture.shape[1] - tw))
    y = min(max(bbox[1] - 4, th + 2), picture.shape[0] - 2)
    for ink, extra in (((0, 0, 0), 2), (color, 0)):  # dark outline first, so it reads on any background
        font = cv2.FONT_HERSHEY_SIMPLEX
        cv2.putText(picture, text, (x, y), font, scale, ink, thickness + extra, cv2.LINE_AA)


def _pad_even(picture: np.ndarray) -> np.ndarray:
    h, w = picture.shape[:2]
    if h % 2 == 0 and w % 2 == 0:
        return picture
    return np.pad(picture, ((0, h % 2), (0, w % 2), (0, 0)))


def _video_stream(out: av.container.OutputContainer, info: VideoInfo, crf: int) -> av.video.VideoStream:
    stream = out.add_stream("libx264", rate=Fraction(info.fps).limit_denominator(1001) if info.fps else 25)
    stream.width, stream.height = info.width + info.width % 2, info.height + info.height % 2
    stream.pix_fmt = "yuv420p"
    stream.time_base = TIME_BASE
    stream.codec_context.time_base = TIME_BASE
    stream.options = {"crf": str(crf), "preset": "veryfast"}
    return stream


class _AudioCopier:
    """Decodes the source's first audio stream for [clip_start, clip_end) and encodes it as AAC."""

    def __init__(
        self, info: VideoInfo, out: av.container.OutputContainer, clip_start: float, clip_end: float
    ):
        self.source = av.open(str(info.path), metadata_errors="ignore")
        src = self.source.streams.audio[0]
        self.rate = src.codec_context.sample_rate or 48000
        self.layout = src.codec_context.layout.name if src.codec_context.layout else "stereo"
        self.stream = out.add_stream("aac", rate=self.rate, layout=self.layout)
        self.stream.bit_rate = 192_000
        self.out = out
        self.file_start = info.frames.start_s
        self.clip_start, self.clip_end = clip_start, clip_end
        self.samples = self._samples()
        self.written = 0  # samples written, so the next frame's pts

    def copy_until(self, clip_time: float) -> None:
        """Encode the audio up to `clip_time` seconds into the clip."""
        while self.written < clip_time * self.rate:
            block = next(self.samples, None)
            if block is None:
                return
            self._write(block)

    def finish(self) -> None:
        for block in self.samples:
            self._write(block)
        self.out.mux(self.stream.encode(None))
        self.source.close()

    def _write(self, block: np.ndarray) -> None:
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(block), format="fltp", layout=self.layout)
        frame.sample_rate, frame.pts = self.rate, self.written
        frame.time_base = Fraction(1, self.rate)
        self.written += block.shape[1]
        self.out.mux(self.stream.encode(frame))

    def _samples(self) -> Iterator[np.ndarray]:
        """[channels, n] float32 blocks of the clip's audio, cut to the sample; gaps become silence."""
        to_planar = av.AudioResampler(format="fltp", layout=self.layout, rate=self.rate)
        cursor = round(self.clip_start * self.rate)  # next sample to give, on the file's clock
        end = round(self.clip_end * self.rate)
        src = self.source.streams.audio[0]
        if self.clip_start > 1.0:  # start reading a second early: seeks land on a packet boundary
            self.source.seek(round((self.clip_start + self.file_start - 1.0) / src.time_base), stream=src)
        try:
            for decoded in self.source.decode(src):
                for frame in to_planar.resample(decoded) if decoded.pts is not None else ():
                    start = round((float(frame.pts * frame.time_base) - self.file_start) * self.rate)
                    block = frame.to_ndarray()
                    if start > cursor:
                        yield np.zeros((block.shape[0], min(start, end) - cursor), np.float32)
                        cursor = min(start, end)
                    lo, hi = max(cursor, start), min(end, start + block.shape[1])
                    if hi > lo:
                        yield block[:, lo - start : hi - start]
                        cursor = hi
                    if cursor >= end:
                        return
        except av.error.FFmpegError as e:  # a damaged audio tail: keep what was read
            log.warning("audio of %s ends early: %s", self.source.name, e)
