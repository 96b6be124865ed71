"""Sampling N frames from a long 1080p H.264 file: our sampler vs decord's get_batch vs sequential PyAV.

    python bench/sampling.py                     # 10 min 1080p30, keyframe every 250 frames, 128 and 512
    python bench/sampling.py --minutes 2 --frames 128

The source file is generated once (tests/media.py, a moving texture with each frame's index as a
barcode) and kept in bench/_media. Every method runs in a fresh process, after the file was read once
so that all of them find it in the page cache; each reports wall time, frames decoded where it can
count them, peak RSS, and whether every returned frame carries the barcode of the index asked for.
Ratios are printed against our sampler, measured in the same run.

Methods (all return the same frames, reference indices = segment midpoints):
  ours        engine.video: probe (frame table, cold cache) + decode_frames at full size
  ours-448    the same, resized to 448x448 as the model takes them (PIL bicubic, in the workers)
  decord      decord VideoReader + get_batch (what the InternVideo2.5 model card uses)
  decord-448  get_batch, then the model card's per-frame PIL resize to 448x448
  sequential  PyAV decoding every frame in order (FFmpeg threads), converting only the wanted ones
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

METHODS = ("ours", "ours-448", "decord", "decord-448", "sequential")


def source_video(minutes: float, width: int, height: int, gop: int, bframes: int) -> Path:
    from tests.media import make_video

    folder = REPO / "bench" / "_media"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"sampling_{minutes:g}min_{width}x{height}_gop{gop}_bf{bframes}.mp4"
    if not path.exists():
        print(f"generating {path.name} (once) ...", flush=True)
        tmp = path.with_suffix(".part.mp4")
        make_video(
            tmp,
            width=width,
            height=height,
            frames=int(minutes * 60 * 30),
            fps=30,
            gop=gop,
            bframes=bframes,
            texture=True,
        )
        tmp.rename(path)
    return path


def wanted_indices(path: Path, count: int) -> list[int]:
    """The reference rule's indices (segment midpoints over the whole video)."""
    import av

    from engine.video import reference_frame_indices

    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        frames, fps = stream.frames, float(stream.average_rate)
    return reference_frame_indices(count, fps, frames - 1).tolist()


def run_method(method: str, path: Path, indices: list[int]) -> dict:
    """Runs inside a fresh process; returns the measurements."""
    from tests.media import read_barcode

    decoded: int | None = None
    barcodes: list[int] = []
    start = time.perf_counter()
    if method.startswith("ours"):
        from engine.video import DecodeStats, decode_frames, probe

        stats = DecodeStats()
        info = probe(path)
        size = 448 if method == "ours-448" else None
        for frame in decode_frames(info, indices, size=size, stats=stats):
            if size is None:
                barcodes.append(read_barcode(frame.image))
        decoded = stats.frames_decoded
    elif method.startswith("decord"):
        import decord
        from PIL import Image

        reader = decord.VideoReader(str(path), num_threads=0)
        batch = reader.get_batch(indices).asnumpy()  # [N, H, W, 3]
        if method == "decord-448":
            batch = [np.asarray(Image.fromarray(f).resize((448, 448), Image.BICUBIC)) for f in batch]
        else:
            barcodes = [read_barcode(f) for f in batch]
    elif method == "sequential":
        import av

        wanted = set(indices)
        with av.open(str(path)) as c:
            stream = c.streams.video[0]
            stream.codec_context.thread_type = "AUTO"
            decoded = 0
            for i, frame in enumerate(c.decode(stream)):
                decoded += 1
                if i in wanted:
                    image = frame.to_ndarray(format="rgb24")
                    barcodes.extend([read_barcode(image)] * indices.count(i))
                if i >= indices[-1]:
                    break
    else:
        raise ValueError(method)
    seconds = time.perf_counter() - start
    correct = None if not barcodes else barcodes == indices
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "frames_decoded": decoded, "peak_rss_mb": peak_mb, "correct": correct}


def measure(method: str, path: Path, indices: list[int]) -> dict:
    with tempfile.TemporaryDirectory() as cache:  # cold frame-table cache for every run of ours
        env = os.environ | {"SCENESCOPE_CACHE_DIR": cache, "PYTHONPATH": str(REPO)}
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--run-method",
                method,
                "--video",
                str(path),
                "--indices",
                ",".join(map(str, indices)),
            ],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--gop", type=int, default=250)
    parser.add_argument("--bframes", type=int, default=3)
    parser.add_argument("--frames", type=int, nargs="+", default=[128, 512])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--run-method", help=argparse.SUPPRESS)
    parser.add_argument("--video", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--indices", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.run_method:
        indices = [int(i) for i in args.indices.split(",")]
        print(json.dumps(run_method(args.run_method, args.video, indices)))
        return

    path = source_video(args.minutes, args.width, args.height, args.gop, args.bframes)
    with path.open("rb") as f:  # warm the page cache so no method pays the first read alone
        while f.read(1 << 24):
            pass
    print(f"source: {path.name}, {path.stat().st_size / 1e6:.0f} MB, {os.cpu_count()} cores")
    for count in args.frames:
        indices = wanted_indices(path, count)
        results = {m: measure(m, path, indices) for m in args.methods}
        print(f"\n{count} frames")
        print(f"{'method':<12}{'seconds':>9}{'decoded':>9}{'peak MB':>9}{'correct':>9}   ratio")
        for method, r in results.items():
            base = results.get("ours-448" if method.endswith("448") else "ours")
            ratio = f"{r['seconds'] / base['seconds']:.2f}x ours" if base and base is not r else ""
            decoded = r["frames_decoded"] if r["frames_decoded"] is not None else "-"
            correct = {True: "yes", False: "NO", None: "-"}[r["correct"]]
            print(
                f"{method:<12}{r['seconds']:>9.2f}{decoded:>9}{r['peak_rss_mb']:>9.0f}{correct:>9}   {ratio}"
            )


if __name__ == "__main__":
    main()
