"""SAM2's requests: a click or box on one frame, propagation through a span, refinement from a later frame,
removing an object, and rebuilding a tracker from a saved objects file. Masks stream as partial results."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.jobs import Job
from engine.worker.context import Context
from engine.worker.protocol import BAD_REQUEST, Args, ProtocolError
from engine.worker.state import OpenVideo, Tracking


def track_remove(ctx: Context) -> dict[str, Any]:
    tracking: Tracking = ctx.handles.get("tracker", ctx.args.text("tracker"))
    obj_id = ctx.args.integer("obj_id", low=1)
    tracking.tracker.remove_object(obj_id)
    return {"tracker": ctx.args.text("tracker"), "obj_id": obj_id, "version": tracking.tracker.store.version}


def track_prompt(ctx: Context) -> dict[str, Any]:
    """Clicks (and a box) on one frame: a new object, or more clicks for `obj_id`; its mask there."""
    a = ctx.args
    name = a.text("tracker", optional=True)
    tracking: Tracking | None = None if name is None else ctx.handles.get("tracker", name)
    points, labels, box = _clicks(a)
    with ctx.state.models.using("sam2", ctx.job) as sam2:
        if tracking is None:
            from engine.tracking import Tracker

            video_name = a.text("video")
            video: OpenVideo = ctx.handles.get("video", video_name)
            tracking = Tracking(video_name, Tracker(sam2, video.info))
            name = ctx.handles.add("tracker", tracking)
        tracker = tracking.tracker
        obj_id = a.integer("obj_id", optional=True, low=1) or tracker.next_object_id()
        time_s = _time_in(a, tracker.video, "time_s")
        mask = tracker.prompt(time_s, points=points, labels=labels, box=box, obj_id=obj_id)
    return {"tracker": name, "obj_id": obj_id, "mask": mask.to_dict(), "version": tracker.store.version}


def track_propagate(ctx: Context) -> dict[str, Any]:
    """Track objects through a range both ways from their clicks; each tracked frame is a "masks" partial."""
    a = ctx.args
    tracking: Tracking = ctx.handles.get("tracker", a.text("tracker"))
    obj_ids = [int(o) for o in a.items("obj_ids", optional=True, most=1000)] or None
    start_s, end_s = a.number("start_s", optional=True, low=0), a.number("end_s", optional=True, low=0)
    with ctx.state.models.using("sam2", ctx.job):

        def propagate(job: Job):
            return tracking.tracker.propagate(start_s, end_s, obj_ids=obj_ids, job=job)

        run = _with_masks(ctx, tracking, propagate)
    return {"tracker": a.text("tracker"), "run": run.to_dict(), "version": tracking.tracker.store.version}


def track_refine(ctx: Context) -> dict[str, Any]:
    """A correcting click on a tracked frame; the object is re-tracked from there on (masks partials)."""
    a = ctx.args
    tracking: Tracking = ctx.handles.get("tracker", a.text("tracker"))
    obj_id = a.integer("obj_id", low=1)
    time_s = _time_in(a, tracking.tracker.video, "time_s")
    points, labels, box = _clicks(a)
    with ctx.state.models.using("sam2", ctx.job):

        def refine(job: Job):
            return tracking.tracker.refine(obj_id, time_s, points=points, labels=labels, box=box, job=job)

        run = _with_masks(ctx, tracking, refine)
    return {"tracker": a.text("tracker"), "run": run.to_dict(), "version": tracking.tracker.store.version}


def track_restore(ctx: Context) -> dict[str, Any]:
    """A new tracker from a tracks file (the window's session): its clicks prompted again, its masks kept."""
    from engine.tracking import Tracker, TrackStore

    a = ctx.args
    video_name = a.text("video")
    video: OpenVideo = ctx.handles.get("video", video_name)
    saved = TrackStore.load(Path(a.text("path")))
    info = video.info
    if (saved.width, saved.height) != (info.width, info.height):
        size, wanted = f"{saved.width}x{saved.height}", f"{info.width}x{info.height}"
        raise ProtocolError(BAD_REQUEST, f"the tracks file's masks are {size}, the video is {wanted}")
    with ctx.state.models.using("sam2", ctx.job) as sam2:
        tracker = Tracker(sam2, info)
        fresh = []
        for obj_id in saved.object_ids():
            for p in saved.prompts(obj_id):
                ctx.job.check()
                mask = tracker.prompt(p.time_s, points=p.points, labels=p.labels, box=p.box, obj_id=obj_id)
                fresh.append({"obj_id": obj_id, **mask.to_dict()})
            prompted = {p.frame_index for p in saved.prompts(obj_id)}
            for mask in saved.frames(obj_id):
                if mask.frame_index not in prompted:
                    tracker.store.put(obj_id, mask)
    name = ctx.handles.add("tracker", Tracking(video_name, tracker))
    return {"tracker": name, "masks": fresh, "version": tracker.store.version}


def _clicks(a: Args) -> tuple[list[tuple[float, float]], list[int], tuple[float, float, float, float] | None]:
    points = a.points("points")
    labels = a.items("labels", optional=True, most=1000)
    if len(labels) != len(points) or any(label not in (0, 1) or isinstance(label, bool) for label in labels):
        raise ProtocolError(BAD_REQUEST, "'labels' must give 1 (keep) or 0 (leave out) for each point")
    box = a.box("box")
    if not points and box is None:
        raise ProtocolError(BAD_REQUEST, "a click needs 'points' or a 'box'")
    return points, [int(label) for label in labels], box


def _time_in(a: Args, info, name: str) -> float:
    """A time on the video: refused when it lies past the end, rather than moved to the last frame."""
    time_s = a.number(name, low=0)
    if time_s >= info.duration_s:
        raise ProtocolError(
            BAD_REQUEST, f"'{name}' {time_s:g} s lies past the end of the video ({info.duration_s:.3f} s)"
        )
    return time_s


def _with_masks(ctx: Context, tracking: Tracking, run: Callable[[Job], Any]):
    """Run a tracking call, handing out every tracked frame's masks as a "masks" partial as it comes."""
    store = tracking.tracker.store
    sent = store.version

    def flush() -> None:
        nonlocal sent
        changes = store.changes_since(sent)
        sent = changes.version
        if changes.masks or changes.removed:
            masks = [{"obj_id": obj_id, **mask.to_dict()} for obj_id, mask in changes.masks]
            ctx.job.partial("masks", {"version": changes.version, "masks": masks, "removed": changes.removed})

    def progress(p) -> None:
        flush()
        ctx.job.report(p)

    try:
        return run(Job(on_progress=progress, cancel_event=ctx.job.event))
    finally:
        flush()  # the last frames, also when cancelled
