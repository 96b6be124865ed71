"""Memory of SAM2 tracking through a long video: bounded (ours) vs every frame kept (the stock session).

    python bench/tracking_memory.py                      # 30 min at 5 fps (9,000 frames), unpruned for 2 min
    python bench/tracking_memory.py --minutes 3 --unpruned-minutes 1

The source is generated once with tests/media.py (160x120, moving texture, frame-index barcodes) and
kept in bench/_media. The model is the tiny random SAM2 of tests/tiny_models.py (256 px input, SAM 2.1's
7 mask memories and 16 object pointers), written to bench/_media too. One object is clicked on the first
frame and tracked forwards to the end. Each mode runs in a fresh process, which samples every 10 s of
video: resident memory (RSS, psutil), GPU memory when on CUDA, the bytes of tensors held in the
tracker's SAM2 state, and the bytes of the RLE results. Printed: both modes side by side over the
unpruned span, then the pruned run over the whole video with its growth after the first minute (the
target: under 5 %).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SAMPLE_EVERY_S = 10.0


def source_video(minutes: float, fps: float) -> Path:
    from tests.media import make_video

    folder = REPO / "bench" / "_media"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"tracking_{minutes:g}min_{fps:g}fps_160x120.mp4"
    if not path.exists():
        print(f"generating {path.name} (once) ...", flush=True)
        tmp = path.with_suffix(".part.mp4")
        make_video(tmp, width=160, height=120, frames=round(minutes * 60 * fps), fps=fps, gop=round(fps * 4))
        tmp.rename(path)
    return path


def model_folder() -> Path:
    from tests.tiny_models import write_sam2

    folder = REPO / "bench" / "_media" / "sam2_tiny"
    if not (folder / "model.safetensors").exists():
        write_sam2(folder)
    return folder


def state_bytes(memory) -> int:
    """Bytes of every tensor in one object's SAM2 session outputs."""
    total = 0
    for kind in memory.outputs.values():
        for entry in kind.values():
            total += sum(v.numel() * v.element_size() for v in entry.values() if hasattr(v, "numel"))
    return total


def run_mode(video: Path, model: Path, pruned: bool, minutes: float, device: str, threads: int) -> dict:
    """Inside a fresh process: track and sample memory."""
    import psutil
    import torch

    from engine.jobs import Job
    from engine.tracking import Tracker, load_sam2
    from engine.video import probe

    torch.set_num_threads(threads)
    process = psutil.Process()
    info = probe(video)
    sam2 = load_sam2(model, device=device)
    tracker = Tracker(sam2, info, keep_all_memory=not pruned)
    tracker.prompt(0.0, points=[(80.0, 60.0)], labels=[1])
    memory = tracker._objects[1].memory
    samples: list[dict] = []
    started = time.perf_counter()

    def sample(time_s: float) -> None:
        samples.append(
            {
                "video_s": round(time_s, 3),
                "wall_s": round(time.perf_counter() - started, 2),
                "rss_mib": process.memory_info().rss / 2**20,
                "cuda_mib": torch.cuda.memory_allocated() / 2**20 if sam2.device.type == "cuda" else None,
                "state_mib": state_bytes(memory) / 2**20,
                "results_kib": sum(len(m.rle) for m in tracker.store.frames(1)) / 2**10,
                "held_frames": len(memory.held_frames),
            }
        )

    def on_progress(p) -> None:
        if p.time_s >= len(samples) * SAMPLE_EVERY_S:
            sample(p.time_s)

    sample(0.0)
    run = tracker.propagate(None, minutes * 60, job=Job(on_progress=on_progress))
    sample(run.end_s)
    return {"pruned": pruned, "frames": run.frames_tracked, "elapsed_s": run.elapsed_s, "samples": samples}


def in_subprocess(args: list[str]) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, cwd=REPO, check=False
    )
    if out.returncode != 0:
        raise SystemExit(f"child failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def at_minutes(result: dict) -> dict[int, dict]:
    """The last sample at or before each whole minute of video."""
    rows = {}
    for s in result["samples"]:
        rows[int(s["video_s"] // 60)] = s
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="length of the generated video")
    parser.add_argument("--fps", type=float, default=5.0, help="frame rate of the generated video")
    parser.add_argument("--unpruned-minutes", type=float, default=2.0, help="how long to track unpruned")
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (1: tiny model, shared machine)"
    )
    parser.add_argument(
        "--child", nargs=4, metavar=("VIDEO", "MODEL", "MODE", "MINUTES"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        video, model, mode, minutes = args.child
        result = run_mode(
            Path(video), Path(model), mode == "pruned", float(minutes), args.device, args.threads
        )
        print(json.dumps(result))
        return

    video, model = source_video(args.minutes, args.fps), model_folder()
    common = ["--device", args.device, "--threads", str(args.threads)]
    print(f"video {video.name}, tiny SAM2, device {args.device}, {args.threads} torch thread(s)")
    unpruned = in_subprocess(
        [*common, "--child", str(video), str(model), "unpruned", str(args.unpruned_minutes)]
    )
    pruned = in_subprocess([*common, "--child", str(video), str(model), "pruned", str(args.minutes)])
    out = REPO / "bench" / "_out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "tracking_memory.json").write_text(json.dumps({"pruned": pruned, "unpruned": unpruned}, indent=1))

    print(f"\nside by side, first {args.unpruned_minutes:g} min ({args.fps:g} fps):")
    print(" video |   RSS MiB pruned / unpruned | SAM2 state MiB pruned / unpruned | held frames")
    for u in unpruned["samples"]:
        p = next(s for s in pruned["samples"] if s["video_s"] >= u["video_s"] - 1e-6)
        rss = f"{p['rss_mib']:9.1f} / {u['rss_mib']:9.1f}"
        state = f"{p['state_mib']:10.2f} / {u['state_mib']:9.2f}"
        print(f"{u['video_s']:6.0f}s | {rss}    | {state}        | {p['held_frames']} / {u['held_frames']}")
    first, last = unpruned["samples"][0], unpruned["samples"][-1]
    per_frame = (last["state_mib"] - first["state_mib"]) / ((last["video_s"] - first["video_s"]) * args.fps)
    print(f"unpruned state grows {per_frame * 1024:.0f} KiB per frame")

    rows = at_minutes(pruned)
    print(f"\npruned over {args.minutes:g} min: {pruned['frames']} frames in {pruned['elapsed_s']:.0f} s")
    print(" minute |  RSS MiB | GPU MiB | state MiB | results KiB | held frames")
    for minute, s in sorted(rows.items()):
        gpu = f"{s['cuda_mib']:7.1f}" if s["cuda_mib"] is not None else "      -"
        print(
            f"{minute:7d} | {s['rss_mib']:8.1f} | {gpu} | {s['state_mib']:9.2f} | "
            f"{s['results_kib']:11.1f} | {s['held_frames']}"
        )
    after_first = [s for s in pruned["samples"] if s["video_s"] >= 60]
    base = after_first[0]["rss_mib"]
    peak = max(s["rss_mib"] for s in after_first)
    growth = (peak - base) / base * 100
    print(f"\nRSS after the first minute: {base:.1f} MiB; peak later {peak:.1f} MiB; growth {growth:+.2f} %")
    print("PASS" if growth < 5 else "FAIL", "(target: under 5 %)")


if __name__ == "__main__":
    main()
