"""Asking about a video on the CPU with the tiny model: a first question, a follow-up, a reopened video.

    python bench/ask_cpu.py                     # 128 frames of a 2-minute 640x360 H.264 clip
    python bench/ask_cpu.py --frames 64 --max-new-tokens 32

Measured side by side in one run, each in the state a user meets it:
  first ask   a new process, empty visual-token cache: probe, decode + encode the frames, prefill, answer
  follow-up   the same conversation, a second question: no vision pass, only the new turn prefilled
  reopened    the same video and question in another new process: visual tokens from the disk cache
The model is the tiny random-weight fixture (vision tower 32 wide, 2 layers, at the real 448x448 input and
1025 tokens per frame; LLM 64 wide), so the vision tower is cheap next to the 8B; the ratios show what the
caches save, not what a GPU run costs (bench/ask_gpu.py).

The source video is generated once (bench/sampling.py's, a moving texture) and kept in bench/_media;
the visual-token cache lives in a temporary folder for each repeat.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.sampling import source_video  # noqa: E402  (the generated-once test video of bench/)

FIXTURE = REPO.parent / "shared/fixtures/internvideo2_5_tiny/checkpoint"
QUESTION = "What happens in this video?"
FOLLOW_UP = "And what happens at the end?"


def child(video: Path, frames: int, max_new_tokens: int, follow_up: bool) -> dict:
    """One process's session: load, open the video, ask, optionally follow up (JSON on stdout)."""
    from engine.assistant import VideoAssistant
    from engine.video import Sampling

    start = time.perf_counter()
    assistant = VideoAssistant.load(FIXTURE, device="cpu", precision="fp32")
    loaded = time.perf_counter()
    chat = assistant.open_video(video, Sampling("frames", frames)).conversation()
    result = {
        "load_model_s": loaded - start,
        "first": chat.ask(QUESTION, max_new_tokens=max_new_tokens).to_dict(),
    }
    if follow_up:
        result["follow_up"] = chat.ask(FOLLOW_UP, max_new_tokens=max_new_tokens).to_dict()
    return result


def run_child(video: Path, args: argparse.Namespace, env: dict[str, str], follow_up: bool) -> dict:
    command = [sys.executable, __file__, "--child", str(video), "--frames", str(args.frames)]
    command += ["--max-new-tokens", str(args.max_new_tokens)] + (["--follow-up"] if follow_up else [])
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(done.stderr)
    return json.loads(done.stdout.splitlines()[-1])


def row(name: str, answer: dict) -> dict:
    t = answer["timings_s"]
    open_s = sum(
        t.get(k, 0.0) for k in ("probe_s", "sample_s", "cache_lookup_s", "visual_tokens_s", "cache_store_s")
    )
    return {
        "scenario": name,
        "vision_passes": answer["cache"]["vision_passes"],
        "tokens_from": answer["cache"]["source"],
        "open_video_s": open_s,
        "first_token_s": t["first_token_s"],
        "to_first_token_s": open_s + t["first_token_s"],
        "tokens_per_s": answer["tokens"]["per_s"],
        "generated_tokens": answer["tokens"]["generated"],
        "prompt_tokens": answer["tokens"]["prompt"],
        "prefilled_tokens": answer["tokens"]["prompt"] - answer["tokens"]["reused"],
        "decode_wait_s": t.get("decode_wait_s"),
        "encode_s": t.get("encode_s"),
    }


def median_row(rows: tuple[dict, ...]) -> dict:
    """One scenario over the repeats: the median of every number (time-shared machines are noisy)."""
    numeric = [k for k, v in rows[0].items() if isinstance(v, int | float) and not isinstance(v, bool)]
    return rows[0] | {k: statistics.median(r[k] for r in rows) for k in numeric}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=2.0, help="length of the generated source video")
    parser.add_argument("--frames", type=int, default=128)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3, help="runs; the medians are printed (default 3)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--follow-up", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.frames, args.max_new_tokens, args.follow_up)))
        return 0

    video = source_video(args.minutes, width=640, height=360, gop=60, bframes=2)
    runs = []
    for _ in range(args.repeat):  # each repeat starts from an empty cache
        with tempfile.TemporaryDirectory(prefix="scenescope-bench-") as cache:
            env = {**os.environ, "SCENESCOPE_CACHE_DIR": cache, "PYTHONPATH": str(REPO)}
            first = run_child(video, args, env, follow_up=True)
            reopened = run_child(video, args, env, follow_up=False)
        runs.append(
            [
                row("first ask (new process, empty cache)", first["first"]),
                row("follow-up (same conversation)", first["follow_up"]),
                row("reopened (new process, cache on disk)", reopened["first"]),
            ]
        )
    rows = [median_row(same) for same in zip(*runs, strict=True)]
    speedup = rows[0]["to_first_token_s"] / rows[2]["to_first_token_s"]
    report = {
        "video": video.name,
        "frames": args.frames,
        "repeats": args.repeat,
        "rows": rows,
        "reopen_speedup": speedup,
        "decode_alone_s": statistics.median(decode_alone(video, args.frames) for _ in range(args.repeat)),
    }
    if args.json:
        print(json.dumps(report))
        return 0
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"{video.name}, {args.frames} frames, tiny model on {os.cpu_count()} CPU cores (load {load}), "
        f"medians of {args.repeat} runs"
    )
    head = ("vision", "open", "first", "to 1st", "tokens", "tok/s", "prompt", "prefill")
    print(f"{'':40} " + " ".join(f"{h:>7}" for h in head))
    for r in rows:
        cells = (
            f"{r['vision_passes']:7.0f}",
            f"{r['open_video_s']:6.2f}s",
            f"{r['first_token_s']:6.3f}s",
            f"{r['to_first_token_s']:6.2f}s",
            f"{r['generated_tokens']:7.0f}",
            f"{r['tokens_per_s'] or 0:7.1f}",
            f"{r['prompt_tokens']:7.0f}",
            f"{r['prefilled_tokens']:7.0f}",
        )
        print(f"{r['scenario']:40} " + " ".join(cells))
    waited, encode, alone = rows[0]["decode_wait_s"], rows[0]["encode_s"], report["decode_alone_s"]
    print(
        f"first ask: encoding {encode:.2f} s; decoding alone takes {alone:.2f} s, of which "
        f"the pipeline waited {waited:.2f} s. Reopening reaches the first token {speedup:.1f}x sooner."
    )
    return 0


def decode_alone(video: Path, frames: int) -> float:
    """Seconds to decode the same frames at 448x448 with nothing else running (the part overlap can hide)."""
    from engine.video import Sampling, decode_frames, probe, sample_frames

    info = probe(video)
    chosen = sample_frames(info.frames, Sampling("frames", frames))
    start = time.perf_counter()
    for _ in decode_frames(info, chosen.indices, size=448):
        pass
    return time.perf_counter() - start


if __name__ == "__main__":
    sys.exit(main())
