"""The workers of `decode_frames`: plan wanted frames into chunks, decode a chunk on one thread.

Wanted frames that share a keyframe (the last one shown at or before them) form a *run*; runs are
grouped into contiguous *chunks* of about equal decoding work. A chunk is decoded by one thread with its
own demuxer and decoder. Inside a chunk the decoder seeks only when the next run's keyframe lies ahead of
what it already read, so no stretch is decoded twice, and frames that are neither wanted nor referenced
by other frames (most B-frames) are skipped by the decoder (`skip_frame`, set packet by packet).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import av
import numpy as np

from engine.errors import VideoError
from engine.video.probe import VideoInfo, open_video_stream
from engine.video.seeking import decode_packet, seek_to_keyframe

log = logging.getLogger(__name__)

_CHUNKS_PER_WORKER = 4  # at least this many chunks per worker, to balance the load
DONE = object()  # the last item a chunk puts in its queue


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


@dataclass
class Run:
    key: int  # index of the keyframe to decode from
    targets: list[int]  # wanted frame indices reached from it, ascending


class ChunkDecoder:
    """Plans wanted frames into chunks and decodes one chunk per call of `run_chunk` (on a worker thread).

    `convert(index, frame)` turns each decoded wanted frame into what the consumer receives.
    """

    def __init__(
        self,
        info: VideoInfo,
        convert: Callable[[int, av.VideoFrame], object],
        skip_nonref: bool,
        stats: DecodeStats,
        cancel: threading.Event,
    ):
        self.info, self.convert, self.skip_nonref, self.stats = info, convert, skip_nonref, stats
        self.cancel = cancel  # the caller's: read, never set
        self.finished = threading.Event()  # set when the consumer is done (or gone)
        self.table = info.frames

    def stopping(self) -> bool:
        return self.cancel.is_set() or self.finished.is_set()

    def plan(self, targets: np.ndarray, workers: int, frames_per_chunk: int) -> list[list[Run]]:
        """Group wanted frames into runs by keyframe, then runs into chunks of about equal work.

        Output is consumed in order, so a worker ahead of the consumer must hold its chunk's frames:
        chunks are made small enough (`frames_per_chunk` wanted frames, about) that this fits in the
        buffer instead of stalling the worker.
        """
        if not self.info.frames_seekable:
            return [[Run(key=0, targets=targets.tolist())]]  # ordinal decoding from the start
        keys = self.table.seek_keyframe[targets]
        runs: list[Run] = []
        for target, key in zip(targets.tolist(), keys.tolist(), strict=True):
            if runs and runs[-1].key == key:
                runs[-1].targets.append(target)
            else:
                runs.append(Run(key=key, targets=[target]))
        pos = self.table.decode_pos
        costs = [int(pos[r.targets].max() - pos[r.key] + 1) for r in runs]
        wanted_chunks = max(workers * _CHUNKS_PER_WORKER, -(-len(targets) // frames_per_chunk))
        n_chunks = min(len(runs), wanted_chunks if workers > 1 else 1)
        budget = sum(costs) / n_chunks
        chunks: list[list[Run]] = [[]]
        spent = 0.0
        for run, cost in zip(runs, costs, strict=True):
            if chunks[-1] and spent >= budget and len(chunks) < n_chunks:
                chunks.append([])
                spent = 0.0
            chunks[-1].append(run)
            spent += cost
        return chunks

    def run_chunk(self, runs: list[Run], out: queue.Queue, single: bool) -> None:
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
        self._put(out, DONE)

    def _decode_runs(self, container, stream, runs: list[Run], out: queue.Queue, frame_threads: bool) -> None:
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
                for frame in decode_packet(cc, packet):
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
        """Seek to keyframe `key` or an earlier one (`seek_to_keyframe`); returns (packets, position)."""
        landing = seek_to_keyframe(container, stream, self.table, key)
        self.stats.add(seeks=landing.seeks)
        return landing.packets, self._decode_position(landing.first, -1) - 1

    def _decode_position(self, packet, previous: int) -> int:
        """Decode-order position of `packet`, looked up by its timestamp; else one past `previous`."""
        if packet.pts is not None:
            i = int(np.searchsorted(self.table.pts, packet.pts))
            if i < self.table.frame_count and self.table.pts[i] == packet.pts:
                return int(self.table.decode_pos[i])
        return previous + 1

    def _decode_in_order(self, container, stream, targets: list[int], out: queue.Queue) -> None:
        """For files without usable timestamps: the n-th decoded frame is frame n."""
        cc = stream.codec_context
        cc.thread_type, cc.thread_count = "AUTO", 0
        targets_left = iter(targets)
        target = next(targets_left, None)
        ordinal, last = -1, None
        for packet in container.demux(stream):
            for frame in decode_packet(cc, packet):
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
        self._put(out, self.convert(index, frame))

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


def next_item(q: queue.Queue, decoder: ChunkDecoder):
    """The next item of `q`, or None once the decoder is stopping."""
    while not decoder.stopping():
        try:
            return q.get(timeout=0.1)
        except queue.Empty:
            continue
    return None


@contextlib.contextmanager
def _open(info: VideoInfo):
    """The probed video stream of `info`, in a fresh demuxer of its own."""
    container, stream = open_video_stream(info.path, info.stream_index)
    try:
        yield container, stream
    finally:
        container.close()
