"""Exports of tracking results: PNG mask sequences, COCO JSON (RLE), MOT-style box CSV, burned-in video.

    write_png_masks(store, "out/masks")        # out/masks/object_1/000123.png ...
    write_coco_json(store, "out/tracks.json")  # docs/formats.md, "Tracks"
    write_mot_csv(store, "out/boxes.csv")
    burn_in("clip.mp4", store, "out/tracked.mp4", start_s=None, end_s=None)

All of them write atomically and refuse to replace existing files unless `overwrite=True`.
"""

from engine.export.burn_in import burn_in, draw_masks
from engine.export.masks import png_name, write_coco_json, write_mot_csv, write_png_masks

__all__ = ["burn_in", "draw_masks", "png_name", "write_coco_json", "write_mot_csv", "write_png_masks"]
