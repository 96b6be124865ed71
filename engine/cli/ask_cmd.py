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
from typing import TYPE_CHECKING

from engine.cli.model_args import add_model_arguments, load_model_for, model_sampling
from engine.cli.progress import end_progress_line, terminal_job
from engine.cli.sample_cmd import note_frame_count
from engine.jobs import Job
from engine.questions import DEFAULT_MAX_NEW_TOKENS, check_max_new_tokens, check_question

if TYPE_CHECKING:
    from engine.assistant import Answer

NAME = "ask"


def add_parser(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        NAME,
        parents=parents,
        help="ask a question about a video",
        description="Ask InternVideo2.5 a question about a video; the answer streams as it is generated.",
    )
    p.add_argument("video", help="video file")
    p.add_argument("question", help="the question, in quotes")
    add_model_arguments(p)
    p.add_argument("--max-new-tokens", type=int, metavar="N", help="longest answer in tokens (default 1024)")
    p.add_argument("--json", action="store_true", help="print one JSON object with the answer and its frames")


def run(args: argparse.Namespace) -> int:
    check_question(args.question)  # before seconds of model loading
    sampling = model_sampling(args)
    asked = args.max_new_tokens
    max_new_tokens = check_max_new_tokens(DEFAULT_MAX_NEW_TOKENS if asked is None else asked)
    loaded = load_model_for(args)
    try:
        video = loaded.assistant.open_video(loaded.info, sampling, job=terminal_job(quiet=args.json))
    finally:
        end_progress_line()
    note_frame_count(args, video.frames)
    job = Job(on_partial=None if args.json else _print_piece)
    answer = video.conversation().ask(args.question, job, max_new_tokens=max_new_tokens)
    if args.json:
        result = answer.to_dict()
        timings = {k: round(v, 6) for k, v in loaded.timings_s.items()}
        result["timings_s"] = timings | result["timings_s"]
        result["plan"] = loaded.plan.to_dict()
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(flush=True)
        print(_summary(answer), file=sys.stderr)
    return 0


def _print_piece(kind: str, data: dict) -> None:
    sys.stdout.write(data["text"])
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
