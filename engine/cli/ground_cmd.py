"""`scenescope ground VIDEO QUERY [--model ID|DIR] [--frames N | --auto] [--start S --end E]
[--device auto|cpu|cuda] [--precision ...] [--no-refine] [--json] [--export DIR [--pad S] [--overwrite]]`.

Prints one line per span found, in time order: number, start and end (HH:MM:SS.mmm), score in [0, 1] and
source ("text": named in the model's answer only, "curve": found on the relevance curve only, "both").
`--json` prints one object instead: {"query", "spans": [...], "curve": [{"time_s", "start_s", "end_s",
"score"}], "threshold", "answer", "vision_passes", "timings_s"}; saved to a file, it is a spans file for
`scenescope export --spans`. `--export DIR` also cuts a clip of each span (as `scenescope export`).

Refinement (zooming in on the best spans to sharpen their edges) is on by default: it decodes and
encodes up to 32 new frames for each of the 3 best spans, once (they are cached like the video's own).
`--no-refine` skips it, leaving edges on the whole-video windows (a group of frames or two wide).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from engine.cli.arguments import seconds
from engine.cli.export_cmd import export_with_progress, print_result
from engine.cli.model_args import add_model_arguments, load_model_for, model_sampling
from engine.cli.progress import end_progress_line, terminal_job
from engine.cli.sample_cmd import note_frame_count
from engine.errors import ScenescopeError
from engine.timecode import format_timecode

if TYPE_CHECKING:
    from engine.grounding import GroundingResult

NAME = "ground"


def add_parser(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        NAME,
        parents=parents,
        help="find the moments of a video that match a description",
        description=(
            "Find every moment of a video that matches a query, as scored time spans, from the model's "
            "answer and a relevance curve over the whole video; optionally cut a clip of each."
        ),
    )
    p.add_argument("video", help="video file")
    p.add_argument("query", help='what to find, in quotes, e.g. "a white van stops at the gate"')
    add_model_arguments(p)
    p.add_argument(
        "--no-refine",
        action="store_true",
        help="skip zooming in on the best spans (saves encoding up to 96 more frames; coarser edges)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object: spans, curve, answer, costs")
    p.add_argument("--export", metavar="DIR", help="also cut a clip of each span into DIR, with sidecars")
    p.add_argument("--pad", type=seconds, metavar="S", help="with --export: widen each clip by S seconds")
    p.add_argument("--overwrite", action="store_true", help="with --export: replace files that exist")


def run(args: argparse.Namespace) -> int:
    if args.export is None and (args.pad is not None or args.overwrite):
        raise ScenescopeError("--pad and --overwrite apply to clips: add --export DIR.")
    sampling = model_sampling(args)

    from engine.export import check_outputs, sidecar_paths_for
    from engine.grounding import GroundingOptions, check_query, ground

    check_query(args.query)
    if args.export is not None:  # before the model runs; clip names depend on the spans it finds
        sidecars = list(sidecar_paths_for(args.video, args.export).values())
        check_outputs(args.export, sidecars, overwrite=args.overwrite)
    loaded = load_model_for(args)
    options = GroundingOptions(refine=not args.no_refine)
    try:
        job = terminal_job(quiet=args.json)
        result = ground(
            loaded.assistant, loaded.info, args.query, sampling=sampling, options=options, job=job
        )
    finally:
        end_progress_line()
    note_frame_count(args, result.frames)
    exported = None
    if args.export is not None and result.spans:
        exported = export_with_progress(
            loaded.info,
            result.spans,
            args.export,
            quiet=args.json,
            pad_s=args.pad or 0.0,
            overwrite=args.overwrite,
        )
    elif args.export is not None:
        print("note: no spans found, so no clips were written", file=sys.stderr)
    if args.json:
        output = result.to_dict()
        output["timings_s"] = {k: round(v, 6) for k, v in loaded.timings_s.items()} | output["timings_s"]
        if exported is not None:
            output["export"] = exported.to_dict()
        output["plan"] = loaded.plan.to_dict()
        print(json.dumps(output, ensure_ascii=False))
        return 0
    _print_spans(result)
    if exported is not None:
        print_result(exported)
    print(_summary(result), file=sys.stderr)
    return 0


def _print_spans(result: GroundingResult) -> None:
    if not result.spans:
        print(f"no moment matches {result.query!r}")
    for number, span in enumerate(result.spans, start=1):
        print(
            f"{number:3d}  {format_timecode(span.start_s)}  {format_timecode(span.end_s)}  "
            f"{span.score:.2f}  {span.source}"
        )


def _summary(result: GroundingResult) -> str:
    passes = result.vision_passes
    tokens = "visual tokens from cache" if passes == 0 else f"{passes} vision pass{'es' * (passes != 1)}"
    return (
        f"({len(result.frames)} frames, {len(result.curve.scores)} windows scanned, {tokens}, "
        f"{result.timings_s['total_s']:.2f} s)"
    )
