"""Tracking results: RLE that COCO tools read back exactly, a box of it decoded alone, a JSON round trip,
reads during writes."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from engine.errors import ScenescopeError
from engine.tracking import FrameMask, Prompt, TrackStore, decode_box, decode_mask, encode_mask
from engine.tracking.store import _rle_counts


def _masks() -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    one = np.zeros((239, 321), bool)
    one[238, 0] = True
    blob = np.zeros((120, 160), bool)
    blob[30:71, 100:131] = True
    return [
        np.zeros((239, 321), bool),
        np.ones((1, 7), bool),
        one,
        blob,
        rng.random((120, 161)) > 0.5,
        np.asfortranarray(rng.random((33, 65)) > 0.9),
    ]


@pytest.mark.parametrize("mask", _masks(), ids=["empty", "full_row", "corner", "blob", "noise", "fortran"])
def test_rle_round_trips_and_matches_plain_pycocotools(mask):
    rle, bbox, area = encode_mask(mask)
    h, w = mask.shape
    assert isinstance(rle, bytes)
    assert np.array_equal(decode_mask(rle, h, w), mask)
    assert np.array_equal(mask_utils.decode({"size": [h, w], "counts": rle}).astype(bool), mask)
    assert area == int(mask.sum())
    if area:
        ys, xs = np.nonzero(mask)
        assert bbox == (xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)
    else:
        assert bbox == (0, 0, 0, 0)


def test_rle_is_coco_column_major():
    """COCO counts run down columns: a mask with only pixel (row 0, column 1) starts with h zeros."""
    mask = np.zeros((3, 4), bool)
    mask[0, 1] = True
    rle, _, _ = encode_mask(mask)
    counts = mask_utils.frPyObjects([{"size": [3, 4], "counts": [3, 1, 8]}], 3, 4)[0]["counts"]
    assert rle == counts


def _edge_masks() -> list[np.ndarray]:
    """Masks whose boxes touch the frame's borders, a 1080p blob (counts of several characters, differences
    of both signs), one pixel at each corner, a full frame."""
    rng = np.random.default_rng(5)
    ys, xs = np.mgrid[0:1080, 0:1920]
    blob = ((xs - 700) / 300) ** 2 + ((ys - 500) / 180) ** 2 < 1
    edges = (xs < 40) | (ys > 1070) | ((xs > 1900) & (ys < 300)) | (ys == 0)
    corners = [np.zeros((37, 53), bool) for _ in range(4)]
    for mask, (y, x) in zip(corners, [(0, 0), (0, 52), (36, 0), (36, 52)], strict=True):
        mask[y, x] = True
    ragged = rng.random((90, 70)) > 0.6
    ragged[:, [0, -1]] = True
    return [blob, edges, *corners, np.ones((41, 29), bool), ragged, *_masks()]


@pytest.mark.parametrize("mask", _edge_masks(), ids=lambda m: f"{m.shape[0]}x{m.shape[1]}:{int(m.sum())}")
def test_a_box_decodes_alone_exactly_as_its_part_of_the_whole_mask(mask):
    """decode_box is decode_mask cut to the box, for the mask's own box and for any other window."""
    rle, bbox, area = encode_mask(mask)
    h, w = mask.shape
    whole = decode_mask(rle, h, w)
    rng = np.random.default_rng(area)
    windows = [bbox, (0, 0, w, h), (0, 0, 0, 0), (w - 1, h - 1, 1, 1), (0, h - 1, w, 1), (w - 1, 0, 1, h)]
    for _ in range(20):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        windows.append((x, y, int(rng.integers(0, w - x + 1)), int(rng.integers(0, h - y + 1))))
    for x, y, bw, bh in windows:
        part = decode_box(rle, h, (x, y, bw, bh))
        assert part.dtype == bool and part.flags.c_contiguous
        assert np.array_equal(part, whole[y : y + bh, x : x + bw]), (x, y, bw, bh)


def test_rle_counts_are_read_as_pycocotools_writes_them():
    """Counts of every size (one to five characters) that grow and shrink, through pycocotools' encoder."""
    rng = np.random.default_rng(9)
    counts = np.concatenate(([0], rng.integers(1, 2**22, 300) >> rng.integers(0, 22, 300)))
    size = int(counts.sum())
    rle = mask_utils.frPyObjects([{"size": [size, 1], "counts": counts.tolist()}], size, 1)[0]["counts"]
    assert np.array_equal(_rle_counts(rle), counts)


def _store() -> TrackStore:
    store = TrackStore(width=160, height=120, video={"path": "clip.mp4", "frame_count": 10}, model="tiny")
    rng = np.random.default_rng(0)
    for obj in (1, 7):
        store.add_prompt(obj, Prompt(time_s=0.25 * obj, frame_index=obj, points=((10.5, 20.0),), labels=(1,)))
        for i in range(10):
            rle, bbox, area = encode_mask(rng.random((120, 160)) > 0.7 + 0.02 * i)
            store.put(obj, FrameMask(i, i / 25, rle, bbox, area, 0.5 + i / 100))
    store.add_prompt(7, Prompt(time_s=0.32, frame_index=8, box=(1.0, 2.0, 30.0, 40.0)))
    return store


