"""Exact frames for the paused player: random access and `.`/`,` stepping, next to the decoding floor.

    python bench/frame_reader.py                 # 1 min of 1080p30 H.264, keyframe every 250, B-frames
    python bench/frame_reader.py --cache-mb 128 --steps 200

The source is bench/sampling.py's, generated once (tests/media.py: a moving texture, each frame's index
as a barcode) and kept in bench/_media; it is read once before measuring, so all find it in the page cache.

  random access  `ExactFrames.frame(i)` with an empty cache, highest index first so that every access
                 seeks, against the floor for the same frame: PyAV seeking to its keyframe and
                 decoding up to it, nothing else (no conversion, no cache), with the same decoder
                 threads. Both keep their file and decoder open between accesses, as the player does.
  steps          `FrameReader` as the player drives it: request(k +- 1), wait for frame_ready, then
                 prefetch(k, direction) so that it fills the cache while the "user" looks; as fast as
                 frames come, and paced like a held key (30 a second). Steps per second after the
                 first step, the slowest step, how many took longer than 1/30 s, and the same steps
                 done by seeking (the floor per step: what a player that re-decodes from the
                 keyframe pays).
Every delivered frame's barcode is checked against its index.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from bench.sampling import source_video  # noqa: E402  (the generated-once test video of bench/)

GOP = 250
LATE_S = 1 / 30  # a step that takes longer than this falls behind a held key


def barcode(image) -> int:
    from tests.media import read_barcode

    width, height = image.width(), image.height()
    rows = np.frombuffer(image.constBits(), np.uint8).reshape(height, image.bytesPerLine())
    return read_barcode(rows[:, : width * 3].reshape(height, width, 3))


class Floor:
    """The decoding floor: seek to the frame's keyframe, decode up to the frame, nothing else."""

    def __init__(self, info) -> None:
        import av

        self.info = info
        self.container = av.open(str(info.path))
        self.stream = self.container.streams.video[0]
        self.stream.codec_context.thread_type = "AUTO"
        self.stream.codec_context.thread_count = 0

    def seconds(self, index: int) -> float:
        table = self.info.frames
        key, target = int(table.pts[table.seek_keyframe[index]]), int(table.pts[index])
        start = time.perf_counter()
        self.container.seek(key, stream=self.stream, backward=True)
        for frame in self.container.decode(self.stream):
            if frame.pts == target:
                return time.perf_counter() - start
        raise RuntimeError(f"frame {index} not decoded")

    def close(self) -> None:
        self.container.close()


def random_access(info, indices: list[int], cache_bytes: int) -> tuple[list[float], list[float], bool]:
    """Each index once, highest first (so none is reached by decoding on from the one before), with
    the cache emptied before each: every access seeks and decodes from the frame's keyframe."""
    from app.exact_frames import ExactFrames

    ours, floor_s, correct = [], [], True
    frames, floor = ExactFrames(info, cache_bytes), Floor(info)
    for index in sorted(indices, reverse=True):  # interleaved, so both see the same machine load
        floor_s.append(floor.seconds(index))
        frames.cache.clear()
        start = time.perf_counter()
        image = frames.frame(index)
        ours.append(time.perf_counter() - start)
        correct &= barcode(image) == index
    frames.close()
    floor.close()
    return ours, floor_s, correct


def stepping(info, start: int, steps: int, direction: int, cache_bytes: int, pace_s: float = 0) -> dict:
    """Step `steps` frames from `start` through a FrameReader, as the player does: as fast as frames
    come, or one step every `pace_s` (a held key repeats about 30 times a second)."""
    from PySide6.QtCore import QEventLoop, QTimer

    from app.frame_reader import FrameReader

    reader = FrameReader(info, cache_bytes)
    loop = QEventLoop()
    got: list[tuple[int, object]] = []

    def on_frame(index, image, generation):
        got.append((index, image))
        loop.quit()

    def on_failed(index, message, generation):
        raise SystemExit(f"frame {index} failed: {message}")

    reader.frame_ready.connect(on_frame)
    reader.failed.connect(on_failed)
    QTimer.singleShot(120_000, loop.quit)  # a hang fails the run instead of stalling it
    times, correct, peak = [], True, 0
    next_step = 0.0
    for step in range(steps + 1):
        index = start + step * direction
        time.sleep(max(0.0, next_step - time.perf_counter()))
        t0 = time.perf_counter()
        next_step = t0 + pace_s
        reader.request(index, step)
        loop.exec()
        times.append(time.perf_counter() - t0)
        got_index, image = got.pop()
        correct &= got_index == index and barcode(image) == index
        reader.prefetch(index, direction)
        peak = max(peak, reader.cache_bytes())
    frames_cached = reader.cache_frames()
    reader.close()
    after_first = times[1:]
    return {
        "first_ms": times[0] * 1e3,
        "steps_per_s": f"{len(after_first) / sum(after_first):.1f}",
        "median_ms": statistics.median(after_first) * 1e3,
        "max_ms": max(after_first) * 1e3,
        "late": sum(t > LATE_S for t in after_first),
        "correct": correct,
        "peak_mb": peak / 2**20,
        "frames_cached": frames_cached,
    }


