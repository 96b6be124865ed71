"""`scenescope export VIDEO --spans FILE.json --out DIR [--pad S] [--overwrite] [--json] ...`."""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from engine.cli.arguments import seconds
from engine.cli.progress import end_progress_line, terminal_job
from engine.export import X264_PRESETS, EncodeSettings, ExportResult, export_spans
from engine.spans import Span, load_spans
from engine.timecode import format_timecode
from engine.tracking import TrackStore
from engine.video import VideoInfo

NAME = "export"


def add_parser(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        NAME,
        parents=parents,
        help="cut a clip of each span and write subtitle/CSV/JSON sidecars",
        description=(
            "Cut a frame-accurate MP4 clip of each span (copied losslessly where the cut falls on a "
            "keyframe; otherwise only the frames up to the first keyframe inside the clip and the last "
            "few are re-encoded, the rest copied) and write <video>.spans.{srt,vtt,csv,json} listing them."
        ),
    )
    p.add_argument("video", help="the video the spans belong to")
    p.add_argument(
        "--spans", required=True, metavar="FILE.json", help="spans file (`scenescope ground --json`)"
    )
    p.add_argument("--out", required=True, metavar="DIR", help="folder to write into (created if missing)")
    p.add_argument("--pad", type=seconds, default=0.0, metavar="S", help="widen each clip by S seconds")
    p.add_argument("--burn-masks", metavar="TRACKS.json", help="draw tracked masks into the clips")
    p.add_argument("--overwrite", action="store_true", help="replace files that already exist")
    p.add_argument("--reencode", action="store_true", help="re-encode even where a lossless copy is possible")
    p.add_argument(
        "--no-smart-cut",
        action="store_true",
        help="re-encode a clip whole when it cannot be copied whole (an avc1 track, for old players)",
    )
    p.add_argument("--no-clips", action="store_true", help="write only the sidecar files")
    p.add_argument("--crf", type=int, default=EncodeSettings.crf, help="x264 quality when re-encoding")
    p.add_argument(
        "--preset", default=EncodeSettings.preset, choices=X264_PRESETS, help="x264 speed when re-encoding"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object describing what was written")


def run(args: argparse.Namespace) -> int:
    tracks = TrackStore.load(args.burn_masks) if args.burn_masks is not None else None
    result = export_with_progress(
        args.video,
        load_spans(args.spans),
        args.out,
        quiet=args.json,
        pad_s=args.pad,
        clips=not args.no_clips,
        reencode=args.reencode,
        overwrite=args.overwrite,
        settings=EncodeSettings(crf=args.crf, preset=args.preset, smart_cut=not args.no_smart_cut),
        tracks=tracks,
    )
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False))
    else:
        print_result(result)
    return 0


def print_result(result: ExportResult, file: TextIO | None = None) -> None:
    """One line per clip and per sidecar written."""
    for item in result.spans:
        if item.clip is not None:
            clip = item.clip
            how = {
                "copy": "copied",
                "smart": "smart cut: ends re-encoded",
                "encode": "re-encoded",
                "burn-in": "masks burned in",
            }[clip.video]
            times = f"{format_timecode(clip.frames.start_s)}-{format_timecode(clip.frames.end_s)}"
            print(f"clip     {clip.path}  ({how}, {times}, {clip.frames.frame_count} frames)", file=file)
    for path in result.sidecars:
        print(f"sidecar  {path}", file=file)


def export_with_progress(
    video: str | VideoInfo, spans: list[Span], out_dir: str, *, quiet: bool, **options: Any
) -> ExportResult:
    """`export_spans` with a progress line on stderr when it is a terminal (unless `quiet`)."""
    try:
        return export_spans(video, spans, out_dir, job=terminal_job(quiet=quiet), **options)
    finally:
        end_progress_line()
