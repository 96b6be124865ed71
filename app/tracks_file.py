"""The tracked objects of a session, in a file beside it: the engine's tracks JSON plus each object's name
and colour (docs/formats.md, "Session" and "Tracks").

    save_objects(path, store, objects)          # atomic
    store, objects = load_objects(path)         # ScenescopeError naming the file when it is damaged

The document is exactly `TrackStore.to_json()` (COCO RLE masks, boxes, scores, the clicks of every
object) with `name` and `color` added to each entry of `tracks`, so any reader of tracks files reads it,
and reopening shows the masks without running SAM2 again.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from engine.atomic import write_text_atomic
from engine.errors import ScenescopeError
from engine.tracking import TrackStore
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


def save_objects(path: str | os.PathLike, store: TrackStore, objects: list[TrackedObject]) -> Path:
    doc = store.to_json()
    by_id = {o.obj_id: o for o in objects}
    doc["tracks"] = [
        {**track, "name": by_id[track["id"]].name, "color": by_id[track["id"]].color}
        for track in doc["tracks"]
        if track["id"] in by_id
    ]
    write_text_atomic(path, json.dumps(doc, separators=(",", ":")))
    return Path(path)


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
