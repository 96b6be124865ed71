"""Tracking in the window: the objects, their clicks, their masks as they stream in, the worker's tracker.

    tracking = TrackingController(window.worker, window.sessions)
    tracking.set_video(info)                 # after the window opened a video: the session's objects return
    tracking.set_mode(True); tracking.click(412.0, 230.5, positive=True)   # on the frame on screen
    tracking.propagate()                     # the moment under the playhead (or ±10 s), both ways
    tracking.with_tracker(dialog.set_tracker), tracking.objects()          # for the export dialog

The masks live in `self.store`, an `engine.tracking.TrackStore` filled from the worker's answers (the mask
of a clicked frame from `track_prompt`, every tracked frame from the "masks" partials), so the overlay
draws whatever has arrived. Requests to the tracker go one at a time, in order, so a click made while a
propagation runs follows it. The worker's tracker is rebuilt from the session's file when there is none
(a session reopened, the engine restarted): `track_restore` before the next request that needs it (or
`with_tracker`) prompts the stored clicks again and keeps the stored masks, so exports and refinements
see them. A click shows at once; one the engine refuses is taken back (store, marks, file) with one
message. The objects are saved beside the session off the GUI thread (app/session_tracks.py), also every
`save_every_s` while masks stream in, with answered clicks only.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from app.session_tracks import SessionTracks
from app.tracking_clicks import Click, show_click, take_back
from app.tracks_file import TrackedObject
from app.worker_client import Call, WorkerClient, error_line
from engine.tracking import FrameMask, Prompt, TrackStore
from engine.video import VideoInfo

COLORS = ("#ff5a5a", "#4fc3f7", "#ffd54f", "#81c784", "#ba68c8", "#ff8a65", "#4db6ac", "#f06292", "#9fa8da")
AROUND_PLAYHEAD_S = 10.0  # propagation without a moment: this far either side of the playhead
MOMENT_MARGIN_S = 1.0  # a moment is tracked with this much more on each side
LANES_EVERY_MS = 150  # presence lanes follow streaming masks at most this often
SAVE_EVERY_S = 5.0  # while masks stream in, they are saved this often: a crash loses at most this much


@dataclass
class _Step:
    """One request to the tracker, waiting its turn; kind "" is a `with_tracker` callback's turn."""

    kind: str
    fields: dict
    done: Callable[[dict], None]
    click: Click | None = None  # until the engine used it


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
        self._queue: deque[_Step] = deque()
        self._restore = False  # the worker needs a tracker rebuilt from the saved objects first
        self._restoring = False  # saving the file to rebuild it from
        self._call: Call | None = None
        self._step: _Step | None = None  # the request in flight
        self._generation = 0  # grows with each video: late answers about an earlier one are dropped
        self.save_every_s = SAVE_EVERY_S
        self.files = SessionTracks(sessions, self)
        self.files.failed.connect(self.failed)
        self._first_progress: tuple[float, int] | None = None  # (when, frames done) of the call's first
        self._lanes = QTimer(self, singleShot=True, interval=LANES_EVERY_MS)
        self._lanes.timeout.connect(self.presence_changed)

    # ----- for the export dialog and the moments list -------------------------------------------------------
    def tracker_handle(self) -> str | None:
        """The worker's tracker holding these objects (None until the engine has one)."""
        return self._tracker

    def with_tracker(self, callback: Callable[[str | None], None]) -> None:
        """Call back with the worker's tracker holding these objects, once every request before it is
        answered; a reopened session's tracker is rebuilt from its file first. None: no object has
        clicks, or the rebuild failed (the failure is on the banner, once)."""
        if self._tracker is not None or (self._call is None and not self._queue and not self._restore):
            callback(self._tracker)
        else:
            self._send("", {}, lambda _data: callback(self._tracker))

    def close(self) -> None:
        """The window closes: what is tracked so far goes to disk (waits for the save)."""
        self._save()
        self.files.wait()

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
        if self._step is not None and self._step.click is not None:
            self._take_back(self._step.click)  # never answered: the tracker rebuilt from the file lacks it
        self.info, self._video, self._tracker = info, handle, None
        self._engine_tracked.clear()
        self._drop_queue()
        self._set_call(None)
        self._restoring, self._generation = False, self._generation + 1
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
        made = self.current not in self._objects
        obj_id = self.new_object().obj_id if made else self.current
        index = self.frame_index
        time_s = self.info.frames.time_of(index)
        fields = {"obj_id": obj_id, "time_s": time_s, "points": points, "labels": labels, "box": box}
        before = next((p for p in self.store.prompts(obj_id) if p.frame_index == index), None)
        click = Click(obj_id, index, before, made)
        show_click(self.store, click, time_s, points, labels, box)
        self.masks_changed.emit({index})
        if self._tracked_in_engine(obj_id) and index in self.store.frame_indices(obj_id):
            self._send("track_refine", fields, lambda data: self._tracked(data, "Re-tracked"), click)
        else:
            self._send("track_prompt", fields, lambda data: self._prompted(obj_id, data), click)

    def _take_back(self, click: Click) -> None:
        """The engine refused the click (or never got it): the object's clicks on that frame as before."""
        assert self.store is not None
        if take_back(self.store, click):
            self._objects.pop(click.obj_id, None)
            self.current = None if self.current == click.obj_id else self.current
        self.masks_changed.emit({click.frame_index})

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
    def _send(self, kind: str, fields: dict, done: Callable[[dict], None], click: Click | None = None):
        self._queue.append(_Step(kind, fields, done, click))
        self._pump()

    def _pump(self) -> None:
        if self._call is not None or self._restoring or not self._queue or self._video is None:
            return
        head = self._queue[0]
        if self._tracker is None and (head.kind == "track_remove" or (not head.kind and not self._restore)):
            self._queue.popleft()  # nothing in the engine to remove; no tracker to hand out
            head.done({})
            self._pump()
            return
        if self._restore and self._tracker is None:
            self._restore = False
            generation = self._generation
            self._restoring = self._save(then=lambda path: self._send_restore(generation, path))
            if self._restoring:
                return
        step = self._queue.popleft()
        if not step.kind:  # with_tracker's turn: everything before it is answered
            step.done({})
            self._pump()
            return
        target = {"tracker": self._tracker} if self._tracker is not None else {"video": self._video}
        self._request(step, target)

    def _send_restore(self, generation: int, path: Path | None) -> None:
        """The file to rebuild the tracker from is on disk (None: it could not be saved)."""
        if generation != self._generation:
            return
        self._restoring = False
        if path is None:  # the save's failure is on the banner; the requests waiting need the tracker
            self._restore = True
            self._drop_queue()
            self._changed()
            return
        self._request(_Step("track_restore", {"path": str(path)}, self._restored), {"video": self._video})

    def _request(self, step: _Step, target: dict) -> None:
        fields = {k: v for k, v in step.fields.items() if v is not None}
        call = self.worker.request(step.kind, **target, **fields)
        call.partial.connect(self._partial)
        call.progress.connect(self._progress)
        call.finished.connect(lambda data: self._finished(call, data, step.done))
        call.failed.connect(lambda error: self._failed(call, error))
        self._first_progress = None
        self._step = step
        self._set_call(call)

    def _drop_queue(self) -> None:
        """Nothing waiting is sent: its clicks are taken back, its `with_tracker` callbacks answered."""
        dropped = list(self._queue)
        self._queue.clear()
        for step in reversed(dropped):  # the latest click first: each puts back what was before it
            if step.click is not None:
                self._take_back(step.click)
        for step in dropped:
            if not step.kind:
                step.done({})

    def _unanswered(self) -> dict[tuple[int, int], Prompt | None]:
        """(object, frame) of each click shown but not yet used by the engine -> the clicks before it."""
        steps = [*([self._step] if self._step is not None else []), *self._queue]
        clicks = [s.click for s in steps if s.click is not None]
        return {(c.obj_id, c.frame_index): c.before for c in reversed(clicks)}  # the earliest one wins

    def _restored(self, data: dict) -> None:
        """The worker's tracker holds the saved masks again: a click on a tracked frame refines it."""
        self._put([(m["obj_id"], FrameMask.from_dict(m)) for m in data["masks"]])
        self._engine_tracked.update(o for o in self._objects if self._tracked_beyond_clicks(o))
        self._changed()

    def _tracked_in_engine(self, obj_id: int) -> bool:
        """Whether the worker's tracker has (or will have, once restored) masks past its clicks."""
        rebuilding = (
            self._restore
            or self._restoring
            or (self._step is not None and self._step.kind == "track_restore")
        )
        return obj_id in self._engine_tracked or (rebuilding and self._tracked_beyond_clicks(obj_id))

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
        step = self._step
        assert step is not None
        self._set_call(None)
        if step.kind == "track_restore":
            self._restore = True  # tried again before the next request that needs it
        if error.get("code") == "unknown_handle" and self._tracker is not None:
            # the tracker is gone (the engine restarted): rebuild it from the file, then ask again
            self._tracker = None
            self._engine_tracked.clear()
            self._replay_clicks()
            self._queue.appendleft(step)
        else:
            self._drop_queue()  # the clicks after it first: each puts back what was before it
            if step.click is not None:
                self._take_back(step.click)
            if error.get("code") == "cancelled":
                self.message.emit("Tracking cancelled: the frames tracked so far stay.")
            elif step.click is not None:
                self.failed.emit(f"The click was not used: {error_line(error)}")
            else:
                self.failed.emit(f"Tracking: {error_line(error)}")
        self._changed()
        self._pump()

    def _partial(self, kind: str, data: dict) -> None:
        if kind == "masks":
            if self._step is not None:
                self._step.click = None  # the engine used the click: it stays, whatever comes next
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
        if call is None:
            self._step = None
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
            # a whole save grows with the masks: at most a tenth of the time goes to saving
            every_s = max(self.save_every_s, 10 * self.files.last_s)
            if self.busy and time.monotonic() - self.files.saved_at >= every_s:
                self._save()

    def _changed(self) -> None:
        self.objects_changed.emit()
        self.presence_changed.emit()
        self._save()

    def _save(self, then: Callable[[Path | None], None] | None = None) -> bool:
        """Save the objects beside the session, off the GUI thread, answered clicks only; `then` gets the
        file once it is on disk (None: the save failed). False: there is no session to save into."""
        if self.store is None:
            return False
        return self.files.save(self.store, self.objects(), self._unanswered(), then)

    def _load_session_objects(self) -> None:
        found = self.files.load()
        if found is not None:
            self.store, objects = found
            self._objects = {o.obj_id: o for o in objects}
            self.current = max(self._objects, default=None)

    def _clamp(self, start_s: float, end_s: float) -> tuple[float, float]:
        assert self.info is not None
        return max(0.0, start_s), min(self.info.duration_s, end_s)
