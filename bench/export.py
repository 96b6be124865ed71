"""Clip export: packet copy, smart cut and x264 re-encode of the same frames, measured side by side.

    python bench/export.py                          # 720p30 source, 1 min, a 20 s clip
    python bench/export.py --seconds 120 --clip 60 --width 1920 --height 1080

The source (tests/media.py: moving texture, frame-index barcodes, B-frames, AAC noise) is generated
once into bench/_media. The first clip starts on an IDR keyframe and ends on a frame where a copy is
exact, so copy and re-encode cut the same frames. The second starts half a GOP earlier and ends one
frame later, where a copy is not exact: smart cut (ends re-encoded) against re-encoding it whole. Every
run is checked by reading all frame barcodes back. Reports wall time, frames per second, output size
and peak RSS, and the ratios.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from engine.export import EncodeSettings, export_clip, frame_range  # noqa: E402
from engine.export.video_track import can_copy  # noqa: E402
from engine.video import probe  # noqa: E402
from tests.media import make_video, read_barcode  # noqa: E402


def source_video(seconds: int, width: int, height: int) -> Path:
    folder = REPO / "bench" / "_media"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"export_{seconds}s_{width}x{height}.mp4"
    if not path.exists():
        print(f"generating {path.name} (once) ...", flush=True)
        tmp = path.with_suffix(".part.mp4")
        make_video(tmp, width=width, height=height, frames=seconds * 30, fps=30, gop=60, bframes=2,
                   texture=True, audio=True, audio_signal="noise")  # fmt: skip
        tmp.rename(path)
    return path


def copyable_range(info, start_s: float, clip_s: float):
    """The first range from a keyframe at or after start_s, about clip_s long, that copies exactly."""
    table = info.frames
    key = next(i for i in range(table.index_at(start_s), table.frame_count) if table.keyframe[i])
    for end in range(table.index_at(table.time_of(key) + clip_s), key, -1):
        frames = frame_range(table, table.time_of(key), table.time_of(end) + 1e-3)
        if can_copy(info, frames):
            return frames
    raise SystemExit("no copyable range found")


def run(info, frames, folder: Path, reencode: bool, settings: EncodeSettings) -> dict:
    path = folder / f"{frames.first}_{reencode}_{settings.smart_cut}.mp4"
    end_s = frames.end_s - 1e-3
    t0 = time.perf_counter()
    clip = export_clip(info, frames.start_s, end_s, path, reencode=reencode, settings=settings)
    wall = time.perf_counter() - t0
    with av.open(str(path)) as c:
        codes = [read_barcode(f.to_ndarray(format="rgb24")) for f in c.decode(video=0)]
    assert codes == list(range(frames.first, frames.last + 1)), "wrong frames"
    return {
        "how": clip.video,
        "wall": wall,
        "fps": frames.frame_count / wall,
        "mb": path.stat().st_size / 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--clip", type=float, default=20.0)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--preset", default=EncodeSettings.preset)
    args = parser.parse_args()

    info = probe(source_video(args.seconds, args.width, args.height))
    frames = copyable_range(info, info.duration_s / 3, args.clip)
    print(f"source {info.width}x{info.height} {info.fps:.0f} fps, clip frames {frames.first}..{frames.last} "
          f"({frames.frame_count} frames, {frames.duration_s:.2f} s), x264 preset {args.preset}")  # fmt: skip
    table = info.frames
    gop = int(np.diff(np.flatnonzero(table.keyframe)).max())
    uneven = frame_range(table, table.time_of(frames.first - gop // 2), table.time_of(frames.last + 2))
    print(f"uneven clip frames {uneven.first}..{uneven.last} ({uneven.frame_count} frames), GOP {gop}")
    settings = EncodeSettings(preset=args.preset)
    whole = EncodeSettings(preset=args.preset, smart_cut=False)
    with tempfile.TemporaryDirectory() as tmp:
        copy = run(info, frames, Path(tmp), reencode=False, settings=settings)
        rss_copy = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        encode = run(info, frames, Path(tmp), reencode=True, settings=settings)
        smart = run(info, uneven, Path(tmp), reencode=False, settings=settings)
        smart_off = run(info, uneven, Path(tmp), reencode=False, settings=whole)
        rss_all = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows = (("exact", copy), ("exact", encode), ("uneven", smart), ("uneven", smart_off))
    for name, r in rows:
        print(f"{name:7s} {r['how']:7s} {r['wall']:7.2f} s  {r['fps']:8.1f} frames/s  {r['mb']:6.1f} MB")
    print(f"peak RSS after copy {rss_copy:.0f} MiB, after all {rss_all:.0f} MiB")
    print(f"re-encode / copy wall time: {encode['wall'] / copy['wall']:.0f}x")
    print(f"re-encode whole / smart cut wall time: {smart_off['wall'] / smart['wall']:.1f}x")


if __name__ == "__main__":
    main()
