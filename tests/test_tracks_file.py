"""The session's tracked objects beside it (app/tracks_file.py): masks, clicks, names and colours come back
as saved; clicks not answered yet are saved as the clicks before them; the file written in pieces is the
same bytes as one `json.dumps`; a writer killed between writing and renaming leaves the old file whole;
a damaged file is one line naming the file, what is wrong and what to do."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from app.tracks_file import TrackedObject, json_pieces, load_objects, save_objects
from engine.errors import ScenescopeError
from engine.tracking import FrameMask, Prompt, TrackStore, encode_mask
from tests.conftest import checkout_env


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


def test_the_file_written_in_pieces_is_the_same_bytes_as_one_dumps(tmp_path) -> None:
    store, objects = two_objects()
    path = save_objects(tmp_path / "tracks.json", store, objects)
    doc = json.loads(path.read_text())
    assert path.read_text() == "".join(json_pieces(doc)) == json.dumps(doc, separators=(",", ":"))


def test_unanswered_clicks_are_saved_as_the_clicks_before_them(tmp_path) -> None:
    store, objects = two_objects()
    answered = store.prompts(1)[0]
    store.add_prompt(1, Prompt(0.5, 12, ((8.0, 20.0), (1.0, 1.0)), (1, 0), None))  # more on frame 12
    store.add_prompt(2, Prompt(0.9, 20, ((40.0, 20.0),), (1,), None))  # a first one on frame 20
    store.add_prompt(3, Prompt(0.9, 20, ((4.0, 4.0),), (1,), None))  # the click that made object 3
    objects = [*objects, TrackedObject(3, "Object 3", "#ffd54f")]
    unanswered = {(1, 12): answered, (2, 20): None, (3, 20): None}
    loaded, again = load_objects(save_objects(tmp_path / "tracks.json", store, objects, unanswered))
    assert loaded.prompts(1) == [answered]
    assert [p.frame_index for p in loaded.prompts(2)] == [12]
    assert loaded.object_ids() == [1, 2] and [o.obj_id for o in again] == [1, 2]  # 3 had nothing else
    assert loaded.frames(1) == store.frames(1)


KILLED_WRITER = """
import os, signal, sys
import engine.atomic
from app.tracks_file import save_objects
from tests.test_tracks_file import two_objects

def killed(src, dst):
    os.kill(os.getpid(), signal.SIGKILL)  # the temporary is written and flushed; the rename never comes

store, objects = two_objects()
objects[0].name = "Renamed"
engine.atomic.os.replace = killed
save_objects(sys.argv[1], store, objects)
"""


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL")
def test_a_writer_killed_between_write_and_rename_leaves_the_old_file_whole(tmp_path) -> None:
    store, objects = two_objects()
    path = save_objects(tmp_path / "tracks.json", store, objects)
    before = path.read_bytes()
    done = subprocess.run(
        [sys.executable, "-c", KILLED_WRITER, str(path)], env=checkout_env(), capture_output=True, timeout=120
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    (left,) = [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]
    assert b"Renamed" in left.read_bytes()  # the killed writer got as far as the rename
    assert path.read_bytes() == before
    assert [o.name for o in load_objects(path)[1]] == ["Boat", "Red car"]
    save_objects(path, store, objects)  # the next save clears the dead writer's temporary
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tracks.json"]


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
