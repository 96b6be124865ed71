"""Exports: frame-accurate MP4 clips of spans, and sidecar files (SRT, WebVTT, CSV, JSON) listing them.

    result = export_spans("harbour.mp4", load_spans("spans.json"), "out/", pad_s=1.0)
    clip = export_clip(probe("harbour.mp4"), 83.5, 91.25, "out/boat.mp4")   # one clip

Times are seconds of presentation time on the source's clock (`engine.video`), as spans carry them.
"""

from engine.export.batch import ExportResult, Progress, export_spans
from engine.export.clip import Clip, EncodeSettings, export_clip
from engine.export.frames import FrameRange, frame_range
from engine.export.names import clip_name, safe_stem, sidecar_name
from engine.export.sidecars import SIDECAR_KINDS, ExportedSpan, write_sidecars

__all__ = [
    "SIDECAR_KINDS",
    "Clip",
    "EncodeSettings",
    "ExportResult",
    "ExportedSpan",
    "FrameRange",
    "Progress",
    "clip_name",
    "export_clip",
    "export_spans",
    "frame_range",
    "safe_stem",
    "sidecar_name",
    "write_sidecars",
]
