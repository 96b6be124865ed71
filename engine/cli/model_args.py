"""What the commands that run the video LLM share (`ask`, `ground`): model, frames, range, device, precision.

engine.assistant pulls in torch and transformers (seconds); it is imported when the model is loaded,
after the arguments are checked, not when the command line is parsed, so the other commands and the app
launcher stay quick. The default model is the engine's: the published checkpoint.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.cli.progress import end_progress_line, terminal_job
from engine.cli.sample_cmd import add_range_arguments, sampling_from_args
from engine.video import Sampling, VideoInfo, probe
from engine.video.sampling import DEFAULT_BUDGET, DEFAULT_FRAMES

if TYPE_CHECKING:
    from engine.assistant import VideoAssistant
    from engine.planner import Plan

PRECISIONS = {"auto": "auto", "bf16": "bf16", "fp16": "fp16", "fp32": "fp32", "int8": "int8", "int4": "nf4"}


def add_model_arguments(p: argparse.ArgumentParser) -> None:
    """--model, --frames N | --auto, --start/--end, --device, --precision."""
    p.add_argument(
        "--model",
        metavar="ID|DIR",
        help="model folder, or Hugging Face id at a pinned commit (ID@COMMIT; local cache first, else "
        "downloaded); default: OpenGVLab/InternVideo2_5_Chat_8B",
    )
    how = p.add_mutually_exclusive_group()
    how.add_argument(
        "--frames",
        type=int,
        metavar="N",
        help=f"N frames at segment midpoints, a multiple of 4 (default: the memory planner's budget, "
        f"{DEFAULT_FRAMES} on the CPU, up to 512 on a GPU)",
    )
    how.add_argument("--auto", action="store_true", help="frames by duration: dense for short ranges")
    add_range_arguments(p)
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="default: auto")
    p.add_argument(
        "--precision",
        choices=tuple(PRECISIONS),
        default="auto",
        help="auto: fp32 on the CPU; on a GPU bf16, else an int8 or 4-bit (NF4) LLM, as the memory "
        "planner picks for the free memory",
    )
    p.set_defaults(fps=None, budget=DEFAULT_BUDGET)  # what sample_cmd.sampling_from_args reads


def model_sampling(args: argparse.Namespace) -> Sampling:
    """The frames the model sees: --frames N or --auto, within the range; neither: the memory planner's
    frame budget for this device (engine/planner.py; the model card's 128 on the CPU)."""
    if args.frames is None and not args.auto:
        args.frames = device_plan(args).frames
    return sampling_from_args(args)


def device_plan(args: argparse.Namespace) -> Plan:
    """What the planner chooses for --device (computed once per command; imports torch)."""
    from engine.planner import detect_device, plan_for

    if getattr(args, "plan", None) is None:
        args.plan = plan_for(detect_device(args.device))
    return args.plan


@dataclass(frozen=True)
class LoadedModel:
    assistant: VideoAssistant
    info: VideoInfo  # the video, probed before the model was loaded
    timings_s: dict[str, float]  # probe_s, load_model_s
    plan: Plan  # the memory planner's choice for this device ("auto" precision, frames, the vision chunk)


def load_model_for(args: argparse.Namespace) -> LoadedModel:
    """Probe the video first (a bad file fails before seconds of model loading), then load the model."""
    from engine.assistant import VideoAssistant
    from engine.models.internvideo import DEFAULT_REPO

    clock = time.perf_counter()
    info = probe(args.video)
    probed = time.perf_counter()
    try:
        assistant = VideoAssistant.load(
            args.model or DEFAULT_REPO,
            device=args.device,
            precision=PRECISIONS[args.precision],
            job=terminal_job(),
            chunk_frames=device_plan(args).vision_chunk,
        )
    finally:
        end_progress_line()
    timings = {"probe_s": probed - clock, "load_model_s": time.perf_counter() - probed}
    return LoadedModel(assistant, info, timings, device_plan(args))