def test_tracks_json_round_trips(tmp_path):
    store = _store()
    path = store.save(tmp_path / "tracks.json")
    doc = json.loads(path.read_text())
    assert doc["format"] == "scenescope-tracks" and doc["version"] == 1
    assert len(doc["images"]) == 10 and len(doc["annotations"]) == 20
    assert {a["track_id"] for a in doc["annotations"]} == {1, 7}
    ann = doc["annotations"][0]
    assert ann["segmentation"]["size"] == [120, 160] and ann["iscrowd"] == 0
    loaded = TrackStore.load(path)
    assert (loaded.width, loaded.height, loaded.model) == (160, 120, "tiny")
    assert loaded.video == store.video
    for obj in (1, 7):
        assert [(m.frame_index, m.rle, m.bbox, m.area) for m in loaded.frames(obj)] == [
            (m.frame_index, m.rle, m.bbox, m.area) for m in store.frames(obj)
        ]
        assert [m.time_s for m in loaded.frames(obj)] == pytest.approx([m.time_s for m in store.frames(obj)])
        assert loaded.prompts(obj) == store.prompts(obj)
    with pytest.raises(FileExistsError):
        store.save(path)
    store.save(path, overwrite=True)


def test_loading_something_else_says_so(tmp_path):
    (tmp_path / "other.json").write_text('{"images": []}')
    with pytest.raises(ScenescopeError, match="not a Scenescope tracks file"):
        TrackStore.load(tmp_path / "other.json")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ScenescopeError, match="not valid JSON"):
        TrackStore.load(tmp_path / "broken.json")


def test_readers_see_a_consistent_store_while_it_is_written():
    store = TrackStore(width=8, height=8)
    rle, bbox, area = encode_mask(np.eye(8, dtype=bool))
    errors, seen = [], []

    def write():
        for i in range(3000):
            store.put(1 + i % 3, FrameMask(i, i / 30, rle, bbox, area, 1.0))

    def read():
        try:
            while writer.is_alive():
                counts = [len(store.frames(o)) for o in store.object_ids()]
                doc = store.to_json()
                seen.append(sum(counts))
                assert len(doc["annotations"]) >= sum(counts) - 3  # a put may land between the two reads
        except Exception as e:  # surfaced below
            errors.append(e)

    writer = threading.Thread(target=write)
    reader = threading.Thread(target=read)
    writer.start()
    reader.start()
    writer.join()
    reader.join()
    assert not errors
    assert store.frames_tracked() == 3000 and sum(len(store.frames(o)) for o in (1, 2, 3)) == 3000
    assert seen == sorted(seen)  # the reader only ever saw the store grow


def _frame_mask(index: int, fill: int) -> FrameMask:
    mask = np.zeros((6, 8), bool)
    mask[:fill] = True
    rle, bbox, area = encode_mask(mask)
    return FrameMask(index, index / 10, rle, bbox, area, 0.9)


def test_changes_since_lets_a_reader_catch_up_in_change_order():
    store = TrackStore(width=8, height=6)
    assert store.changes_since(0).version == 0
    store.add_prompt(1, Prompt(time_s=0.5, frame_index=5, points=((1.0, 2.0),), labels=(1,)))
    for i in (5, 6, 7):
        store.put(1, _frame_mask(i, 1))
    seen = store.changes_since(0)
    assert seen.version == store.version == 4
    assert [(o, m.frame_index) for o, m in seen.masks] == [(1, 5), (1, 6), (1, 7)]
    assert [(o, p.frame_index) for o, p in seen.prompts] == [(1, 5)] and seen.removed == []

    store.put(1, _frame_mask(6, 3))  # re-tracked: the reader gets the new mask, once, at the end
    store.put(2, _frame_mask(6, 2))
    later = store.changes_since(seen.version)
    assert [(o, m.frame_index, m.area) for o, m in later.masks] == [(1, 6, 24), (2, 6, 16)]
    assert later.prompts == [] and store.changes_since(later.version).masks == []

    store.remove_object(1)
    gone = store.changes_since(seen.version)
    assert gone.removed == [1] and [(o, m.frame_index) for o, m in gone.masks] == [(2, 6)]


def test_frame_masks_round_trip_as_plain_data():
    mask = _frame_mask(3, 2)
    data = json.loads(json.dumps(mask.to_dict()))
    assert FrameMask.from_dict(data) == mask
    assert np.array_equal(decode_mask(FrameMask.from_dict(data).rle, 6, 8), decode_mask(mask.rle, 6, 8))
