"""`scenescope sample VIDEO (--frames N | --fps F | --auto) [--start S] [--end E] [--json]`."""

from __future__ import annotations

import argparse
import json
import sys

from engine.cli.arguments import seconds
from engine.errors import ScenescopeError
from engine.timecode import format_timecode
from engine.video import SampledFrames, Sampling, probe, sample_frames
from engine.video.sampling import DEFAULT_BUDGET, GROUP, MAX_FPS, round_to_groups

NAME = "sample"


def add_parser(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        NAME,
        parents=parents,
        help="show which frames the model would see",
        description="Choose frames as the model would. Counts are whole groups of 4 frames.",
    )
    p.add_argument("video", help="video file")
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--frames", type=int, metavar="N", help="N frames at segment midpoints (reference)")
    how.add_argument("--fps", type=float, metavar="F", help="F frames per second of video")
    how.add_argument("--auto", action="store_true", help="dense for short ranges, sparse for long ones")
    p.add_argument("--budget", type=int, default=DEFAULT_BUDGET, help="most frames --auto may choose")
    add_range_arguments(p)
    p.add_argument("--json", action="store_true", help='print {"frames": [{"index", "time_s"}, ...]}')


def add_range_arguments(p: argparse.ArgumentParser) -> None:
    """--start S and --end E: the part of the video to sample (shared with other commands)."""
    p.add_argument("--start", type=seconds, metavar="S", help="range start (seconds or HH:MM:SS)")
    p.add_argument("--end", type=seconds, metavar="E", help="range end (seconds or HH:MM:SS)")


def sampling_from_args(args: argparse.Namespace) -> Sampling:
    """The `Sampling` that --frames/--fps/--auto and --start/--end ask for (shared with other commands)."""
    if args.frames is not None:
        if args.frames < 1:
            raise ScenescopeError("--frames must be at least 1: give how many frames the model sees.")
        return Sampling("frames", args.frames, args.start, args.end)
    if args.fps is not None:
        if not 0 < args.fps <= MAX_FPS:
            raise ScenescopeError(
                f"--fps must be positive and at most {MAX_FPS:g}, not {args.fps:g}: "
                "give a rate in that range."
            )
        return Sampling("fps", args.fps, args.start, args.end)
    if args.budget < 4:
        raise ScenescopeError("--budget must be at least 4 frames: give 4 or more.")
    return Sampling("auto", args.budget, args.start, args.end)


def note_frame_count(args: argparse.Namespace, frames: SampledFrames) -> None:
    """Say on stderr when --frames N gave another count: rounded to whole groups of 4, or the range has
    fewer frames (shared with other commands)."""
    if args.frames is None or len(frames) == args.frames:
        return
    why = (
        "the range holds no more distinct frames (in whole groups of 4)"
        if len(frames) < round_to_groups(args.frames)
        else f"the model takes groups of {GROUP}"
    )
    print(f"note: {len(frames)} frames, not {args.frames}: {why}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    sampling = sampling_from_args(args)
    info = probe(args.video)
    try:
        chosen = sample_frames(info.frames, sampling)
    except ValueError as e:
        raise ScenescopeError(f"Cannot sample {info.path}: {e}. Choose a range inside the video.") from None
    note_frame_count(args, chosen)
    if args.json:
        print(json.dumps({"frames": chosen.to_list()}))
        return 0
    for i, (index, time_s) in enumerate(zip(chosen.indices, chosen.times_s, strict=True)):
        print(f"{i + 1:4d}  frame {int(index):7d}  {format_timecode(float(time_s))}")
    return 0
