"""Tracking in the window: the objects, their clicks, their masks as they stream in, the worker's tracker.

    tracking = TrackingController(window.worker, window.sessions)
    tracking.set_video(info)                 # after the window opened a video: the session's objects return
    tracking.set_mode(True); tracking.click(412.0, 230.5, positive=True)   # on the frame on screen
    tracking.propagate()                     # the moment under the playhead (or ±10 s), both ways
    tracking.tracker_handle(), tracking.objects()                          # for the export dialog

The masks live in `self.store`, an `engine.tracking.TrackStore` filled from the worker's answers (the mask
of a clicked frame from `track_prompt`, every tracked frame from the "masks" partials), so the overlay
draws whatever has arrived. Requests to the tracker go one at a time, in order, so a click made while a
propagation runs follows it. The worker's tracker is rebuilt from the session's file when there is none
(a session reopened, the engine restarted): `track_restore` before the next request that needs it prompts
the stored clicks again and keeps the stored masks, so exports and refinements see them.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from app.session import data_folder
from app.tracks_file import FILE_NAME, SESSION_KEY, TrackedObject, load_objects, save_objects
from app.worker_client import Call, WorkerClient
from engine.errors import ScenescopeError
from engine.tracking import FrameMask, Prompt, TrackStore
from engine.video import VideoInfo

COLORS = ("#ff5a5a", "#4fc3f7", "#ffd54f", "#81c784", "#ba68c8", "#ff8a65", "#4db6ac", "#f06292", "#9fa8da")
AROUND_PLAYHEAD_S = 10.0  # propagation without a moment: this far either side of the playhead
MOMENT_MARGIN_S = 1.0  # a moment is tracked with this much more on each side
LANES_EVERY_MS = 150  # presence lanes follow streaming masks at most this often


class TrackingController(QObject):
    mode_changed = Signal(bool)
    objects_changed = Signal()  # added, removed, renamed, recoloured, picked
    masks_changed = Signal(object)  # the frame indices whose masks changed
    presence_changed = Signal()  # lanes: at most every LANES_EVERY_MS while masks stream
    busy_changed = Signal(bool)  # a propagation or refinement runs
    progress_changed = Signal(int, int, float)  # frames done, total, seconds left (nan: not known yet)
    message = Signal(str)  # for the status bar
    failed = Signal(str)  # for the banner

    def __init__(self, worker: WorkerClient, sessions=None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.worker, self.sessions = worker, sessions
        self.info: VideoInfo | None = None
        self.store: TrackStore | None = None
        self._objects: dict[int, TrackedObject] = {}
        self.current: int | None = None  # the object clicks go to
        self.mode = False
        self.frame_index = -1  # the frame on screen (Player.frame_shown)
        self.moment: tuple[float, float] | None = None  # propagation range, margin included
        self._video: str | None = None  # the worker's handle of the video
        self._tracker: str | None = None
        self._engine_tracked: set[int] = set()  # objects the worker's tracker has propagated
        self._queue: deque[tuple[str, dict, Callable[[dict], None]]] = deque()
        self._restore = False  # the worker needs a tracker rebuilt from the saved objects first
        self._call: Call | None = None
        self._first_progress: tuple[float, int] | None = None  # (when, frames done) of the call's first
        self._lanes = QTimer(self, singleShot=True, interval=LANES_EVERY_MS)
        self._lanes.timeout.connect(self.presence_changed)

    # ----- for the export dialog and the moments list -------------------------------------------------------
    def tracker_handle(self) -> str | None:
        """The worker's tracker holding these objects (None until the engine has one)."""
        return self._tracker

    def objects(self) -> list[TrackedObject]:
        return [self._objects[k] for k in sorted(self._objects)]

    def set_moment_range(self, start_s: float | None, end_s: float | None = None) -> None:
        """The moment under the playhead (None: none); propagation covers it with a margin."""
        self.moment = (
            None
            if start_s is None or end_s is None
            else self._clamp(start_s - MOMENT_MARGIN_S, end_s + MOMENT_MARGIN_S)
        )

    def track_in_moment(self, start_s: float, end_s: float) -> float:
        """Tracking mode at the moment's start, propagation limited to the moment. Returns where to seek."""
        self.moment = self._clamp(start_s, end_s)
        self.set_mode(True)
        return self.moment[0]

    # ----- the video ----------------------------------------------------------------------------------------
    def set_video(self, info: VideoInfo, handle: str) -> None:
        """The window shows `info`, opened in the worker as `handle`: the session's objects come back
        (same video: the ones in memory stay); the worker's tracker is rebuilt from their clicks when
        next needed."""
        same = self.info is not None and self.info.identity == info.identity and self.store is not None
        if self._call is not None:
            self.worker.cancel(self._call)  # its answers would be about the tracker of before
        self.info, self._video, self._tracker = info, handle, None
        self._engine_tracked.clear()
        self._queue.clear()
        self._set_call(None)
        if not same:
            self._objects, self.current, self.moment = {}, None, None
            self.store = TrackStore(width=info.width, height=info.height, video={"path": str(info.path)})
            self._load_session_objects()
        self._replay_clicks()
        self._pump()
        self.objects_changed.emit()
        self.masks_changed.emit(None)
        self.presence_changed.emit()

    # ----- objects ------------------------------------------------------------------------------------------
    def set_mode(self, on: bool) -> None:
        if on != self.mode:
            self.mode = on
            self.mode_changed.emit(on)

    def new_object(self) -> TrackedObject:
        """A new object; the next clicks go to it."""
        obj_id = max(self._objects, default=0) + 1
        obj = TrackedObject(obj_id, f"Object {obj_id}", COLORS[(obj_id - 1) % len(COLORS)])
        self._objects[obj_id] = obj
        self.current = obj_id
        self.set_mode(True)
        self.objects_changed.emit()
        return obj

    def pick(self, obj_id: int) -> None:
        if obj_id in self._objects:
            self.current = obj_id
            self.objects_changed.emit()
        else:
            self.message.emit(f"No object {obj_id}: press N for a new object.")

    def rename(self, obj_id: int, name: str) -> None:
        if name.strip() and obj_id in self._objects:
            self._objects[obj_id].name = name.strip()
            self._changed()

    def set_color(self, obj_id: int, color: str) -> None:
        if obj_id in self._objects:
            self._objects[obj_id].color = color
            self._changed()
            self.masks_changed.emit(None)

    def remove(self, obj_id: int) -> None:
        if obj_id not in self._objects or self.store is None:
            return
        del self._objects[obj_id]
        frames = self.store.frame_indices(obj_id)
        self.store.remove_object(obj_id)
        if self.current == obj_id:
            self.current = None
        if obj_id in self._engine_tracked or self._tracker is not None:
            self._engine_tracked.discard(obj_id)
            self._send("track_remove", {"obj_id": obj_id}, lambda _data: None)  # after what runs now
        self._changed()
        self.masks_changed.emit(set(frames))

    def presence(self, obj_id: int) -> tuple[np.ndarray, np.ndarray]:
        """Where the object shows: (starts, ends) in seconds of its runs of consecutive frames with a mask."""
        assert self.store is not None and self.info is not None
        shown = np.array([m.frame_index for m in self.store.frames(obj_id) if m.area > 0], np.int64)
        if not len(shown):
            return np.zeros(0), np.zeros(0)
        breaks = np.flatnonzero(np.diff(shown) != 1)
        firsts = shown[np.r_[0, breaks + 1]]
        lasts = shown[np.r_[breaks, len(shown) - 1]]
        times = np.append(np.asarray(self.info.frames.times_s, float), self.info.duration_s)
        return times[firsts], times[lasts + 1]

    # ----- clicks -------------------------------------------------------------------------------------------
    def click(self, x: float, y: float, positive: bool = True) -> None:
        """A point on the frame on screen (video pixels, display orientation) for the current object."""
        self._clicked(points=[[x, y]], labels=[1 if positive else 0], box=None)

    def drag_box(self, x0: float, y0: float, x1: float, y1: float) -> None:
        self._clicked(points=[], labels=[], box=[min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)])

    def _clicked(self, points: list, labels: list, box: list | None) -> None:
        if not self.mode or self.info is None or self.store is None or self.frame_index < 0:
            return
        obj_id = self.current if self.current in self._objects else self.new_object().obj_id
        index = self.frame_index
        time_s = self.info.frames.time_of(index)
        fields = {"obj_id": obj_id, "time_s": time_s, "points": points, "labels": labels, "box": box}
        self._remember_click(obj_id, index, time_s, points, labels, box)
        if self._tracked_in_engine(obj_id) and index in self.store.frame_indices(obj_id):
            self._send("track_refine", fields, lambda data: self._tracked(data, "Re-tracked"))
        else:
            self._send("track_prompt", fields, lambda data: self._prompted(obj_id, data))

    def _remember_click(self, obj_id, index, time_s, points, labels, box) -> None:
        """The click in the store at once (drawn on the frame), merged as the engine merges it."""
        assert self.store is not None
        old = next((p for p in self.store.prompts(obj_id) if p.frame_index == index), None)
        if old is not None:
            points, labels = [*old.points, *points], [*old.labels, *labels]
            box = box if box is not None else old.box
        self.store.add_prompt(
            obj_id,
            Prompt(
                time_s,
                index,
                tuple(tuple(p) for p in points),
                tuple(labels),
                None if box is None else tuple(box),
            ),
        )
        self.masks_changed.emit({index})

    def _prompted(self, obj_id: int, data: dict) -> None:
        mask = FrameMask.from_dict(data["mask"])
        self._put([(obj_id, mask)])
        self._changed()

    # ----- propagation --------------------------------------------------------------------------------------
    def propagate(self, whole: bool = False) -> None:
        """Track the objects through the moment (or ±10 s around the playhead, or the whole video)."""
        if self.info is None or self.store is None:
            return
        start_s, end_s = (0.0, self.info.duration_s) if whole else self.propagation_range()
        first, last = self.info.frames.frames_in(start_s, end_s)
        ids = [o for o in self._objects if any(first <= p.frame_index <= last for p in self.store.prompts(o))]
        if not ids:
            self.message.emit(
                f"No object has clicks between {start_s:.1f} s and {end_s:.1f} s: click one on a frame there."
            )
            return
        fields = {"start_s": start_s, "end_s": end_s, "obj_ids": ids}
        self._send("track_propagate", fields, lambda data: self._tracked(data, "Tracked", ids))

    def propagation_range(self) -> tuple[float, float]:
        assert self.info is not None
        if self.moment is not None:
            return self.moment
        now = self.info.frames.time_of(max(0, self.frame_index))
        return self._clamp(now - AROUND_PLAYHEAD_S, now + AROUND_PLAYHEAD_S)

    def cancel(self) -> None:
        if self._call is not None:
            self.worker.cancel(self._call)

    @property
    def busy(self) -> bool:
        return self._call is not None and self._call.kind in ("track_propagate", "track_refine")

    def _tracked(self, data: dict, verb: str, ids: list[int] | None = None) -> None:
        run = data["run"]
        self._engine_tracked.update(ids or [])
        self.message.emit(f"{verb} {run['frames_tracked']:,} frames in {run['elapsed_s']:.1f} s")
        self._changed()

    # ----- the worker, one request at a time ----------------------------------------------------------------
    def _send(self, kind: str, fields: dict, done: Callable[[dict], None]) -> None:
        self._queue.append((kind, fields, done))
        self._pump()

    def _pump(self) -> None:
        if self._call is not None or not self._queue or self._video is None:
            return
        if self._queue[0][0] == "track_remove" and self._tracker is None:
            self._queue.popleft()  # nothing in the engine to remove
            self._pump()
            return
        if self._restore and self._tracker is None:
            self._restore = False
            path = self._save()
            if path is not None:
                self._request("track_restore", {"video": self._video, "path": str(path)}, self._restored)
                return
        kind, fields, done = self._queue.popleft()
        target = {"tracker": self._tracker} if self._tracker is not None else {"video": self._video}
        self._request(kind, {**target, **{k: v for k, v in fields.items() if v is not None}}, done)

    def _request(self, kind: str, fields: dict, done: Callable[[dict], None]) -> None:
        call = self.worker.request(kind, **fields)
        call.partial.connect(self._partial)
        call.progress.connect(self._progress)
        call.finished.connect(lambda data: self._finished(call, data, done))
        call.failed.connect(lambda error: self._failed(call, error))
        self._first_progress = None
        self._set_call(call)

    def _restored(self, data: dict) -> None:
        """The worker's tracker holds the saved masks again: a click on a tracked frame refines it."""
        self._put([(m["obj_id"], FrameMask.from_dict(m)) for m in data["masks"]])
        self._engine_tracked.update(o for o in self._objects if self._tracked_beyond_clicks(o))
        self._changed()

    def _tracked_in_engine(self, obj_id: int) -> bool:
        """Whether the worker's tracker has (or will have, once restored) masks past its clicks."""
        return obj_id in self._engine_tracked or (self._restore and self._tracked_beyond_clicks(obj_id))

    def _tracked_beyond_clicks(self, obj_id: int) -> bool:
        assert self.store is not None
        prompted = {p.frame_index for p in self.store.prompts(obj_id)}
        return any(f not in prompted for f in self.store.frame_indices(obj_id))

    def _finished(self, call: Call, data: dict, done: Callable[[dict], None]) -> None:
        if call is not self._call:
            return
        self._tracker = data.get("tracker", self._tracker)
        self._set_call(None)
        done(data)
        self._pump()

    def _failed(self, call: Call, error: dict) -> None:
        if call is not self._call:
            return
        self._set_call(None)
        if error.get("code") == "cancelled":
            self.message.emit("Tracking cancelled: the frames tracked so far stay.")
            self._queue.clear()
        elif error.get("code") == "unknown_handle":  # the tracker is gone: rebuild it from the clicks
            self._tracker = None
            self._engine_tracked.clear()
            self._replay_clicks()
        else:
            self.failed.emit(f"Tracking: {error.get('message')}")
            self._queue.clear()
        self._changed()
        self._pump()

    def _partial(self, kind: str, data: dict) -> None:
        if kind == "masks":
            self._put([(m["obj_id"], FrameMask.from_dict(m)) for m in data["masks"]])

    def _progress(self, progress) -> None:
        if progress.stage != "track" or not progress.total:
            return
        done, total, now = int(progress.done), int(progress.total), time.monotonic()
        if self._first_progress is None:
            self._first_progress = (now, done)
        t0, d0 = self._first_progress  # from the first frame tracked: model loading is not tracking
        left = (now - t0) / (done - d0) * (total - done) if done - d0 >= 3 else math.nan
        self.progress_changed.emit(done, total, left)

    def _set_call(self, call: Call | None) -> None:
        was = self.busy
        self._call = call
        if self.busy != was:
            self.busy_changed.emit(self.busy)

    def _replay_clicks(self) -> None:
        """Have the worker rebuild its tracker from the saved objects before the next request needing it."""
        self._restore = self.store is not None and any(self.store.prompts(o) for o in self._objects)

    # ----- results in, session out --------------------------------------------------------------------------
    def _put(self, masks: list[tuple[int, FrameMask]]) -> None:
        assert self.store is not None
        kept = [(obj, m) for obj, m in masks if obj in self._objects]
        for obj, m in kept:
            self.store.put(obj, m)
        if kept:
            self.masks_changed.emit({m.frame_index for _, m in kept})
            if not self._lanes.isActive():
                self._lanes.start()

    def _changed(self) -> None:
        self.objects_changed.emit()
        self.presence_changed.emit()
        self._save()

    def _save(self) -> Path | None:
        """Write the objects beside the session; returns the file (None: no session, or it failed)."""
        keeper = getattr(self.sessions, "keeper", None)
        if keeper is None or keeper.session is None or keeper.path is None or self.store is None:
            return None
        try:
            path = save_objects(data_folder(keeper.path) / FILE_NAME, self.store, self.objects())
        except OSError as e:
            self.failed.emit(f"Cannot save the tracked objects ({e.strerror}): free some disk space.")
            return None
        if keeper.session.tracks.get(SESSION_KEY) != FILE_NAME:
            keeper.session.tracks[SESSION_KEY] = FILE_NAME
            keeper.mark_dirty()
        return path

    def _load_session_objects(self) -> None:
        keeper = getattr(self.sessions, "keeper", None)
        if keeper is None or keeper.session is None or keeper.path is None:
            return
        name = keeper.session.tracks.get(SESSION_KEY)
        if name is None:
            return
        try:
            store, objects = load_objects(data_folder(keeper.path) / name)
        except ScenescopeError as e:
            self.failed.emit(str(e))
            return
        self.store = store
        self._objects = {o.obj_id: o for o in objects}
        self.current = max(self._objects, default=None)

    def _clamp(self, start_s: float, end_s: float) -> tuple[float, float]:
        assert self.info is not None
        return max(0.0, start_s), min(self.info.duration_s, end_s)
