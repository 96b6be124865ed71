"""Decode just the frames asked for, fast, in order, with bounded memory.

The plan: every wanted frame is reached by decoding forward from the last keyframe shown at or before
it. Wanted frames that share a keyframe form a *run*. Runs are split into contiguous *chunks* of about
equal decoding work, and each chunk is decoded by its own thread with its own demuxer and decoder
(FFmpeg releases the GIL, so chunks decode in parallel on all cores). Inside a chunk the decoder seeks
only when the next run's keyframe lies ahead of what it already read, so no stretch is decoded twice,
and frames that are neither wanted nor referenced by other frames (most B-frames) are skipped unread.

Each decoded frame is turned to display orientation and resized in the worker, so only output-size
frames are ever held, and at most `buffer_bytes` of them wait for the consumer.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal

import av
import numpy as np
from PIL import Image

from engine.errors import VideoError
from engine.video.probe import VideoInfo, open_video_stream

log = logging.getLogger(__name__)

_SEEK_BACKOFF_S = (0, 1, 4, 16, None)  # seek this far before a keyframe when landing past it; None: start
_CHUNKS_PER_WORKER = 4  # at least this many chunks per worker, to balance the load
_DONE = object()


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


@dataclass
class DecodeStats:
    """What a decode cost. Updated from the worker threads."""

    frames_decoded: int = 0  # pictures the decoder produced (skipped non-reference frames not counted)
    seeks: int = 0
    substituted: int = 0  # wanted frames the decoder never produced (damaged file), replaced by a neighbour
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, decoded: int = 0, seeks: int = 0, substituted: int = 0) -> None:
        with self._lock:
            self.frames_decoded += decoded
            self.seeks += seeks
            self.substituted += substituted


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
    decoder = _ChunkDecoder(
        info, size, skip_nonref, stats or DecodeStats(), cancel or threading.Event(), resample=resample
    )
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
    decoder = _ChunkDecoder(
        info, None, False, stats or DecodeStats(), cancel or threading.Event(), native=True
    )
    frame_bytes = info.coded_width * info.coded_height * 3 // 2  # 4:2:0; a guess for the buffer bound
    return _run(decoder, indices, workers, frames_per_buffer=buffer_bytes // frame_bytes)


def _run(decoder: _ChunkDecoder, indices, workers: int | None, frames_per_buffer: int) -> Iterator:
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
            while (item := _get(q, decoder)) is not _DONE:
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


@dataclass
class _Run:
    key: int  # index of the keyframe to decode from
    targets: list[int]  # wanted frame indices reached from it, ascending


class _ChunkDecoder:
    def __init__(self, info, size, skip_nonref, stats, cancel, native=False, resample="bicubic"):
        self.info, self.size, self.skip_nonref, self.stats = info, size, skip_nonref, stats
        self.resample = resample
        self.cancel = cancel  # the caller's: read, never set
        self.finished = threading.Event()  # set when the consumer is done (or gone)
        self.native = native  # emit NativeFrame (the decoder's own frame) instead of an RGB Frame
        self.table = info.frames

    def stopping(self) -> bool:
        return self.cancel.is_set() or self.finished.is_set()

    def plan(self, targets: np.ndarray, workers: int, frames_per_chunk: int) -> list[list[_Run]]:
        """Group wanted frames into runs by keyframe, then runs into chunks of about equal work.

        Output is consumed in order, so a worker ahead of the consumer must hold its chunk's frames:
        chunks are made small enough (`frames_per_chunk` wanted frames, about) that this fits in the
        buffer instead of stalling the worker.
        """
        if not self.info.frames_seekable:
            return [[_Run(key=0, targets=targets.tolist())]]  # ordinal decoding from the start
        keys = self.table.seek_keyframe[targets]
        runs: list[_Run] = []
        for target, key in zip(targets.tolist(), keys.tolist(), strict=True):
            if runs and runs[-1].key == key:
                runs[-1].targets.append(target)
            else:
                runs.append(_Run(key=key, targets=[target]))
        pos = self.table.decode_pos
        costs = [int(pos[r.targets].max() - pos[r.key] + 1) for r in runs]
        wanted_chunks = max(workers * _CHUNKS_PER_WORKER, -(-len(targets) // frames_per_chunk))
        n_chunks = min(len(runs), wanted_chunks if workers > 1 else 1)
        budget = sum(costs) / n_chunks
        chunks: list[list[_Run]] = [[]]
        spent = 0.0
        for run, cost in zip(runs, costs, strict=True):
            if chunks[-1] and spent >= budget and len(chunks) < n_chunks:
                chunks.append([])
                spent = 0.0
            chunks[-1].append(run)
            spent += cost
        return chunks

    def run_chunk(self, runs: list[_Run], out: queue.Queue, single: bool) -> None:
        try:
            with _open(self.info) as (container, stream):
                if self.info.frames_seekable:
                    self._decode_runs(container, stream, runs, out, frame_threads=single)
                else:
                    self._decode_in_order(container, stream, runs[0].targets, out)
        except VideoError as e:
            self._put(out, e)
        except (av.error.FFmpegError, OSError) as e:
            self._put(out, VideoError(f"Decoding {self.info.path} failed: {e}. The file may be damaged."))
        except BaseException as e:  # a bug: hand it to the consumer rather than lose it in the thread
            self._put(out, e)
        self._put(out, _DONE)

    def _decode_runs(
        self, container, stream, runs: list[_Run], out: queue.Queue, frame_threads: bool
    ) -> None:
        table, cc = self.table, stream.codec_context
        if frame_threads:  # one chunk: let FFmpeg thread the decoder itself; skip_frame stays off then
            cc.thread_type, cc.thread_count = "AUTO", 0
        else:
            cc.thread_type, cc.thread_count = "SLICE", 1
        skip = self.skip_nonref and not frame_threads
        pending = [t for run in runs for t in run.targets]  # ascending
        pending_pts = [int(table.pts[t]) for t in pending]
        wanted_pts = set(pending_pts)
        done = 0  # how many of `pending` were delivered
        packets = None
        read_pos = -1  # decode position of the last packet fed to the decoder
        last = None  # last decoded frame: stands in for a wanted frame the decoder never produced
        for run in runs:
            run_end = pending.index(run.targets[-1]) + 1  # deliver pending[:run_end] in this run
            if done >= run_end:
                continue  # already delivered while decoding an earlier run
            if packets is None or table.decode_pos[run.key] > read_pos + 1:
                packets, read_pos = self._seek(container, stream, run.key)
                last = None
            for packet in packets:
                if self.stopping():
                    return
                if packet.size:
                    read_pos = self._decode_position(packet, read_pos)
                    if skip:
                        cc.skip_frame = "DEFAULT" if packet.pts in wanted_pts else "NONREF"
                for frame in self._decode_packet(cc, packet):
                    self.stats.add(decoded=1)
                    # Output is in presentation order: a wanted frame we passed was never produced.
                    while done < run_end and frame.pts is not None and frame.pts > pending_pts[done]:
                        self._substitute(pending[done], last or frame, out)
                        done += 1
                    if done < len(pending) and frame.pts == pending_pts[done]:
                        self._emit(pending[done], frame, out)
                        done += 1
                    last = frame
                if done >= run_end:
                    break
            else:  # end of the file before the run was complete
                packets = None
                while done < run_end:
                    self._substitute(pending[done], last, out)
                    done += 1

    def _seek(self, container, stream, key: int):
        """Seek so that decoding starts at keyframe `key` or an earlier one; returns (packets, position).

        Some demuxers land after the keyframe asked for (MPEG-TS seeks by byte position). Then the first
        keyframe read is past it, and we seek again from further back, finally from the file's start.
        Packets before the first keyframe read cannot be decoded and are dropped.
        """
        key_pts = int(self.table.pts[key])
        ticks_per_s = round(1 / self.table.time_base)
        for backoff_s in _SEEK_BACKOFF_S:
            if backoff_s is None:
                container.seek(0)  # the start of the file, whatever its timestamps
            else:
                container.seek(key_pts - backoff_s * ticks_per_s, stream=stream, backward=True)
            self.stats.add(seeks=1)
            packets = container.demux(stream)
            first_key = next((p for p in packets if p.size and p.is_keyframe), None)
            if first_key is None:
                continue
            landed = first_key.pts if first_key.pts is not None else first_key.dts
            if landed is None or landed <= key_pts:
                return _prepend(first_key, packets), self._decode_position(first_key, -1) - 1
        raise VideoError(f"Seeking in {self.info.path} fails: the file's index is damaged.")

    def _decode_position(self, packet, previous: int) -> int:
        """Decode-order position of `packet`, looked up by its timestamp; else one past `previous`."""
        if packet.pts is not None:
            i = int(np.searchsorted(self.table.pts, packet.pts))
            if i < self.table.frame_count and self.table.pts[i] == packet.pts:
                return int(self.table.decode_pos[i])
        return previous + 1

    def _decode_packet(self, cc, packet) -> list[av.VideoFrame]:
        """Frames out of the decoder for `packet`; a damaged packet is dropped, as players do."""
        try:
            return cc.decode(packet if packet.size else None)
        except av.error.InvalidDataError:
            log.debug("dropping a damaged packet at pts %s of %s", packet.pts, self.info.path)
            return []

    def _decode_in_order(self, container, stream, targets: list[int], out: queue.Queue) -> None:
        """For files without usable timestamps: the n-th decoded frame is frame n."""
        cc = stream.codec_context
        cc.thread_type, cc.thread_count = "AUTO", 0
        targets_left = iter(targets)
        target = next(targets_left, None)
        ordinal, last = -1, None
        for packet in container.demux(stream):
            for frame in self._decode_packet(cc, packet):
                if self.stopping():
                    return
                self.stats.add(decoded=1)
                ordinal += 1
                last = frame
                while target is not None and target == ordinal:
                    self._emit(target, frame, out)
                    target = next(targets_left, None)
                if target is None:
                    return
        while target is not None and last is not None:
            self._substitute(target, last, out)
            target = next(targets_left, None)

    def _emit(self, index: int, frame: av.VideoFrame, out: queue.Queue) -> None:
        if self.native:
            self._put(out, NativeFrame(index=index, time_s=self.table.time_of(index), frame=frame))
            return
        image = frame.to_ndarray(format="rgb24")
        if self.info.rotation:
            image = np.ascontiguousarray(np.rot90(image, k=-self.info.rotation // 90))
        if self.size is not None:
            image = resize_frame(image, self.size, self.resample)
        self._put(out, Frame(index=index, time_s=self.table.time_of(index), image=image))

    def _substitute(self, index: int, frame: av.VideoFrame | None, out: queue.Queue) -> None:
        if frame is None:
            raise VideoError(f"Frame {index} of {self.info.path} cannot be decoded. The file is damaged.")
        log.warning(
            "frame %d of %s was not decoded (damaged file?); using a neighbour", index, self.info.path
        )
        self.stats.add(substituted=1)
        self._emit(index, frame, out)

    def _put(self, out: queue.Queue, item) -> None:
        while not self.stopping():
            try:
                out.put(item, timeout=0.1)
                return
            except queue.Full:
                continue


def _get(q: queue.Queue, decoder: _ChunkDecoder):
    """The next item of `q`, or None once the decoder is stopping."""
    while not decoder.stopping():
        try:
            return q.get(timeout=0.1)
        except queue.Empty:
            continue
    return None


def _prepend(first, rest):
    yield first
    yield from rest


@contextlib.contextmanager
def _open(info: VideoInfo):
    """The probed video stream of `info`, in a fresh demuxer of its own."""
    container, stream = open_video_stream(info.path, info.stream_index)
    try:
        yield container, stream
    finally:
        container.close()
