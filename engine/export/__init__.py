"""Exports: frame-accurate MP4 clips of spans, sidecar files listing them, and tracking results.

    result = export_spans("harbour.mp4", load_spans("spans.json"), "out/", pad_s=1.0)
    clip = export_clip(probe("harbour.mp4"), 83.5, 91.25, "out/boat.mp4")   # one clip
    write_png_masks(store, "out/masks")        # out/masks/object_1/000123.png ...
    write_palette_pngs(store, "out/masks/palette")   # 000123.png: pixel = object id
    write_coco_json(store, "out/tracks.json")  # docs/formats.md, "Tracks"
    write_mot_csv(store, "out/boxes.csv")
    export_clip(info, 61.2, 64.0, "out/tracked.mp4", tracks=store)   # masks and ids burned in
    check_outputs("out/", files=[...], folders=[...], overwrite=False)  # before any work: ExportError

Times are seconds of presentation time on the source's clock (`engine.video`), as spans carry them.
Every export writes atomically and refuses to replace existing files unless `overwrite=True`.
"""

from engine.export.batch import ExportResult, export_spans, sidecar_paths_for, span_outputs
from engine.export.burn_in import draw_masks
from engine.export.clip import X264_PRESETS, Clip, EncodeSettings, export_clip
from engine.export.frames import FrameRange, frame_range
from engine.export.masks import png_name, write_coco_json, write_mot_csv, write_palette_pngs, write_png_masks
from engine.export.names import clip_name, safe_stem, sidecar_name, tracked_video_name
from engine.export.outputs import check_outputs
from engine.export.sidecars import SIDECAR_KINDS, ExportedSpan, write_sidecars

__all__ = [
    "SIDECAR_KINDS",
    "X264_PRESETS",
    "Clip",
    "EncodeSettings",
    "ExportResult",
    "ExportedSpan",
    "FrameRange",
    "check_outputs",
    "clip_name",
    "draw_masks",
    "export_clip",
    "export_spans",
    "frame_range",
    "png_name",
    "safe_stem",
    "sidecar_name",
    "sidecar_paths_for",
    "span_outputs",
    "tracked_video_name",
    "write_coco_json",
    "write_mot_csv",
    "write_palette_pngs",
    "write_png_masks",
    "write_sidecars",
]