def seek_stepping(info, start: int, steps: int, direction: int, sample: int) -> float:
    """Steps per second of re-decoding from the keyframe at every step (the floor of each seek)."""
    floor = Floor(info)
    indices = [start + step * direction for step in range(1, steps + 1)]
    chosen = indices[:: max(1, len(indices) // sample)]
    seconds = statistics.fmean(floor.seconds(i) for i in chosen)
    floor.close()
    return 1 / seconds


def stats_row(label: str, values: list[float]) -> str:
    median, p95 = statistics.median(values), float(np.percentile(values, 95))
    return f"  {label:38s}{median:9.2f}{p95:8.2f}{max(values):8.2f}"


def yes(ok: bool) -> str:
    return "yes" if ok else "NO"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=1)
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--bframes", type=int, default=2)
    parser.add_argument("--accesses", type=int, default=30)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--cache-mb", type=int, default=256)
    args = parser.parse_args()

    from PySide6.QtCore import QCoreApplication

    from engine.video import probe

    app = QCoreApplication.instance() or QCoreApplication([])  # event loop for the reader's signals
    path = source_video(args.minutes, args.width, args.height, GOP, args.bframes)
    path.read_bytes()  # into the page cache
    info = probe(path)
    cache_bytes = args.cache_mb << 20
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((line.split(":")[1].strip() for line in cpuinfo if "model name" in line), "?")
    print(f"source: {path.name}, {info.frame_count} frames, {path.stat().st_size / 1e6:.0f} MB")
    print(
        f"machine: {os.cpu_count()} cores ({cpu}), Python {platform.python_version()};"
        f" cache {args.cache_mb} MiB"
    )

    rng = np.random.default_rng(0)
    indices = rng.choice(info.frame_count, args.accesses, replace=False).tolist()
    ours, floor_s, correct = random_access(info, indices, cache_bytes)
    ratios = [a / b for a, b in zip(ours, floor_s, strict=True)]
    print(f"\nrandom exact access, {len(indices)} frames            median     p95     max")
    print(
        stats_row("ExactFrames.frame, empty cache (ms)", [t * 1e3 for t in ours])
        + f"  correct: {yes(correct)}"
    )
    print(stats_row("floor: PyAV keyframe -> frame (ms)", [t * 1e3 for t in floor_s]))
    print(stats_row("ratio ours / floor, per frame", ratios))

    # Start in the middle of a GOP and cross a keyframe either way.
    start_fwd = min(info.frame_count - args.steps - 1, 3 * GOP + 100)
    start_back = min(info.frame_count - 1, 5 * GOP + 150)
    print(
        f"\n{args.steps} steps            steps/s  median ms  max ms  >33 ms  first ms  peak MiB  cached"
        "  correct  by seeking/s"
    )
    for name, start, direction in (("'.' forward ", start_fwd, 1), ("',' backward", start_back, -1)):
        seek_rate = seek_stepping(info, start, args.steps, direction, sample=25)
        for pace, label in ((0.0, "fastest"), (1 / 30, "at 30/s")):
            r = stepping(info, start, args.steps, direction, cache_bytes, pace)
            rate = "-" if pace else r["steps_per_s"]  # paced: the pace, not a measurement
            print(
                f"{name} {label} {rate:>9} {r['median_ms']:10.1f} {r['max_ms']:7.1f}"
                f" {r['late']:7d} {r['first_ms']:9.1f} {r['peak_mb']:9.1f} {r['frames_cached']:7d}"
                f"  {yes(r['correct']):7s}  {seek_rate:11.1f}"
            )
    del app


if __name__ == "__main__":
    main()
