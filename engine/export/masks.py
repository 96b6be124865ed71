"""Tracking results as files: PNG mask sequences (per object, and one indexed PNG per frame with every
object), COCO JSON with RLE, MOT-style box CSV.

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
from engine.errors import ExportError
from engine.export.burn_in import PALETTE
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


def write_palette_pngs(
    store: TrackStore, folder: str | os.PathLike, *, overwrite: bool = False, job: Job | None = None
) -> Path:
    """One indexed PNG per tracked frame, `<frame index>.png`: pixel value = object id, 0 = no object.

    Where masks overlap the higher id wins (it is drawn last). The palette gives id n the colour burn-in
    draws it in, so the files also read as pictures. The folder appears whole or not at all. Progress:
    stage "export", frames written; a cancelled `job` raises `Cancelled` and leaves no folder.
    """
    job = job_or_new(job)
    obj_ids = store.object_ids()
    if obj_ids and max(obj_ids) > 255:
        raise ExportError(
            f"Object {max(obj_ids)} does not fit an 8-bit palette PNG (ids 1-255). "
            "Export per-object PNG masks instead."
        )
    frames = sorted({i for obj_id in obj_ids for i in store.frame_indices(obj_id)})
    palette = [0, 0, 0] + [c for n in range(1, 256) for c in PALETTE[(n - 1) % len(PALETTE)]]
    with atomic_folder(folder, overwrite=overwrite) as staging:
        for written, frame_index in enumerate(frames, start=1):
            image = np.zeros((store.height, store.width), np.uint8)
            for obj_id in obj_ids:
                mask = store.mask(obj_id, frame_index)
                if mask is not None:
                    image[mask] = obj_id
            picture = Image.fromarray(image)
            picture.putpalette(palette)  # "L" -> "P": the same bytes, indexed
            picture.save(staging / png_name(frame_index))
            job.progress("export", written, len(frames))
    return Path(folder)


def write_coco_json(store: TrackStore, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """All objects in one COCO-style JSON: images = frames, annotations = RLE masks with `track_id`."""
    return store.save(path, overwrite=overwrite)


def write_mot_csv(store: TrackStore, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Boxes as CSV with a header, MOT Challenge columns plus `time_s`; one row per visible mask.

    `frame` counts from 1 as in MOT (frame index + 1); boxes are pixels of the displayed picture;
    `conf` is the probability the object is visible, from the score as tracks.json keeps it (6
    decimals), so boxes written from a reloaded tracks file match those of the tracking run to the
    digit; x, y, z are -1 (no 3D position).
    """
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(MOT_COLUMNS)
    rows = [(m.frame_index, obj, m) for obj in store.object_ids() for m in store.frames(obj) if m.area]
    for frame_index, obj, m in sorted(rows, key=lambda r: (r[0], r[1])):
        x, y, w, h = m.bbox
        conf = f"{round(m.score, 6):.4f}"
        writer.writerow((frame_index + 1, obj, x, y, w, h, conf, -1, -1, -1, f"{m.time_s:.6f}"))
    path = Path(path)
    with atomic_open(path, "w", overwrite=overwrite) as f:
        f.write(buf.getvalue())
    return path
