"""`scenescope probe VIDEO [--json]`: what the file is, from its real timestamps."""

from __future__ import annotations

import argparse
import json

from engine.timecode import format_timecode
from engine.video import probe

NAME = "probe"


def add_parser(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(NAME, parents=parents, help="describe a video file")
    p.add_argument("video", help="video file")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    info = probe(args.video)
    if args.json:
        print(json.dumps(info.to_dict(), ensure_ascii=False))
        return 0
    rotation = f", shown rotated {info.rotation}° clockwise" if info.rotation else ""
    audio = info.audio_codec if info.has_audio else "none"
    rate = "variable" if info.vfr else "constant"
    print(f"file       {info.path}")
    print(f"container  {info.container}, {info.size_bytes / 1e6:.1f} MB")
    print(f"video      {info.codec}, {info.width}x{info.height}{rotation}")
    print(f"frames     {info.frame_count} at {info.fps:.3f} fps average ({rate} frame rate)")
    print(f"duration   {format_timecode(info.duration_s)} ({info.duration_s:.3f} s)")
    print(f"audio      {audio}")
    for warning in info.warnings:
        print(f"warning    {warning}")
    return 0
