"""Click-to-track on one video: prompts, propagation both ways, refinement, progress and cancel.

    tracker = Tracker(load_sam2(), probe("clip.mp4"))
    tracker.prompt(12.5, points=[(640, 360)], labels=[1])          # object 1, its mask on that frame
    tracker.propagate(start_s=0, end_s=60, job=Job(on_progress=print))  # both ways from 12.5 s
    tracker.refine(1, 31.0, points=[(700, 300)], labels=[0])        # fix a drift: 31 s onwards only
    tracker.store                                                    # RLE masks, readable meanwhile

The public API speaks seconds and display-orientation video pixels; frame indices stay inside. Every
object has its own bounded SAM2 state (`memory.ObjectMemory`), so objects can be added on any frame
and never re-track each other; the image encoder still runs once per frame for all of them. Frames
are decoded on demand at the model's size, forwards or backwards, so nothing grows with the length
of the video except the compact results.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from engine.errors import ScenescopeError
from engine.jobs import Job, job_or_new
from engine.timecode import format_timecode
from engine.tracking.frames import logits_to_mask, prompt_tensors, stream_frames, to_pixel_values
from engine.tracking.memory import ObjectMemory
from engine.tracking.model import Sam2
from engine.tracking.store import FrameMask, Prompt, TrackingRun, TrackStore, encode_mask
from engine.video import Frame, VideoInfo


@dataclass
class _Object:
    memory: ObjectMemory
    initial_frames: set[int]  # prompted frames that started the object afresh (no memory)


@dataclass(frozen=True)
class _Sweep:
    """Frames `first` to `last` (inclusive) in one direction; each object joins at its own start."""

    first: int
    last: int
    reverse: bool
    starts: dict[int, int]  # obj_id -> first frame of the sweep the object takes part in

    def __len__(self) -> int:
        return max(0, (self.first - self.last if self.reverse else self.last - self.first) + 1)

    def active(self, frame_index: int) -> list[int]:
        if self.reverse:
            return [o for o, start in self.starts.items() if frame_index <= start]
        return [o for o, start in self.starts.items() if frame_index >= start]


class Tracker:
    """SAM2 tracking of any number of objects in one video, with results in `self.store`."""

    def __init__(
        self,
        model: Sam2,
        video: VideoInfo,
        *,
        store: TrackStore | None = None,
        keep_all_memory: bool = False,
        decode_workers: int | None = None,
    ):
        self.model, self.video = model, video
        self.video_size = (video.width, video.height)
        self.store = store or TrackStore(
            width=video.width,
            height=video.height,
            video={
                "path": str(video.path),
                "identity": video.identity,
                "frame_count": video.frame_count,
                "fps": round(video.fps, 6),
                "duration_s": round(video.duration_s, 6),
            },
            model=model.name,
        )
        self.keep_all_memory = keep_all_memory
        self.decode_workers = decode_workers
        self._objects: dict[int, _Object] = {}
        self._lock = threading.Lock()  # one model call at a time

    @property
    def object_ids(self) -> list[int]:
        return sorted(self._objects)

    def next_object_id(self) -> int:
        """The id `prompt` gives a new object when it is given none."""
        return max(self._objects, default=0) + 1

    def prompt(
        self,
        time_s: float,
        *,
        points: Sequence[tuple[float, float]] = (),
        labels: Sequence[int] = (),
        box: tuple[float, float, float, float] | None = None,
        obj_id: int | None = None,
    ) -> FrameMask:
        """Clicks (1 in the object, 0 out of it) and/or a box on the frame shown at `time_s`.

        A new `obj_id` (or None: the next free id) starts an object there. For a known object the
        clicks add to its clicks on that frame; on a frame it was tracked through they correct it
        there, with its memory (SAM2's refinement). Returns the object's mask on that frame; frames
        after it keep their old masks until `refine` or `propagate` re-tracks them.
        """
        frame_index = self._clicked_frame(time_s)
        prompt = self._merge_prompt(obj_id, frame_index, points, labels, box)
        with self._lock:
            obj_id = self.next_object_id() if obj_id is None else obj_id
            obj = self._objects.get(obj_id) or self._new_object(obj_id)
            correction = (
                frame_index not in obj.initial_frames
                and self.store.get(obj_id, frame_index) is not None
                and any(f != frame_index for f in obj.memory.cond_frames)
            )
            reverse = correction and not any(f < frame_index for f in obj.memory.cond_frames)
            if correction:
                self._rebuild_window(obj_id, frame_index, reverse)
            else:
                obj.initial_frames.add(frame_index)
            coords, kinds = prompt_tensors(
                prompt.points, prompt.labels, prompt.box, self.video_size, self.model.image_size
            )
            obj.memory.set_clicks(frame_index, coords, kinds, correction=correction)
            frame = next(stream_frames(self.video, frame_index, frame_index, self.model.image_size))
            self.store.add_prompt(obj_id, prompt)
            self._track_frame(frame, [obj_id], reverse)
        result = self.store.get(obj_id, frame_index)
        assert result is not None
        return result

    def propagate(
        self,
        start_s: float | None = None,
        end_s: float | None = None,
        *,
        obj_ids: Sequence[int] | None = None,
        job: Job | None = None,
    ) -> TrackingRun:
        """Track objects through [start_s, end_s) (default: the whole video), both ways from their prompts.

        Each object is tracked forwards from its first prompt in the span to the span's end, then
        backwards from there to the span's start, as the SAM2 authors do. Tracking starts from the
        prompts alone (earlier results of these objects are replaced as the sweeps reach them).
        """
        try:
            first, last = self.video.frames.frames_in(start_s, end_s)
        except ValueError as e:
            raise ScenescopeError(f"Cannot track there: {e}.") from None
        ids = self.object_ids if obj_ids is None else list(obj_ids)
        if not ids:
            raise ScenescopeError("Nothing to track: click an object first.")
        anchors = {}
        for obj_id in ids:
            cond = [f for f in self._object(obj_id).memory.cond_frames if first <= f <= last]
            if not cond:
                raise ScenescopeError(
                    f"Object {obj_id} has no clicks between {self._time(first):.3f} s and "
                    f"{self._time(last):.3f} s: click it on a frame inside the range."
                )
            anchors[obj_id] = min(cond)
        with self._lock:
            for obj_id in ids:
                self._objects[obj_id].memory.forget_tracking()
            sweeps = [
                _Sweep(min(anchors.values()) + 1, last, False, {o: a + 1 for o, a in anchors.items()}),
                _Sweep(max(anchors.values()) - 1, first, True, {o: a - 1 for o, a in anchors.items()}),
            ]
            return self._run(sweeps, job_or_new(job))

    def refine(
        self,
        obj_id: int,
        time_s: float,
        *,
        points: Sequence[tuple[float, float]] = (),
        labels: Sequence[int] = (),
        box: tuple[float, float, float, float] | None = None,
        job: Job | None = None,
    ) -> TrackingRun:
        """Correct object `obj_id` on the frame at `time_s` and re-track from there on, only.

        "On" is away from the object's other prompts: forwards to the last tracked frame when the
        frame is after one of them, else backwards to the first. Frames on the other side keep their
        masks bit for bit. On the object's only prompt frame it re-tracks both ways.
        """
        self._object(obj_id)
        frame_index = self._clicked_frame(time_s)
        tracked = self.store.frame_indices(obj_id)
        if not tracked:
            raise ScenescopeError(f"Object {obj_id} has not been tracked yet: propagate it first.")
        self.prompt(time_s, points=points, labels=labels, box=box, obj_id=obj_id)
        with self._lock:
            cond = self._objects[obj_id].memory.cond_frames
            forwards = _Sweep(frame_index + 1, tracked[-1], False, {obj_id: frame_index + 1})
            backwards = _Sweep(frame_index - 1, tracked[0], True, {obj_id: frame_index - 1})
            if cond == [frame_index]:  # its only prompt: everything depends on it
                self._objects[obj_id].memory.forget_tracking()
                sweeps = [forwards, backwards]
            else:
                sweeps = [forwards] if any(f < frame_index for f in cond) else [backwards]
            return self._run(sweeps, job_or_new(job))

    def mask_at(self, obj_id: int, time_s: float) -> FrameMask | None:
        """The object's mask on the frame shown at `time_s`, or None where it was not tracked (yet)."""
        return self.store.get(obj_id, self.video.frames.index_at(time_s))

    def remove_object(self, obj_id: int) -> None:
        with self._lock:
            self._objects.pop(obj_id, None)
            self.store.remove_object(obj_id)

    # -- inside: frame indices from here on --

    def _run(self, sweeps: list[_Sweep], job: Job) -> TrackingRun:
        """Track the sweeps' frames. Progress: stage "track", frames of all sweeps, "at <time>"."""
        sweeps = [s for s in sweeps if len(s) > 0]
        total = sum(len(s) for s in sweeps)
        done, started = 0, time.perf_counter()
        tracked, lo, hi = 0, self.video.frame_count, -1
        for sweep in sweeps:
            frames = stream_frames(
                self.video, sweep.first, sweep.last, self.model.image_size, job.event, self.decode_workers
            )
            for frame in frames:
                job.check()
                if active := sweep.active(frame.index):
                    self._track_frame(frame, active, sweep.reverse)
                    tracked, lo, hi = tracked + 1, min(lo, frame.index), max(hi, frame.index)
                done += 1
                job.progress("track", done, total, f"at {format_timecode(frame.time_s)}", frame.time_s)
            job.check()  # a cancelled stream ends early without a frame to check at
        return TrackingRun(
            frames_tracked=tracked,
            elapsed_s=time.perf_counter() - started,
            start_s=self._time(lo) if tracked else 0.0,
            end_s=self._time(hi) if tracked else 0.0,
        )

    def _track_frame(self, frame: Frame, obj_ids: list[int], reverse: bool) -> None:
        """Run SAM2 on one frame for these objects and store their masks."""
        with torch.inference_mode():
            features = self._image_features(frame)
            for obj_id in obj_ids:
                memory = self._objects[obj_id].memory
                logits, score = memory.step(self.model.network, frame.index, features, reverse)
                rle, bbox, area = encode_mask(logits_to_mask(logits, self.video_size))
                visible = float(torch.sigmoid(score.float()).reshape(-1)[0])  # SAM2's object score
                self.store.put(obj_id, FrameMask(frame.index, frame.time_s, rle, bbox, area, visible))

    def _rebuild_window(self, obj_id: int, frame_index: int, reverse: bool) -> None:
        """Re-run the frames just before `frame_index` so a correction there sees a memory like the original.

        Pruning dropped the memories of frames far from prompts; the `window` frames before a
        correction are tracked again from what is kept (results are not stored). Where the memory
        still holds them (a click near the tracking front or a prompt) nothing is re-run and the
        correction is exactly what unpruned SAM2 computes.
        """
        memory = self._objects[obj_id].memory
        upstream = [f for f in memory.cond_frames if (f > frame_index if reverse else f < frame_index)]
        nearest = min(upstream) if reverse else max(upstream)  # the window stops at the prompt before it
        step = 1 if reverse else -1
        window = [frame_index + step * k for k in range(memory.window, 0, -1)]
        window = [f for f in window if (f < nearest if reverse else f > nearest)]
        if not window or all(f in memory.held_frames for f in window):
            return
        for frame in stream_frames(self.video, window[0], window[-1], self.model.image_size):
            with torch.inference_mode():
                memory.step(self.model.network, frame.index, self._image_features(frame), reverse)

    def _image_features(self, frame: Frame) -> dict[str, list[torch.Tensor]]:
        """SAM2's image encoder on one frame, in the form the sessions' feature caches hold."""
        pixels = to_pixel_values(frame.image, self.model.mean, self.model.std)
        pixels = pixels.to(self.model.device, self.model.dtype)[None]  # [1, 3, S, S]
        image = self.model.network.get_image_features(pixels, return_dict=True)
        return {"vision_feats": image.fpn_hidden_states, "vision_pos_embeds": image.fpn_position_encoding}

    def _clicked_frame(self, time_s: float) -> int:
        """The frame shown at `time_s`. A time off the video is refused: moved to the nearest frame, the
        click would land on a picture the user never saw."""
        duration = self.video.duration_s
        if not (math.isfinite(time_s) and 0 <= time_s < duration):
            raise ScenescopeError(
                f"There is no frame at {time_s:g} s: {self.video.path.name} lasts {duration:.3f} s "
                f"({format_timecode(duration)}). Click at a time inside it."
            )
        return self.video.frames.index_at(time_s)

    def _merge_prompt(self, obj_id, frame_index, points, labels, box) -> Prompt:
        if len(points) != len(labels):
            raise ScenescopeError(f"{len(points)} points but {len(labels)} labels: give one label per point.")
        if not points and box is None:
            raise ScenescopeError("Give at least one point or a box.")
        if any(label not in (0, 1) for label in labels):
            raise ScenescopeError("Point labels are 1 (in the object) or 0 (not in it).")
        width, height = self.video_size
        for x, y in points:
            if not (0 <= x < width and 0 <= y < height):
                raise ScenescopeError(
                    f"Point ({x:g}, {y:g}) lies outside the {width}x{height} picture (display orientation). "
                    "Click inside it."
                )
        if box is not None:
            x0, y0, x1, y1 = box
            if not (0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height):
                raise ScenescopeError(
                    f"Box ({x0:g}, {y0:g}, {x1:g}, {y1:g}) needs x0 < x1 and y0 < y1 inside "
                    f"{width}x{height}. Draw it inside the picture."
                )
        known = self.store.prompts(obj_id) if obj_id is not None else []
        old = next((p for p in known if p.frame_index == frame_index), None)
        if old is not None:
            points, labels = (*old.points, *points), (*old.labels, *labels)
            box = box if box is not None else old.box
        return Prompt(
            time_s=self._time(frame_index),
            frame_index=frame_index,
            points=tuple((float(x), float(y)) for x, y in points),
            labels=tuple(int(v) for v in labels),
            box=None if box is None else tuple(float(v) for v in box),
        )

    def _new_object(self, obj_id: int) -> _Object:
        memory = ObjectMemory(
            obj_id,
            self.video.frame_count,
            self.video_size,
            self.model.device,
            self.model.dtype,
            self.model.memory_window,
            keep_all=self.keep_all_memory,
        )
        self._objects[obj_id] = _Object(memory=memory, initial_frames=set())
        return self._objects[obj_id]

    def _object(self, obj_id: int) -> _Object:
        if obj_id not in self._objects:
            raise ScenescopeError(f"No object {obj_id}: known objects are {self.object_ids or 'none'}.")
        return self._objects[obj_id]

    def _time(self, frame_index: int) -> float:
        return self.video.frames.time_of(frame_index)
