"""Tracking results: one COCO RLE mask per object per frame, with its box, area and score.

Compact (a compressed RLE string is a few hundred bytes where the mask is a few megabytes) and safe to
read from another thread while a propagation is still writing: the GUI draws whatever has arrived.
Masks are in display orientation at the video's displayed size. RLE follows COCO (pycocotools,
column-major counts), so any COCO tool decodes it.

The JSON form (`to_json` / `save` / `load`) is documented in docs/formats.md, section "Tracks".
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pycocotools import mask as mask_utils

from engine.atomic import write_text_atomic
from engine.errors import ScenescopeError
from engine.user_files import read_json

FORMAT = "scenescope-tracks"
VERSION = 1


@dataclass(frozen=True, slots=True)
class FrameMask:
    """One object's mask on one frame. Pixel values are display-orientation video pixels."""

    frame_index: int
    time_s: float
    rle: bytes  # COCO compressed RLE counts of an [height, width] mask
    bbox: tuple[int, int, int, int]  # x, y, width, height of the mask's pixels (COCO); zeros if empty
    area: int  # mask pixels
    score: float  # probability that the object is in the frame (SAM2's object score, sigmoid)

    def to_dict(self) -> dict:
        return {
            "frame_index": self.frame_index,
            "time_s": self.time_s,
            "rle": self.rle.decode("ascii"),
            "bbox": list(self.bbox),
            "area": self.area,
            "score": self.score,
        }

    @classmethod
    def from_dict(cls, d: dict) -> FrameMask:
        x, y, w, h = (int(v) for v in d["bbox"])
        return cls(
            frame_index=int(d["frame_index"]),
            time_s=float(d["time_s"]),
            rle=str(d["rle"]).encode("ascii"),
            bbox=(x, y, w, h),
            area=int(d["area"]),
            score=float(d["score"]),
        )


