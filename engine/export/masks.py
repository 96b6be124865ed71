"""Tracking results as files: PNG mask sequences, COCO JSON with RLE, MOT-style box CSV.

Formats are in docs/formats.md ("Tracks"). Every file or folder appears whole or not at all, through
`engine.atomic`: a PNG sequence is written into a hidden temporary folder that is renamed into place
when complete. Nothing existing is replaced unless `overwrite=True`.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import Image

from engine.atomic import atomic_folder, atomic_open
from engine.jobs import Job, job_or_new
from engine.tracking import TrackStore, decode_mask

MOT_COLUMNS = ("frame", "id", "bb_left", "bb_top", "bb_width", "bb_height", "conf", "x", "y", "z", "time_s")


def png_name(frame_index: int) -> str:
    """The file name of a frame's mask in a PNG sequence."""
    return f"{frame_index:06d}.png"


def write_png_masks(
    store: TrackStore,
    folder: str | os.PathLike,
    obj_ids: Iterable[int] | None = None,
    *,
    overwrite: bool = False,
    job: Job | None = None,
) -> dict[int, Path]:
    """One folder per object, `object_<id>/<frame index>.png`, 8-bit: 255 in the object, 0 outside.

    Only tracked frames have a file. Returns {object id: its folder}. Progress: stage "export", masks
    written of all the objects' masks; a cancelled `job` raises `Cancelled`, keeping the folders of
    the objects already finished and no part of the one being written.
    """
    job = job_or_new(job)
    folder = Path(folder)
    obj_ids = list(store.object_ids() if obj_ids is None else obj_ids)
    targets = {obj_id: folder / f"object_{obj_id}" for obj_id in obj_ids}
    existing = [str(t) for t in targets.values() if t.exists()]
    if existing and not overwrite:
        raise FileExistsError(f"{existing[0]} already exists")
    total = sum(len(store.frame_indices(obj_id)) for obj_id in obj_ids)
    written = 0
    for obj_id, target in targets.items():
        with atomic_folder(target, overwrite=overwrite) as staging:
            for m in store.frames(obj_id):
                mask = decode_mask(m.rle, store.height, store.width)
                Image.fromarray(mask.astype(np.uint8) * 255).save(staging / png_name(m.frame_index))
                written += 1
                job.progress("export", written, total)
    return targets


def write_coco_json(store: TrackStore, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """All objects in one COCO-style JSON: images = frames, annotations = RLE masks with `track_id`."""
    return store.save(path, overwrite=overwrite)


def write_mot_csv(store: TrackStore, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Boxes as CSV with a header, MOT Challenge columns plus `time_s`; one row per visible mask.

    `frame` counts from 1 as in MOT (frame index + 1); boxes are pixels of the displayed picture;
    `conf` is the probability the object is visible; x, y, z are -1 (no 3D position).
    """
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(MOT_COLUMNS)
    rows = [(m.frame_index, obj, m) for obj in store.object_ids() for m in store.frames(obj) if m.area]
    for frame_index, obj, m in sorted(rows, key=lambda r: (r[0], r[1])):
        x, y, w, h = m.bbox
        writer.writerow((frame_index + 1, obj, x, y, w, h, f"{m.score:.4f}", -1, -1, -1, f"{m.time_s:.6f}"))
    path = Path(path)
    with atomic_open(path, "w", overwrite=overwrite) as f:
        f.write(buf.getvalue())
    return path
