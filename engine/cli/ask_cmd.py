"""`scenescope ask VIDEO QUESTION [--model ID|DIR] [--frames N | --auto] [--start S --end E]
[--device auto|cpu|cuda] [--precision auto|bf16|fp16|fp32|int8|int4] [--json]`.

Streams the answer to stdout as it is generated; a one-line summary (frames, cache, speed) goes to
stderr. `--json` prints one object instead: answer, frames used, cache (hit, vision_passes), tokens and
timings. The visual tokens are cached on disk, so asking again about the same video runs no vision pass.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TYPE_CHECKING

from engine.cli.sample_cmd import add_range_arguments, sampling_from_args
from engine.errors import ScenescopeError
from engine.video import probe
from engine.video.sampling import DEFAULT_BUDGET, DEFAULT_FRAMES

if TYPE_CHECKING:
    from engine.assistant import Answer

# engine.assistant pulls in torch and transformers (seconds); it is imported when `ask` runs, after the
# arguments are checked, not when the command line is parsed, so the other commands and the app launcher
# stay quick. Defaults left as None here are the engine's: the published model, 1024 new tokens.
NAME = "ask"
PRECISIONS = {"auto": "auto", "bf16": "bf16", "fp16": "fp16", "fp32": "fp32", "int8": "int8", "int4": "nf4"}


def add_parser(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        NAME,
        parents=parents,
        help="ask a question about a video",
        description="Ask InternVideo2.5 a question about a video; the answer streams as it is generated.",
    )
    p.add_argument("video", help="video file")
    p.add_argument("question", help="the question, in quotes")
    p.add_argument(
        "--model",
        metavar="ID|DIR",
        help="model folder, or Hugging Face id (local cache first, else downloaded); "
        "default: OpenGVLab/InternVideo2_5_Chat_8B",
    )
    how = p.add_mutually_exclusive_group()
    how.add_argument(
        "--frames",
        type=int,
        metavar="N",
        help=f"N frames at segment midpoints, a multiple of 4 (default {DEFAULT_FRAMES})",
    )
    how.add_argument("--auto", action="store_true", help="frames by duration: dense for short ranges")
    add_range_arguments(p)
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="default: auto")
    p.add_argument(
        "--precision",
        choices=tuple(PRECISIONS),
        default="auto",
        help="auto: fp32 on the CPU; on a GPU bf16, else an int8 or 4-bit (NF4) LLM, whichever fits",
    )
    p.add_argument("--max-new-tokens", type=int, metavar="N", help="longest answer in tokens (default 1024)")
    p.add_argument("--json", action="store_true", help="print one JSON object with the answer and its frames")
    p.set_defaults(fps=None, budget=DEFAULT_BUDGET)  # what sample_cmd.sampling_from_args reads


def run(args: argparse.Namespace) -> int:
    if args.frames is None and not args.auto:
        args.frames = DEFAULT_FRAMES
    if args.max_new_tokens is not None and args.max_new_tokens < 1:
        raise ScenescopeError("--max-new-tokens must be at least 1.")
    sampling = sampling_from_args(args)

    from engine.assistant import DEFAULT_MAX_NEW_TOKENS, VideoAssistant
    from engine.models.internvideo import DEFAULT_REPO

    max_new_tokens = args.max_new_tokens or DEFAULT_MAX_NEW_TOKENS
    clock = time.perf_counter()
    info = probe(args.video)  # a bad video fails before the model is loaded
    probe_s = time.perf_counter() - clock
    model = args.model or DEFAULT_REPO
    assistant = VideoAssistant.load(model, device=args.device, precision=PRECISIONS[args.precision])
    load_s = time.perf_counter() - clock - probe_s
    video = assistant.open_video(info, sampling)
    on_text = None if args.json else _print_piece
    if args.frames is not None and len(video.frames) != args.frames:
        print(
            f"note: {len(video.frames)} frames, not {args.frames}: the model takes groups of 4",
            file=sys.stderr,
        )
    answer = video.conversation().ask(args.question, on_text=on_text, max_new_tokens=max_new_tokens)
    if args.json:
        result = answer.to_dict()
        timings = {"probe_s": round(probe_s, 6), "load_model_s": round(load_s, 6)}
        result["timings_s"] = timings | result["timings_s"]
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(flush=True)
        print(_summary(answer), file=sys.stderr)
    return 0


def _print_piece(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def _summary(answer: Answer) -> str:
    frames = answer.frames
    first, last = float(frames.times_s[0]), float(frames.times_s[-1])
    passes = answer.vision_passes
    tokens = "visual tokens from cache" if answer.cache_hit else f"{passes} vision pass{'es' * (passes != 1)}"
    rate = answer.tokens_per_s
    speed = f", {rate:.1f} tokens/s" if rate is not None else ""
    return (
        f"({len(frames)} frames from {first:.2f} s to {last:.2f} s, {tokens}, "
        f"first token after {answer.timings_s['first_token_s']:.2f} s{speed})"
    )