@dataclass(frozen=True)
class Prompt:
    """What the user gave for one object on one frame, in display-orientation video pixels."""

    time_s: float
    frame_index: int
    points: tuple[tuple[float, float], ...] = ()
    labels: tuple[int, ...] = ()  # 1 keeps the point in the object, 0 keeps it out
    box: tuple[float, float, float, float] | None = None  # x0, y0, x1, y1

    def to_dict(self) -> dict:
        return {
            "time_s": round(self.time_s, 6),
            "frame_index": self.frame_index,
            "points": [list(p) for p in self.points],
            "labels": list(self.labels),
            "box": list(self.box) if self.box is not None else None,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Prompt:
        box = d.get("box")
        return cls(
            time_s=float(d["time_s"]),
            frame_index=int(d["frame_index"]),
            points=tuple((float(x), float(y)) for x, y in d.get("points", [])),
            labels=tuple(int(v) for v in d.get("labels", [])),
            box=tuple(float(v) for v in box) if box is not None else None,
        )


def encode_mask(mask: np.ndarray) -> tuple[bytes, tuple[int, int, int, int], int]:
    """[H, W] bool -> (compressed COCO RLE counts, bbox x/y/w/h, area)."""
    rle = mask_utils.encode(np.asfortranarray(mask, dtype=np.uint8))
    area = int(mask_utils.area(rle))
    x, y, w, h = (round(v) for v in mask_utils.toBbox(rle)) if area else (0, 0, 0, 0)
    return rle["counts"], (x, y, w, h), area


def decode_mask(rle: bytes, height: int, width: int) -> np.ndarray:
    """Compressed COCO RLE counts -> [height, width] bool."""
    return mask_utils.decode({"size": [height, width], "counts": rle}).astype(bool)


def decode_box(rle: bytes, height: int, box: tuple[int, int, int, int]) -> np.ndarray:
    """The [h, w] bool window at box (x, y, w, h) of the mask that `rle` (compressed COCO RLE counts of a
    mask `height` rows high) encodes: `decode_mask(rle, height, width)[y : y + h, x : x + w]`, made
    without the whole mask. Counts run down columns, so only the runs crossing columns x .. x + w - 1
    are expanded: the cost follows the box's columns (w * height pixels), not the frame (0.2 ms for a
    1080p object's box where the whole decode takes 3.7, docs/benchmarks.md "Mask overlay").
    """
    x, y, w, h = box
    counts = _rle_counts(rle)
    ends = np.cumsum(counts)
    first, last = x * height, (x + w) * height  # the box's columns, as positions in the column-major mask
    inside = np.clip(ends, first, last) - np.clip(ends - counts, first, last)
    is_set = np.arange(len(counts)) % 2 == 1  # runs alternate: unset first (maybe empty), then set
    columns = np.repeat(is_set, inside).reshape(w, height)
    return np.ascontiguousarray(columns[:, y : y + h].T)


def _rle_counts(rle: bytes) -> np.ndarray:
    """Compressed COCO RLE -> run lengths (int64), as pycocotools' rleFrString reads them: each count is 5
    bits a character (offset 48, 0x20 means more follow, 0x10 in the last one is the sign), and from the
    fourth on a count is stored as its difference to the count two before."""
    c = np.frombuffer(rle, np.uint8).astype(np.int64) - 48
    ends = np.flatnonzero((c & 0x20) == 0)  # the last character of each count
    starts = np.concatenate(([0], ends[:-1] + 1))
    digit = np.arange(len(c)) - np.repeat(starts, ends - starts + 1)  # 5-bit digit of its count, low first
    counts = np.add.reduceat((c & 0x1F) << (5 * digit), starts)
    negative = (c[ends] & 0x10) != 0
    counts[negative] -= np.left_shift(1, 5 * (digit[ends][negative] + 1))
    counts[1::2] = np.cumsum(counts[1::2])  # undo the differences: odd counts chain from counts[1],
    counts[2::2] = np.cumsum(counts[2::2])  # even ones from counts[2]; counts[0] stands alone
    return counts


@dataclass(frozen=True)
class TrackingRun:
    """What one propagation or refinement did."""

    frames_tracked: int
    elapsed_s: float
    start_s: float  # the span covered (display times of its first and last frame)
    end_s: float

    def to_dict(self) -> dict:
        return {
            "frames_tracked": self.frames_tracked,
            "elapsed_s": self.elapsed_s,
            "start_s": self.start_s,
            "end_s": self.end_s,
        }

    @classmethod
    def from_dict(cls, d: dict) -> TrackingRun:
        return cls(int(d["frames_tracked"]), float(d["elapsed_s"]), float(d["start_s"]), float(d["end_s"]))


@dataclass(frozen=True)
class StoreChanges:
    """What changed in a `TrackStore` after some version: enough for a reader to catch up."""

    version: int  # the store's version these changes bring a reader to
    masks: list[tuple[int, FrameMask]]  # (object id, its mask now), one per changed frame, in change order
    prompts: list[tuple[int, Prompt]]  # (object id, prompt) added or replaced
    removed: list[int]  # objects removed (their earlier masks are not listed)


@dataclass
class TrackStore:
    """Per-object, per-frame masks of one video. Every method may be called from any thread."""

    width: int
    height: int
    video: dict = field(default_factory=dict)  # path, identity, fps, frame_count, duration_s
    model: str = ""
    _masks: dict[int, dict[int, FrameMask]] = field(default_factory=dict, repr=False)
    _prompts: dict[int, dict[int, Prompt]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # One entry per change, so version == len(_log): ("mask" | "prompt" | "removed", obj_id, frame_index)
    _log: list[tuple[str, int, int]] = field(default_factory=list, repr=False)

    @property
    def version(self) -> int:
        """Grows with every change: a reader that saw this number has seen everything before it."""
        return len(self._log)

    def put(self, obj_id: int, mask: FrameMask) -> None:
        with self._lock:
            self._masks.setdefault(obj_id, {})[mask.frame_index] = mask
            self._log.append(("mask", obj_id, mask.frame_index))

    def add_prompt(self, obj_id: int, prompt: Prompt) -> None:
        with self._lock:
            self._prompts.setdefault(obj_id, {})[prompt.frame_index] = prompt
            self._masks.setdefault(obj_id, {})
            self._log.append(("prompt", obj_id, prompt.frame_index))

    def remove_prompt(self, obj_id: int, frame_index: int) -> None:
        """Take back the object's clicks on one frame (a click the engine refused); its masks stay."""
        with self._lock:
            self._prompts.get(obj_id, {}).pop(frame_index, None)
            self._log.append(("prompt", obj_id, frame_index))

    def remove_object(self, obj_id: int) -> None:
        with self._lock:
            self._masks.pop(obj_id, None)
            self._prompts.pop(obj_id, None)
            self._log.append(("removed", obj_id, -1))

    def changes_since(self, version: int) -> StoreChanges:
        """Everything that changed after `version` (0: everything), as the store holds it now."""
        with self._lock:
            now = len(self._log)
            entries = self._log[max(0, version) :]
            masks: dict[tuple[int, int], FrameMask] = {}
            prompts: dict[tuple[int, int], Prompt] = {}
            removed: list[int] = []
            for kind, obj_id, frame_index in entries:
                key = (obj_id, frame_index)
                if kind == "removed":
                    removed.append(obj_id)
                    masks = {k: m for k, m in masks.items() if k[0] != obj_id}
                    prompts = {k: p for k, p in prompts.items() if k[0] != obj_id}
                elif kind == "mask" and (mask := self._masks.get(obj_id, {}).get(frame_index)):
                    masks.pop(key, None)  # keep change order: move a re-tracked frame to the end
                    masks[key] = mask
                elif kind == "prompt" and (prompt := self._prompts.get(obj_id, {}).get(frame_index)):
                    prompts[key] = prompt
        return StoreChanges(
            version=now,
            masks=[(obj_id, m) for (obj_id, _), m in masks.items()],
            prompts=[(obj_id, p) for (obj_id, _), p in prompts.items()],
            removed=removed,
        )

    def object_ids(self) -> list[int]:
        with self._lock:
            return sorted(self._masks)

    def prompts(self, obj_id: int) -> list[Prompt]:
        with self._lock:
            return [p for _, p in sorted(self._prompts.get(obj_id, {}).items())]

    def get(self, obj_id: int, frame_index: int) -> FrameMask | None:
        with self._lock:
            return self._masks.get(obj_id, {}).get(frame_index)

    def frames(self, obj_id: int) -> list[FrameMask]:
        """The object's masks in frame order (a snapshot)."""
        with self._lock:
            return [m for _, m in sorted(self._masks.get(obj_id, {}).items())]

    def frame_indices(self, obj_id: int) -> list[int]:
        with self._lock:
            return sorted(self._masks.get(obj_id, {}))

    def mask(self, obj_id: int, frame_index: int) -> np.ndarray | None:
        """[height, width] bool, or None where the object was not tracked."""
        entry = self.get(obj_id, frame_index)
        return None if entry is None else decode_mask(entry.rle, self.height, self.width)

    def frames_tracked(self) -> int:
        """Distinct frames with a mask of at least one object."""
        with self._lock:
            return len(set().union(*(m.keys() for m in self._masks.values()))) if self._masks else 0

    def to_json(self, pause: Callable[[], None] | None = None) -> dict:
        """The COCO-style document of docs/formats.md ("Tracks"). `pause` is called between batches of
        masks (a saving thread yields the interpreter lock there, so a GUI thread keeps its beat)."""
        with self._lock:
            masks = {obj: dict(frames) for obj, frames in self._masks.items()}
            prompts = {obj: dict(p) for obj, p in self._prompts.items()}
        frame_times = {m.frame_index: m.time_s for frames in masks.values() for m in frames.values()}
        images = [
            {"id": i, "frame_index": i, "time_s": round(t, 6), "width": self.width, "height": self.height}
            for i, t in sorted(frame_times.items())
        ]
        annotations = []
        for obj in sorted(masks):
            for index in sorted(masks[obj]):
                if pause is not None and len(annotations) % 64 == 63:
                    pause()
                m = masks[obj][index]
                annotations.append(
                    {
                        "id": len(annotations) + 1,
                        "image_id": index,
                        "category_id": 1,
                        "track_id": obj,
                        "segmentation": {"size": [self.height, self.width], "counts": m.rle.decode("ascii")},
                        "area": m.area,
                        "bbox": list(m.bbox),
                        "score": round(m.score, 6),
                        "iscrowd": 0,
                    }
                )
        tracks = [
            {
                "id": obj,
                "prompts": [p.to_dict() for _, p in sorted(prompts.get(obj, {}).items())],
                "frame_count": len(masks[obj]),
            }
            for obj in sorted(masks)
        ]
        return {
            "format": FORMAT,
            "version": VERSION,
            "video": {**self.video, "width": self.width, "height": self.height},
            "model": self.model,
            "categories": [{"id": 1, "name": "object"}],
            "images": images,
            "annotations": annotations,
            "tracks": tracks,
        }

    def save(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Write the JSON atomically. Refuses to replace an existing file unless `overwrite`."""
        path = Path(path)
        write_text_atomic(path, json.dumps(self.to_json(), separators=(",", ":")), overwrite=overwrite)
        return path

    @classmethod
    def from_json(cls, doc: dict) -> TrackStore:
        if doc.get("format") != FORMAT:
            raise ScenescopeError("not a Scenescope tracks file (its 'format' is not scenescope-tracks)")
        if doc.get("version") != VERSION:
            raise ScenescopeError(f"tracks file version {doc.get('version')} is not supported ({VERSION} is)")
        video = dict(doc["video"])
        width, height = int(video.pop("width")), int(video.pop("height"))
        store = cls(width=width, height=height, video=video, model=doc.get("model", ""))
        times = {int(img["id"]): float(img["time_s"]) for img in doc["images"]}
        for track in doc.get("tracks", []):
            for p in track.get("prompts", []):
                store.add_prompt(int(track["id"]), Prompt.from_dict(p))
        for ann in doc["annotations"]:
            index = int(ann["image_id"])
            x, y, w, h = (int(v) for v in ann["bbox"])
            store.put(
                int(ann["track_id"]),
                FrameMask(
                    frame_index=index,
                    time_s=times[index],
                    rle=ann["segmentation"]["counts"].encode("ascii"),
                    bbox=(x, y, w, h),
                    area=int(ann["area"]),
                    score=float(ann.get("score", 1.0)),
                ),
            )
        return store

    @classmethod
    def load(cls, path: str | os.PathLike) -> TrackStore:
        fix = "Give the tracks.json that `scenescope track` wrote."
        doc = read_json(path, "tracks file", fix)
        try:
            return cls.from_json(doc)
        except ScenescopeError as e:
            raise ScenescopeError(f"{path}: {e}. {fix}") from None
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise ScenescopeError(f"{path} is not a tracks file ({type(e).__name__}: {e}). {fix}") from None


def masks_at(
    store: TrackStore, frame_index: int, obj_ids: Iterable[int] | None = None
) -> dict[int, FrameMask]:
    """The masks of every (or the given) object on one frame."""
    ids = store.object_ids() if obj_ids is None else obj_ids
    found = {obj: store.get(obj, frame_index) for obj in ids}
    return {obj: m for obj, m in found.items() if m is not None}
