"""The tracked objects of a session, in a file beside it: the engine's tracks JSON plus each object's name
and colour (docs/formats.md, "Session" and "Tracks").

    save_objects(path, store, objects)          # atomic
    store, objects = load_objects(path)         # ScenescopeError naming the file when it is damaged

The document is exactly `TrackStore.to_json()` (COCO RLE masks, boxes, scores, the clicks of every
object) with `name` and `color` added to each entry of `tracks`, so any reader of tracks files reads it,
and reopening shows the masks without running SAM2 again. Clicks the engine has not answered yet are
saved as the clicks before them (`unanswered`): a click the engine refuses never reaches the file.
It is written in pieces, so that a save on a thread of its own (app/tracks_saver.py) lets the GUI thread
run meanwhile: one `json.dumps` of the whole document would hold the interpreter lock throughout.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from engine.atomic import atomic_open
from engine.errors import ScenescopeError
from engine.tracking import Prompt, TrackStore
from engine.user_files import read_json

FILE_NAME = "tracks.json"  # in the session's data folder
SESSION_KEY = "objects"  # its name in `Session.tracks`
_COLOR = re.compile(r"#[0-9a-fA-F]{6}")


@dataclass
class TrackedObject:
    """One object as the analyst sees it; `obj_id` is the engine's."""

    obj_id: int
    name: str
    color: str  # "#rrggbb"


def save_objects(
    path: str | os.PathLike,
    store: TrackStore,
    objects: list[TrackedObject],
    unanswered: Mapping[tuple[int, int], Prompt | None] | None = None,
) -> Path:
    """Write the objects atomically. `unanswered`: (object id, frame index) of clicks the engine has not
    answered yet -> the prompt on that frame before them (None: there was none), saved in their place;
    an object left with no clicks and no masks is not saved."""
    doc = store.to_json(pause=_let_others_run)
    by_id = {o.obj_id: o for o in objects}
    before = unanswered or {}
    tracks = []
    for track in doc["tracks"]:
        obj_id = track["id"]
        prompts = [_answered(obj_id, p, before) for p in track["prompts"]]
        prompts = [p for p in prompts if p is not None]
        if obj_id in by_id and (prompts or track["frame_count"]):
            obj = by_id[obj_id]
            tracks.append({**track, "prompts": prompts, "name": obj.name, "color": obj.color})
    doc["tracks"] = tracks
    with atomic_open(path, "w") as f:
        for piece in json_pieces(doc):
            f.write(piece)
            _let_others_run()
    return Path(path)


def _let_others_run() -> None:
    """On the saving thread: a GUI thread waiting for the interpreter lock gets it now, not after the 5 ms
    switch interval each time it comes back from Qt (a heartbeat during playback saw 1146 ms stalls)."""
    time.sleep(0)


def json_pieces(doc: dict) -> Iterator[str]:
    """`json.dumps(doc, separators=(",", ":"))` in pieces: each item of a top-level list on its own."""
    yield "{"
    for n, (key, value) in enumerate(doc.items()):
        yield f"{',' if n else ''}{json.dumps(key)}:"
        if isinstance(value, list):
            yield "["
            for i, item in enumerate(value):
                yield f"{',' if i else ''}{json.dumps(item, separators=(',', ':'))}"
            yield "]"
        else:
            yield json.dumps(value, separators=(",", ":"))
    yield "}"


def _answered(obj_id: int, prompt: dict, before: Mapping[tuple[int, int], Prompt | None]) -> dict | None:
    key = (obj_id, prompt["frame_index"])
    if key not in before:
        return prompt
    earlier = before[key]
    return None if earlier is None else earlier.to_dict()


def load_objects(path: str | os.PathLike) -> tuple[TrackStore, list[TrackedObject]]:
    fix = "Delete it to start the session's objects afresh."
    doc = read_json(path, "tracks file", fix)
    try:
        store = TrackStore.from_json(doc)
        objects = [_tracked_object(track) for track in doc["tracks"]]
    except ScenescopeError as e:
        raise ScenescopeError(f"{path}: {e}. {fix}") from None
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise ScenescopeError(f"{path} is damaged ({type(e).__name__}: {e}). {fix}") from None
    return store, objects


def _tracked_object(track: dict) -> TrackedObject:
    obj_id, name, color = track["id"], track.get("name"), track.get("color")
    if isinstance(obj_id, bool) or not isinstance(obj_id, int) or obj_id < 1:
        raise ValueError(f"track id {obj_id!r} is not a whole number from 1")
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"object {obj_id} has no name")
    if not isinstance(color, str) or not _COLOR.fullmatch(color):
        raise ValueError(f"object {obj_id}'s colour {color!r} is not #rrggbb")
    return TrackedObject(obj_id, name, color)
