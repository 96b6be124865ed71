"""Decode just the frames asked for, fast, in order, with bounded memory.

Every wanted frame is reached by decoding forward from the last keyframe shown at or before it. The
wanted frames are planned into chunks (`chunks.py`), each decoded by its own thread with its own
demuxer (FFmpeg releases the GIL, so chunks decode in parallel on all cores), and handed to the caller
in order. Each decoded frame is turned to display orientation and resized in its worker, so only
output-size frames are ever held, and at most `buffer_bytes` of them wait for the consumer.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

import av
import numpy as np
from PIL import Image

from engine.video.chunks import DONE, ChunkDecoder, DecodeStats, next_item
from engine.video.probe import VideoInfo


@dataclass(frozen=True)
class Frame:
    """One decoded frame in display orientation."""

    index: int  # presentation-order index in the video
    time_s: float  # true presentation time
    image: np.ndarray  # [H, W, 3] uint8 RGB


@dataclass(frozen=True)
class NativeFrame:
    """One decoded frame as the decoder made it: own pixel format, coded (not display) orientation."""

    index: int
    time_s: float
    frame: av.VideoFrame  # its pts/time_base are the file's; re-stamp it before encoding


_RESAMPLE = {"bicubic": Image.BICUBIC, "bilinear": Image.BILINEAR}


def resize_frame(
    image: np.ndarray, size: int | tuple[int, int], resample: Literal["bicubic", "bilinear"] = "bicubic"
) -> np.ndarray:
    """Resize an RGB frame with PIL, aspect ratio not kept.

    `size` is a side length for a square, or (width, height). Bicubic is the InternVideo2.5 reference;
    bilinear is SAM2's processor (PIL's filter scales with the reduction, i.e. it antialiases as
    torchvision does).
    """
    width, height = (size, size) if isinstance(size, int) else size
    if image.shape[1] == width and image.shape[0] == height:
        return image
    return np.asarray(Image.fromarray(image).resize((width, height), _RESAMPLE[resample]))


def decode_frames(
    info: VideoInfo,
    indices: Sequence[int] | np.ndarray,
    *,
    size: int | tuple[int, int] | None = None,
    resample: Literal["bicubic", "bilinear"] = "bicubic",
    workers: int | None = None,
    buffer_bytes: int = 256 << 20,
    skip_nonref: bool = True,
    stats: DecodeStats | None = None,
    cancel: threading.Event | None = None,
) -> Iterator[Frame]:
    """Yield the frames at `indices` (sorted; repeats allowed), in that order.

    `size` resizes each frame with `resample` (see `resize_frame`); None keeps the displayed size.
    `workers` defaults to all cores. Closing the iterator, or setting `cancel`, stops the decoding threads.
    """
    out_w, out_h = (size, size) if isinstance(size, int) else (size or (info.width, info.height))

    def to_rgb(index: int, frame: av.VideoFrame) -> Frame:
        image = frame.to_ndarray(format="rgb24")
        if info.rotation:
            image = np.ascontiguousarray(np.rot90(image, k=-info.rotation // 90))
        if size is not None:
            image = resize_frame(image, size, resample)
        return Frame(index=index, time_s=info.frames.time_of(index), image=image)

    decoder = ChunkDecoder(info, to_rgb, skip_nonref, stats or DecodeStats(), cancel or threading.Event())
    return _run(decoder, indices, workers, frames_per_buffer=buffer_bytes // (out_w * out_h * 3))


def decode_native_frames(
    info: VideoInfo,
    indices: Sequence[int] | np.ndarray,
    *,
    workers: int | None = None,
    buffer_bytes: int = 256 << 20,
    stats: DecodeStats | None = None,
    cancel: threading.Event | None = None,
) -> Iterator[NativeFrame]:
    """Like `decode_frames`, but yield the decoder's own frames, unconverted, for re-encoding.

    No colour conversion, rotation or resizing: the export re-encodes these pixels as they are and
    keeps the file's rotation as metadata. Every frame is decoded (no skipping of B-frames).
    """

    def as_is(index: int, frame: av.VideoFrame) -> NativeFrame:
        return NativeFrame(index=index, time_s=info.frames.time_of(index), frame=frame)

    decoder = ChunkDecoder(info, as_is, False, stats or DecodeStats(), cancel or threading.Event())
    frame_bytes = info.coded_width * info.coded_height * 3 // 2  # 4:2:0; a guess for the buffer bound
    return _run(decoder, indices, workers, frames_per_buffer=buffer_bytes // frame_bytes)


def _run(decoder: ChunkDecoder, indices, workers: int | None, frames_per_buffer: int) -> Iterator:
    """Plan `indices` into chunks, decode them on `workers` threads, yield the frames in order."""
    info = decoder.info
    wanted = np.asarray(indices, dtype=np.int64)
    if wanted.size == 0:
        return
    if np.any(np.diff(wanted) < 0):
        raise ValueError("frame indices must be sorted")
    if wanted[0] < 0 or wanted[-1] >= info.frame_count:
        raise ValueError(f"frame indices must lie in 0..{info.frame_count - 1}")
    workers = max(1, workers or os.cpu_count() or 1)
    frames_per_queue = max(4, frames_per_buffer // (workers + 1))
    chunks = decoder.plan(np.unique(wanted), workers, frames_per_queue)

    queues: list[queue.Queue] = []
    pool = ThreadPoolExecutor(max_workers=min(workers, len(chunks)), thread_name_prefix="decode")
    try:
        position = 0  # into `wanted`
        for chunk_no in range(len(chunks)):
            while len(queues) < min(len(chunks), chunk_no + workers + 1):  # keep the workers busy ahead
                q: queue.Queue = queue.Queue(maxsize=frames_per_queue)
                pool.submit(
                    decoder.run_chunk, chunks[len(queues)], q, single=len(chunks) == 1 and workers > 1
                )
                queues.append(q)
            q = queues[chunk_no]
            while (item := next_item(q, decoder)) is not DONE:
                if item is None:
                    return  # cancelled
                if isinstance(item, BaseException):
                    raise item
                while position < len(wanted) and wanted[position] == item.index:
                    yield item
                    position += 1
            queues[chunk_no] = None  # type: ignore[call-overload]  # let finished chunks' frames go
    finally:
        decoder.finished.set()
        for q in queues:
            while q is not None and not q.empty():
                q.get_nowait()
        pool.shutdown(wait=True, cancel_futures=True)
