"""The player as the analyst meets it: a seek, then the first picture and the exact frame on screen.

    python bench/player.py [--minutes 60] [--seeks 50]   # 1080p30 H.264, keyframe every 250, B-frames

Each of `--seeks` random seeks, in random order (as a user jumps around), goes through `Player.seek`
(QMediaPlayer paused, the exact-frame reader behind it, app/frame_reader.py) and times, from the request,
(a) the first picture painted for it (the keyframe the reader decodes first, or the exact frame when it
comes at once) and (b) the exact frame, checked by its barcode. Next to it, the decode-from-keyframe
minimum for the same frame (PyAV seeking to its keyframe and decoding up to it, nothing else:
bench/frame_reader.py's Floor). Stepping speed and the cache's memory are bench/frame_reader.py's (the
same reader). The source is generated once into bench/_media (bench/sampling.py's generator); an hour of
1080p takes long to make on 2 cores, so `--minutes` can shorten it: seek costs depend on the GOP, not on
the length of the file.
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


def seeks(info, indices: list[int]) -> tuple[list[float], list[float], list[float]]:
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
            if barcode(image) != index:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--seeks", type=int, default=50)
    args = parser.parse_args()
    from engine.video import probe

    info = probe(source_video(args.minutes, 1920, 1080, GOP, 2))
    rng = np.random.default_rng(0)
    indices = rng.choice(info.frame_count, args.seeks, replace=False).tolist()  # in random order
    first, exact, floor_s = seeks(info, indices)

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
