"""`scenescope track VIDEO --at S --point X,Y ... --out DIR`: click an object, follow it, export the masks.

Writes into DIR: tracks.json (COCO-style, RLE), boxes.csv (MOT-style), masks/object_1/*.png and
tracked.mp4 (masks and id burned in, source audio kept). Points and boxes are pixels of the picture as
it is shown (rotation applied), times are seconds or [HH:]MM:SS.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

from engine.cli.arguments import finite_numbers, seconds
from engine.cli.progress import end_progress_line, terminal_job
from engine.errors import ScenescopeError
from engine.timecode import format_timecode

NAME = "track"
OUTPUTS = {"tracks": "tracks.json", "boxes": "boxes.csv", "masks": "masks/object_1", "video": "tracked.mp4"}


def add_parser(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        NAME,
        parents=parents,
        help="track a clicked object with SAM2 and export its masks",
        description="Click an object on one frame, track it through the video with SAM 2.1, export masks.",
    )
    p.add_argument("video", help="video file")
    p.add_argument("--at", type=seconds, required=True, metavar="S", help="time of the frame clicked on")
    p.add_argument(
        "--point", type=_xy, action="append", default=[], metavar="X,Y", help="a pixel in the object"
    )
    p.add_argument(
        "--negative", type=_xy, action="append", default=[], metavar="X,Y", help="a pixel not in the object"
    )
    p.add_argument("--box", type=_box, metavar="X0,Y0,X1,Y1", help="a box around the object")
    p.add_argument("--range", type=_range, metavar="S-E", help="track only from S to E (seconds or MM:SS)")
    p.add_argument(
        "--sam-model",
        default=None,
        metavar="ID|DIR",
        help="SAM2 video model: folder, or Hub id (ID@COMMIT for ids other than the default)",
    )
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda or cuda:N")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder for the exports")
    p.add_argument("--overwrite", action="store_true", help="replace exports already in DIR")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")


def run(args: argparse.Namespace) -> int:
    from engine.export import check_outputs, export_clip, write_coco_json, write_mot_csv, write_png_masks
    from engine.planner import detect_device, plan_for, sam2_choices, sam2_source
    from engine.tracking import Tracker, load_sam2
    from engine.video import probe

    if not args.point and not args.box:
        raise ScenescopeError("Say where the object is: give --point X,Y (one or more) or --box X0,Y0,X1,Y1.")
    outputs = {kind: args.out / name for kind, name in OUTPUTS.items()}
    files = [path for kind, path in outputs.items() if kind != "masks"]
    check_outputs(args.out, files, [outputs["masks"]], overwrite=args.overwrite)  # before minutes of work
    started = time.perf_counter()
    info = probe(args.video)
    start_s, end_s = args.range or (None, None)
    plan = plan_for(detect_device(args.device.split(":")[0]), sam2_choices=sam2_choices(args.sam_model))
    try:
        model = load_sam2(sam2_source(args.sam_model, plan), device=args.device, job=terminal_job())
    finally:
        end_progress_line()
    loaded = time.perf_counter()

    tracker = Tracker(model, info)
    tracker.prompt(
        args.at,
        points=[*args.point, *args.negative],
        labels=[1] * len(args.point) + [0] * len(args.negative),
        box=args.box,
        obj_id=1,
    )
    try:
        result = tracker.propagate(start_s, end_s, job=terminal_job())
    finally:
        end_progress_line()
    tracked = time.perf_counter()

    store, overwrite = tracker.store, args.overwrite
    write_coco_json(store, outputs["tracks"], overwrite=overwrite)
    write_mot_csv(store, outputs["boxes"], overwrite=overwrite)
    clip_start, clip_end = start_s or 0.0, info.duration_s if end_s is None else end_s
    job = terminal_job()
    try:
        write_png_masks(store, outputs["masks"].parent, overwrite=overwrite, job=job)
        export_clip(info, clip_start, clip_end, outputs["video"], overwrite=overwrite, tracks=store, job=job)
    finally:
        end_progress_line()
    done = time.perf_counter()

    summary = {
        "video": str(info.path),
        "model": model.name,
        "device": str(model.device),
        "objects": [
            {
                "id": obj_id,
                "frames": len(frames := tracker.store.frames(obj_id)),
                "visible_frames": sum(1 for m in frames if m.area),
                "start_s": round(frames[0].time_s, 6),
                "end_s": round(frames[-1].time_s, 6),
            }
            for obj_id in tracker.object_ids
        ],
        "frames_tracked": tracker.store.frames_tracked(),
        "time_s": {
            "load": round(loaded - started, 3),
            "track": round(tracked - loaded, 3),
            "export": round(done - tracked, 3),
            "total": round(done - started, 3),
        },
        "peak_memory": _peak_memory(model.device),
        "outputs": {kind: str(path) for kind, path in outputs.items()},
        "plan": plan.to_dict(),  # its sam2: what was loaded when no --sam-model was given
    }
    if args.json:
        print(json.dumps(summary))
        return 0
    for obj in summary["objects"]:
        print(
            f"object {obj['id']}: {obj['frames']} frames from {format_timecode(obj['start_s'])} to "
            f"{format_timecode(obj['end_s'])}, visible in {obj['visible_frames']}"
        )
    rate = result.frames_tracked / max(result.elapsed_s, 1e-9)
    print(f"tracked    {summary['frames_tracked']} frames ({rate:.1f} frames/s)")
    times = summary["time_s"]
    print(f"time       {times['total']:.1f} s in all (model {times['load']:.1f} s, ", end="")
    print(f"tracking {times['track']:.1f} s, export {times['export']:.1f} s)")
    peak = summary["peak_memory"]
    gpu = f", GPU {peak['cuda_bytes'] / 2**20:.0f} MiB" if peak["cuda_bytes"] is not None else ""
    print(f"memory     peak {peak['rss_bytes'] / 2**20:.0f} MiB resident{gpu}")
    print(f"plan       {plan.explanation}")
    for kind, path in summary["outputs"].items():
        print(f"{kind:10s} {path}")
    return 0


def _peak_memory(device) -> dict:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    rss_bytes = rss if sys.platform == "darwin" else rss * 1024
    cuda = None
    if device.type == "cuda":
        import torch

        cuda = torch.cuda.max_memory_allocated(device)
    return {"rss_bytes": rss_bytes, "cuda_bytes": cuda}


def _xy(text: str) -> tuple[float, float]:
    return finite_numbers(text, 2, "X,Y (two numbers, pixels)")  # type: ignore[return-value]


def _box(text: str) -> tuple[float, float, float, float]:
    return finite_numbers(text, 4, "X0,Y0,X1,Y1 (four numbers, pixels)")  # type: ignore[return-value]


def _range(text: str) -> tuple[float, float]:
    start, sep, end = text.partition("-")
    if not sep:
        raise argparse.ArgumentTypeError(f"{text!r} is not a range: write START-END, e.g. 10-25 or 1:05-1:30")
    start_s, end_s = seconds(start), seconds(end)
    if end_s <= start_s:
        raise argparse.ArgumentTypeError(f"the range {text!r} ends before it starts: write the start first")
    return start_s, end_s
