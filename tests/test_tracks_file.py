"""The session's tracked objects beside it (app/tracks_file.py): masks, clicks, names and colours come back
as saved; a damaged file is one line naming the file, what is wrong and what to do."""

from __future__ import annotations

import json

import numpy as np
import pytest

from app.tracks_file import TrackedObject, load_objects, save_objects
from engine.errors import ScenescopeError
from engine.tracking import FrameMask, Prompt, TrackStore, encode_mask


def two_objects() -> tuple[TrackStore, list[TrackedObject]]:
    store = TrackStore(width=64, height=48, video={"path": "clip.mp4"})
    for obj, x in ((1, 5), (2, 30)):
        mask = np.zeros((48, 64), bool)
        mask[10:30, x : x + 12] = True
        rle, bbox, area = encode_mask(mask)
        store.add_prompt(obj, Prompt(0.5, 12, ((x + 3.0, 20.0),), (1,), None))
        for frame in (12, 13):
            store.put(obj, FrameMask(frame, frame / 25, rle, bbox, area, 0.875))  # times to 6 decimals
    return store, [TrackedObject(1, "Boat", "#ff5a5a"), TrackedObject(2, "Red car", "#4fc3f7")]


def test_objects_come_back_as_saved(tmp_path) -> None:
    store, objects = two_objects()
    path = save_objects(tmp_path / "tracks.json", store, objects)
    loaded, again = load_objects(path)
    assert again == objects
    assert loaded.object_ids() == [1, 2]
    for obj in (1, 2):
        assert loaded.frames(obj) == store.frames(obj)
        assert loaded.prompts(obj) == store.prompts(obj)
    doc = json.loads(path.read_text())
    assert doc["format"] == "scenescope-tracks" and len(doc["annotations"]) == 4  # still a tracks file


@pytest.mark.parametrize(
    ("damage", "says"),
    [
        (lambda doc: doc["tracks"][0].update(color="red"), "colour 'red' is not #rrggbb"),
        (lambda doc: doc["tracks"][1].pop("name"), "object 2 has no name"),
        (lambda doc: doc["tracks"][0].update(id=0), "track id 0"),
        (lambda doc: doc.update(format="other"), "not a Scenescope tracks file"),
        (lambda doc: doc["annotations"][0].pop("bbox"), "KeyError"),
    ],
)
def test_a_damaged_file_says_what_is_wrong_in_one_line(tmp_path, damage, says) -> None:
    store, objects = two_objects()
    path = save_objects(tmp_path / "tracks.json", store, objects)
    doc = json.loads(path.read_text())
    damage(doc)
    path.write_text(json.dumps(doc))
    with pytest.raises(ScenescopeError) as caught:
        load_objects(path)
    message = str(caught.value)
    assert says in message and str(path) in message and "Delete it" in message and "\n" not in message


def test_a_cut_off_file_says_so(tmp_path) -> None:
    store, objects = two_objects()
    path = save_objects(tmp_path / "tracks.json", store, objects)
    path.write_text(path.read_text()[:100])
    with pytest.raises(ScenescopeError, match="Delete it"):
        load_objects(path)
