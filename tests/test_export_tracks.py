"""Track exports: PNG sequences, COCO JSON, MOT CSV and burn-in clips of a whole video.

(Burn-in clips of spans, held to every check a plain clip passes, are in test_export_clips.py.)
"""

from __future__ import annotations

import csv

import av
import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils

from engine.errors import ExportError
from engine.export import (
    EncodeSettings,
    export_clip,
    png_name,
    write_coco_json,
    write_mot_csv,
    write_palette_pngs,
    write_png_masks,
)
from engine.export.burn_in import ALPHA, PALETTE
from engine.jobs import Cancelled, Job
from engine.tracking import FrameMask, TrackStore, encode_mask
from engine.video import decode_frames, probe
from tests.media import read_barcode


def rectangle(width: int, height: int, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    mask = np.zeros((height, width), bool)
    mask[y0:y1, x0:x1] = True
    return mask


def boxes_store(info, boxes: dict[int, dict[int, tuple[int, int, int, int]]]) -> TrackStore:
    """A store whose masks are known rectangles: {obj: {frame: (x0, y0, x1, y1)}} (no model needed)."""
    store = TrackStore(width=info.width, height=info.height)
    for obj, frames in boxes.items():
        for i, box in frames.items():
            rle, bbox, area = encode_mask(rectangle(info.width, info.height, *box))
            store.put(obj, FrameMask(i, info.frames.time_of(i), rle, bbox, area, 0.9))
    return store


@pytest.fixture(scope="module")
def source(media):
    return probe(media("burn_src.mp4", frames=30, fps=25, width=160, height=120, gop=10, audio=True))


@pytest.fixture(scope="module")
def store(source):
    moving = {i: (60 + i, 50, 100 + i, 90) for i in range(30)}
    late = {i: (10, 80, 40, 110) for i in range(10, 20)}
    empty = {20: (0, 0, 0, 0)}  # tracked but not visible on frame 20
    return boxes_store(source, {1: moving, 2: late | empty})


def test_png_sequences_hold_each_tracked_mask(store, tmp_path):
    folders = write_png_masks(store, tmp_path / "masks")
    assert sorted(folders) == [1, 2]
    assert sorted(p.name for p in folders[2].iterdir()) == [png_name(i) for i in range(10, 21)]
    for obj in (1, 2):
        for m in store.frames(obj):
            image = Image.open(folders[obj] / png_name(m.frame_index))
            assert image.mode == "L" and image.size == (160, 120)
            pixels = np.asarray(image)
            assert set(np.unique(pixels)) <= {0, 255}
            assert np.array_equal(pixels == 255, store.mask(obj, m.frame_index))
    with pytest.raises(FileExistsError):
        write_png_masks(store, tmp_path / "masks")
    write_png_masks(store, tmp_path / "masks", [1], overwrite=True)
    assert sorted(p.name for p in (tmp_path / "masks").iterdir()) == ["object_1", "object_2"]  # no leftovers


def test_palette_pngs_hold_every_object_by_id_on_each_tracked_frame(store, tmp_path):
    seen = []
    folder = write_palette_pngs(store, tmp_path / "palette", job=Job(on_progress=seen.append))
    assert sorted(p.name for p in folder.iterdir()) == [png_name(i) for i in range(30)]
    for i in (5, 12, 20):
        image = Image.open(folder / png_name(i))
        assert image.mode == "P" and image.size == (store.width, store.height)
        expected = np.zeros((store.height, store.width), np.uint8)
        for obj in (1, 2):  # the higher id is drawn last
            mask = store.mask(obj, i)
            if mask is not None:
                expected[mask] = obj
        assert np.array_equal(np.asarray(image), expected)
    palette = Image.open(folder / png_name(12)).getpalette()
    assert tuple(palette[3:6]) == PALETTE[0] and tuple(palette[6:9]) == PALETTE[1]
    assert np.asarray(Image.open(folder / png_name(12)))[85, 20] == 2  # object 2's box, over nothing else
    assert seen[-1].done == seen[-1].total == 30
    with pytest.raises(FileExistsError):
        write_palette_pngs(store, folder)


def test_palette_pngs_cancelled_leave_no_folder(store, tmp_path):
    job = Job(on_progress=lambda p: p.done == 3 and job.cancel())
    with pytest.raises(Cancelled):
        write_palette_pngs(store, tmp_path / "palette", job=job)
    assert list(tmp_path.iterdir()) == []


def test_palette_pngs_refuse_ids_over_255(source, tmp_path):
    big = boxes_store(source, {256: {0: (0, 0, 4, 4)}})
    with pytest.raises(ExportError, match="255"):
        write_palette_pngs(big, tmp_path / "palette")
    assert list(tmp_path.iterdir()) == []


def test_coco_json_decodes_with_pycocotools(store, tmp_path):
    import json

    path = write_coco_json(store, tmp_path / "tracks.json")
    doc = json.loads(path.read_text())
    assert len(doc["annotations"]) == 41
    for ann in doc["annotations"]:
        rle = {"size": ann["segmentation"]["size"], "counts": ann["segmentation"]["counts"].encode()}
        mask = mask_utils.decode(rle).astype(bool)
        assert np.array_equal(mask, store.mask(ann["track_id"], ann["image_id"]))
        assert ann["area"] == mask.sum()
        assert ann["bbox"] == mask_utils.toBbox(rle).tolist()
    loaded = TrackStore.load(path).frames(2)
    assert [(m.frame_index, m.rle, m.bbox, m.area) for m in loaded] == [
        (m.frame_index, m.rle, m.bbox, m.area) for m in store.frames(2)
    ]
    assert [m.time_s for m in loaded] == pytest.approx([m.time_s for m in store.frames(2)], abs=1e-6)


def test_mot_csv_rows(store, tmp_path):
    path = write_mot_csv(store, tmp_path / "boxes.csv")
    rows = list(csv.reader(path.open()))
    assert rows[0] == [
        "frame",
        "id",
        "bb_left",
        "bb_top",
        "bb_width",
        "bb_height",
        "conf",
        "x",
        "y",
        "z",
        "time_s",
    ]
    body = [[float(v) for v in r] for r in rows[1:]]
    assert len(body) == 40  # the empty mask of object 2 on frame 20 has no box
    assert [(r[0], r[1]) for r in body] == sorted((r[0], r[1]) for r in body)
    first_late = next(r for r in body if r[1] == 2)
    assert first_late[:6] == [11, 2, 10, 80, 30, 30] and first_late[7:10] == [-1, -1, -1]
    assert first_late[10] == pytest.approx(0.4)
    assert body[0][:6] == [1, 1, 60, 50, 40, 40]


def test_mot_csv_is_the_same_from_a_reloaded_tracks_file(tmp_path):
    """tracks.json keeps scores to 6 decimals: boxes written from it (the window's export of a reopened
    session) match those written from the run's own masks, also for a score that rounds twice."""
    mask = np.zeros((20, 30), bool)
    mask[5:15, 5:20] = True
    rle, bbox, area = encode_mask(mask)
    store = TrackStore(width=30, height=20)
    for i, score in enumerate((0.51934996, 0.12344951, 0.9)):  # 0.51935 and 0.12345 once rounded
        store.put(1, FrameMask(i, i / 10, rle, bbox, area, score))
    reloaded = TrackStore.load(write_coco_json(store, tmp_path / "tracks.json"))
    first = write_mot_csv(store, tmp_path / "boxes.csv").read_text()
    assert write_mot_csv(reloaded, tmp_path / "again.csv").read_text() == first


def audio_seconds(path) -> float:
    with av.open(str(path)) as c:
        stream = c.streams.audio[0]
        return sum(f.samples for f in c.decode(stream)) / stream.rate


def burn_whole(info, store, path):
    return export_clip(
        info, 0.0, info.duration_s, path, tracks=store, settings=EncodeSettings(preset="ultrafast")
    )


def test_burned_in_video_keeps_duration_audio_and_frames(source, store, tmp_path):
    clip = burn_whole(source, store, tmp_path / "tracked.mp4")
    assert (clip.video, clip.audio) == ("burn-in", "copy")
    info = probe(clip.path)
    assert (info.codec, info.width, info.height, info.rotation) == ("h264", 160, 120, 0)
    assert info.frame_count == 30 and info.duration_s == pytest.approx(source.duration_s, abs=1e-3)
    assert info.has_audio and info.audio_codec == "aac"
    assert audio_seconds(clip.path) == pytest.approx(audio_seconds(source.path), abs=0.025)
    burned = list(decode_frames(info, range(30)))
    original = list(decode_frames(source, range(30)))
    for i in (0, 15, 29):
        assert read_barcode(burned[i].image) == i
        for obj in (1, 2):  # every object in its own colour, where its mask is on this frame
            mask = store.mask(obj, i)
            if mask is None or not mask.any():
                continue
            inner = np.zeros_like(mask)
            inner[3:-3, 3:-3] = mask[:-6, :-6] & mask[6:, 6:]  # clear of the outline
            color = np.array(PALETTE[obj - 1], dtype=np.float32)
            expected = original[i].image[inner] * (1 - ALPHA) + color * ALPHA
            assert np.abs(burned[i].image[inner].astype(np.float32) - expected).mean() < 6
        outside = (slice(95, 120), slice(110, 160)) if i < 10 else (slice(0, 40), slice(100, 160))
        assert np.abs(burned[i].image[outside].astype(int) - original[i].image[outside]).mean() < 4
    with pytest.raises(ExportError, match="already exists"):
        burn_whole(source, store, clip.path)


def test_burn_in_of_rotated_odd_video_is_upright(media, tmp_path):
    source = probe(media("burn_rot.mp4", frames=8, width=161, height=121, rotation_ccw=90, pix_fmt="yuv444p"))
    assert (source.width, source.height) == (121, 161)
    store = boxes_store(source, {3: {i: (20, 100, 60, 150) for i in range(8)}})
    clip = burn_whole(source, store, tmp_path / "rot.mp4")
    info = probe(clip.path)
    assert (info.width, info.height, info.rotation) == (121, 161, 0)  # the displayed picture, shown as is
    with av.open(str(clip.path)) as c:
        assert c.streams.video[0].codec_context.pix_fmt == "yuv444p"  # the source's, which x264 has
    frame = next(decode_frames(info, [5])).image
    coded = np.rot90(frame, k=source.rotation // 90)  # back to the stored orientation to read the barcode
    assert read_barcode(np.ascontiguousarray(coded)) == 5
    original = next(decode_frames(source, [5])).image
    tint = frame[110:140, 30:50].astype(int) - original[110:140, 30:50]
    color = np.array(PALETTE[2]) - original[110:140, 30:50].mean(axis=(0, 1))
    assert np.sign(tint.mean(axis=(0, 1))).tolist() == np.sign(color).tolist()
