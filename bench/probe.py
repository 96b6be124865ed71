"""The frame table of a long MP4: read from its index vs one demux pass over every packet, side by side.

    python bench/probe.py                       # the files bench/sampling.py generated
    python bench/probe.py VIDEO [VIDEO ...]
    python bench/probe.py --fragmented [VIDEO ...]   # also fragmented copies, as recorders write them

For each file, each way runs 3 times from a cold page cache (the kernel's caches are dropped before
every run, which needs root; otherwise the runs are warm and say so), and the medians are printed with
their ratio. Both ways must give the same table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from engine.video.frame_table import read_frame_table  # noqa: E402
from engine.video.mp4_index import read_indexed_frame_table  # noqa: E402
from tests.media import remux_mp4  # noqa: E402

# What OBS's fragmented MP4 and `ffmpeg -movflags frag_keyframe+empty_moov` write: a moof per GOP.
FRAGMENTED = {"movflags": "frag_keyframe+empty_moov"}


def fragmented_copy(path: Path) -> Path:
    """The same packets in a fragmented MP4 next to `path`, written once."""
    target = path.with_name(f"{path.stem}_fragmented.mp4")
    if not target.exists():
        remux_mp4(path, target.with_suffix(".part"), FRAGMENTED).replace(target)
    return target


def drop_page_cache() -> bool:
    if os.geteuid() != 0:
        return False
    return subprocess.run("sync; echo 3 > /proc/sys/vm/drop_caches", shell=True).returncode == 0


def timed(read, path: Path, cold: bool):
    if cold:
        drop_page_cache()
    start = time.perf_counter()
    with av.open(str(path)) as container:
        table = read(container, container.streams.video[0])
    return time.perf_counter() - start, table


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("videos", nargs="*", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--fragmented", action="store_true", help="also time fragmented copies")
    args = parser.parse_args()
    media = REPO / "bench" / "_media"
    videos = args.videos or sorted(
        p for p in media.glob("sampling_10min_*.mp4") if "fragmented" not in p.stem
    )
    if not videos:
        raise SystemExit("no videos: run bench/sampling.py first, or name some")
    if args.fragmented:
        videos += [fragmented_copy(path) for path in videos]
    cold = drop_page_cache()
    print(f"page cache {'dropped before every run' if cold else 'NOT dropped (not root): warm runs'}")
    print(f"{'file':<52}{'MB':>7}{'frames':>8}{'index s':>10}{'demux s':>10}   ratio")
    for path in videos:
        ways = {
            "index": lambda c, s, path=path: read_indexed_frame_table(path, c, s),
            "demux": read_frame_table,
        }
        seconds: dict[str, list[float]] = {name: [] for name in ways}
        tables = {}
        for _ in range(args.repeat):
            for name, read in ways.items():
                wall, tables[name] = timed(read, path, cold)
                seconds[name].append(wall)
        if tables["index"] is None:
            print(f"{path.name:<52} index not readable: demuxed")
            continue
        for field in ("pts", "keyframe", "decode_pos"):
            assert np.array_equal(getattr(tables["index"], field), getattr(tables["demux"], field)), field
        index_s, demux_s = (statistics.median(seconds[name]) for name in ways)
        size_mb = path.stat().st_size / 1e6
        print(f"{path.name:<52}{size_mb:>7.0f}{tables['demux'].frame_count:>8}{index_s:>10.3f}{demux_s:>10.3f}"
              f"   {demux_s / index_s:.0f}x")  # fmt: skip


if __name__ == "__main__":
    main()
