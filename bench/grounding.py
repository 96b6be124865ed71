"""What a relevance scan costs: one window at a time against batches sharing the prompt's prefix.

    python bench/grounding.py                       # 128 and 512 frames, tiny model on the CPU
    python bench/grounding.py --frames 128 --batch 8 32 --repeat 5

The scan scores every window of 2 groups (8 frames), moving by one group, from visual tokens that are
already there (`engine.grounding.relevance_curve`), so only the language model runs. Side by side, on
the same tokens and query:
  per window, whole prompt   one forward per window over its whole prompt (the plain way; the reference)
  per window, shared prefix  relevance_curve with batch_windows=1: the text before the first frame once
  batched B, shared prefix   relevance_curve with B windows per forward
The visual tokens are random (the scan's cost does not depend on what they show). The model is the tiny
random-weight fixture (LLM 64 wide, 2 layers), where a forward is mostly fixed overhead, so the ratios
show what batching saves in calls, not what it saves on a GPU with the 8B (see docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from engine.grounding import answer_tokens, relevance_curve, relevance_question, window_starts  # noqa: E402
from engine.grounding.relevance import yes_probability  # noqa: E402
from engine.models.internvideo import InternVideo, load_internvideo  # noqa: E402

FIXTURE = REPO.parent / "shared/fixtures/internvideo2_5_tiny/checkpoint"
QUERY = "a white van stops at the gate"
WINDOW_FRAMES = 8


@torch.no_grad()
def per_window_whole_prompt(model: InternVideo, visual_tokens: torch.Tensor) -> np.ndarray:
    """The plain way: each window's whole prompt through the language model on its own."""
    ids = torch.tensor([model.tokenize(model.build_prompt(relevance_question(QUERY), WINDOW_FRAMES))])
    tokens = answer_tokens(model)
    scores = []
    for first in window_starts(len(visual_tokens), model.frame_group, 2, 1):
        embeds = model.model.embed(ids, visual_tokens[first : first + WINDOW_FRAMES])
        logits, _ = model.model.language_forward(embeds, None, logits_to_keep=1)
        scores.append(yes_probability(logits[:, -1], tokens).item())
    return np.asarray(scores)


def measure(model: InternVideo, frames: int, batches: list[int], repeat: int) -> dict:
    """Every variant once per round, `repeat` rounds after a warm-up round: the variants meet the same
    load on a shared machine. Median and best seconds of each."""
    generator = torch.Generator().manual_seed(0)
    width = model.config.text.hidden_size
    visual_tokens = torch.randn(frames, model.tokens_per_frame, width, generator=generator)
    times_s = np.arange(frames, dtype=np.float64) + 0.5
    windows = len(window_starts(frames, model.frame_group, 2, 1))

    def scan(batch: int):
        return lambda: (
            relevance_curve(model, visual_tokens, times_s, float(frames), QUERY, batch_windows=batch).scores
        )

    variants = {"per window, whole prompt": lambda: per_window_whole_prompt(model, visual_tokens)}
    variants["per window, shared prefix"] = scan(1)
    variants |= {f"batched {b}, shared prefix": scan(b) for b in batches}
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    scores: dict[str, np.ndarray] = {}
    for round_ in range(repeat + 1):
        for name, run in variants.items():
            start = time.perf_counter()
            scores[name] = run()
            if round_:  # round 0 warms up
                seconds[name].append(time.perf_counter() - start)
    reference = scores["per window, whole prompt"]
    base_s = statistics.median(seconds["per window, whole prompt"])
    rows = []
    for name, spent in seconds.items():
        median = statistics.median(spent)
        rows.append(
            {
                "variant": name,
                "seconds": median,
                "best_seconds": min(spent),
                "windows_per_s": windows / median,
                "speedup": base_s / median,
                "max_abs_diff": float(np.abs(scores[name] - reference).max()),
            }
        )
    ids = model.tokenize(model.build_prompt(relevance_question(QUERY), WINDOW_FRAMES))
    prefix = ids.index(model.model.img_context_token_id)
    return {
        "frames": frames,
        "windows": windows,
        "prompt_tokens": len(ids),
        "prefix_tokens": prefix,
        "rows": rows,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, nargs="+", default=[128, 512])
    parser.add_argument("--batch", type=int, nargs="+", default=[8, 32], help="windows per forward")
    parser.add_argument("--repeat", type=int, default=3, help="rounds (each runs every variant once)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model = load_internvideo(FIXTURE, device="cpu", precision="fp32")
    results = [measure(model, frames, args.batch, args.repeat) for frames in args.frames]
    if args.json:
        print(json.dumps(results))
        return 0
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"relevance scan, tiny model fp32 on {os.cpu_count()} CPU cores ({torch.get_num_threads()} threads, "
        f"load {load}), windows of {WINDOW_FRAMES} frames one group apart, {args.repeat} interleaved rounds"
    )
    for result in results:
        print(
            f"\n{result['frames']} frames: {result['windows']} windows, "
            f"{result['prompt_tokens']} prompt tokens each, "
            f"{result['prefix_tokens']} of them before the first frame"
        )
        print(f"{'':28s}{'median s':>9s}{'best s':>9s}{'windows/s':>11s}{'speedup':>9s}{'max |dP|':>10s}")
        for row in result["rows"]:
            print(
                f"{row['variant']:28s}{row['seconds']:9.3f}{row['best_seconds']:9.3f}"
                f"{row['windows_per_s']:11.1f}{row['speedup']:8.2f}x{row['max_abs_diff']:10.1e}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
