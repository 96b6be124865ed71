"""The player as the analyst meets it: a seek, then the first picture and the exact frame on screen.

    python bench/player.py [--minutes 60] [--seeks 50]   # 1080p30 H.264, keyframe every 250, B-frames

Each of `--seeks` random seeks, in random order (as a user jumps around), goes through `Player.seek`
(QMediaPlayer paused, the exact-frame reader behind it, app/frame_reader.py) and times, from the request,
(a) the first picture painted for it (the keyframe the reader decodes first, or the exact frame when it
comes at once) and (b) the exact frame, checked by its barcode. Next to it, the decode-from-keyframe
minimum for the same frame (PyAV seeking to its keyframe and decoding up to it, nothing else:
bench/frame_reader.py's Floor). Stepping speed and the cache's memory are bench/frame_reader.py's (the
same reader). The source is one generated minute (bench/sampling.py's generator, made once into
bench/_media; encoding an hour of 1080p takes hours on 2 cores) repeated `--minutes` times into one MP4
by copying packets with their timestamps moved on: an hour long, with the hour's frame table and
index, and frame i carrying the barcode of i modulo one minute.
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

from bench.frame_reader import GOP, Floor, barcode  # noqa: E402
from bench.sampling import source_video  # noqa: E402


def seeks(info, indices: list[int], period: int) -> tuple[list[float], list[float], list[float]]:
    """(first picture, exact frame, decode minimum) seconds per seek; frame i's barcode is i % period."""
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from app.frame_reader import FrameReader
    from app.player import Player

    QApplication.instance() or QApplication([])
    player = Player()
    player.open(info, FrameReader(info))
    loop = QEventLoop()
    first: list[float] = []
    exact: list[float] = []
    target = {"index": -1, "start": 0.0, "first": None}

    def shown(image, index) -> None:
        now = time.perf_counter()
        if target["first"] is None:
            target["first"] = now - target["start"]
        if index == target["index"]:
            if barcode(image) != index % period:
                raise SystemExit(f"frame {index} painted with barcode {barcode(image)}")
            exact.append(now - target["start"])
            first.append(target["first"])
            loop.quit()

    player.frame_shown.connect(shown)
    QTimer.singleShot(0, loop.quit)
    loop.exec()  # let the first frame arrive
    floor, floor_s = Floor(info), []
    give_up = QTimer(singleShot=True, interval=60_000)  # one timer: a stale one would end a later wait
    give_up.timeout.connect(loop.quit)
    for index in indices:
        floor_s.append(floor.seconds(index))  # interleaved: both see the same machine load
        target.update(index=index, start=time.perf_counter(), first=None)
        player.seek(info.frames.time_of(index))
        give_up.start()
        loop.exec()
        if len(exact) < len(floor_s):
            raise SystemExit(f"frame {index} was not shown within a minute")
    floor.close()
    player.close()
    return first, exact, floor_s


def repeated(source: Path, times: int) -> Path:
    """`source` played `times` over, in one MP4: packets copied with their timestamps moved on, so a
    long file is made in seconds. Frame `i` carries the barcode of frame `i % frames of source`."""
    import av

    from engine.video import probe

    path = source.with_name(f"{source.stem}_x{times}.mp4")
    if path.exists():
        return path
    print(f"making {path.name} (once) ...", flush=True)
    table = probe(source).frames
    length = int(table.pts[-1] - table.pts[0]) + int(np.median(np.diff(table.pts)))  # in stream ticks
    tmp = path.with_suffix(".part.mp4")
    with av.open(str(source)) as inp, av.open(str(tmp), "w") as out:
        stream = inp.streams.video[0]
        target = out.add_stream_from_template(stream)
        for k in range(times):
            inp.seek(0)
            for packet in inp.demux(stream):
                if packet.size == 0:  # the demuxer's end-of-stream marker
                    continue
                packet.pts += k * length
                packet.dts += k * length
                packet.stream = target
                out.mux(packet)
    tmp.rename(path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--seeks", type=int, default=50)
    args = parser.parse_args()
    from engine.video import probe

    minute = source_video(1, 1920, 1080, GOP, 2)  # an hour of 1080p takes hours to encode on 2 cores
    per_minute = probe(minute).frame_count
    info = probe(repeated(minute, round(args.minutes)) if args.minutes > 1 else minute)
    rng = np.random.default_rng(0)
    indices = rng.choice(info.frame_count, args.seeks, replace=False).tolist()  # in random order
    first, exact, floor_s = seeks(info, indices, per_minute)

    def ms(values: list[float], q: float) -> float:
        return float(np.percentile(values, q)) * 1e3

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; Qt offscreen")
    print(f"source: {info.path.name}, {info.frame_count} frames, 1080p, keyframe every {GOP}, B-frames")
    print(f"{len(indices)} random seeks, from the request        median     p95")
    print(f"  first picture on screen                   {ms(first, 50):8.1f} {ms(first, 95):7.1f} ms")
    print(f"  exact frame on screen                     {ms(exact, 50):8.1f} {ms(exact, 95):7.1f} ms")
    print(f"  decode from keyframe (minimum)            {ms(floor_s, 50):8.1f} {ms(floor_s, 95):7.1f} ms")
    ratios = [e / f for e, f in zip(exact, floor_s, strict=True)]
    print(f"  exact / minimum, per seek                 {statistics.median(ratios):8.2f}x"
          f" {np.percentile(ratios, 95):6.2f}x")  # fmt: skip
    print(f"  first picture within 100 ms               {sum(t <= 0.1 for t in first)} of {len(first)}")


if __name__ == "__main__":
    main()
