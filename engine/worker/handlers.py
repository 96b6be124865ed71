"""One function per request type: read the arguments, call the engine, return the result as plain data.

A handler gets a `Context` (its request's arguments, the worker's state, and a `Job` whose progress and
partial results become this request's events) and returns the `data` of its result event. Anything it
raises becomes an error event (server.py maps the engine's errors to codes). `REQUESTS` is the table
of request types: whether each runs as a job on its own thread or at once on the reader thread.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.jobs import Job
from engine.spans import Span
from engine.video import Sampling, probe
from engine.video.sampling import GROUP
from engine.worker.protocol import BAD_REQUEST, PROTOCOL_VERSION, Args, ProtocolError
from engine.worker.state import Conversation, Handles, Models, OpenVideo, Settings, Tracking

MAX_FRAMES = 2048  # frames one sampling may ask for (512 is the model's budget; 4x leaves room)
MAX_NEW_TOKENS = 4096
SAMPLING_MODES = ("frames", "fps", "auto", "duration")
TRACK_EXPORTS = ("coco", "mot", "png", "palette", "video")  # default: the first 3


@dataclass
class State:
    handles: Handles
    models: Models
    running: Callable[[], list[dict[str, str]]]  # the jobs now running: [{"id", "type"}]


@dataclass
class Context:
    args: Args
    state: State
    job: Job  # progress -> progress events, partial -> partial events, cancelled by a cancel request

    @property
    def handles(self) -> Handles:
        return self.state.handles

    def video(self, field: str = "video") -> OpenVideo:
        return self.handles.get("video", self.args.text(field))


# ----- at once ---------------------------------------------------------------------------------------------


def hello(ctx: Context) -> dict[str, Any]:
    """Who answers: protocol version and process, for the client's handshake."""
    return {"protocol": PROTOCOL_VERSION, "pid": os.getpid(), "settings": ctx.state.models.settings.to_dict()}


def status(ctx: Context) -> dict[str, Any]:
    """Memory, device, loaded models, open handles and running jobs (the window's status bar)."""
    return {
        "pid": os.getpid(),
        "rss_bytes": _rss_bytes(),
        "device": _device(),
        "models": ctx.state.models.describe(),
        "open": ctx.handles.counts(),
        "jobs": ctx.state.running(),
        "plan": plan.to_dict() if (plan := ctx.state.models.known_plan()) else None,
    }


def configure(ctx: Context) -> dict[str, Any]:
    """Change model settings; models whose settings changed are unloaded (loaded again on first use)."""
    a, old = ctx.args, ctx.state.models.settings
    settings = Settings(
        internvideo=a.text("internvideo", optional=True) if a.has("internvideo") else old.internvideo,
        revision=a.text("revision", optional=True) if a.has("revision") else old.revision,
        sam2=a.text("sam2", optional=True) if a.has("sam2") else old.sam2,
        device=a.choice("device", ("auto", "cpu", "cuda"), old.device),
        precision=a.choice("precision", ("auto", "bf16", "fp16", "fp32", "int8", "nf4"), old.precision),
    )
    unloaded = ctx.state.models.configure(settings)
    return {"settings": settings.to_dict(), "unloaded": unloaded}


def models_list(ctx: Context) -> dict[str, Any]:
    """The supported models and their copies here (as `scenescope models list --json`)."""
    from engine.models import store

    return store.listing()


def close(ctx: Context) -> dict[str, Any]:
    name = ctx.args.text("handle")
    return {"closed": name, "kind": ctx.handles.close(name)}


def track_remove(ctx: Context) -> dict[str, Any]:
    tracking: Tracking = ctx.handles.get("tracker", ctx.args.text("tracker"))
    obj_id = ctx.args.integer("obj_id", low=1)
    tracking.tracker.remove_object(obj_id)
    return {"tracker": ctx.args.text("tracker"), "obj_id": obj_id, "version": tracking.tracker.store.version}


# ----- jobs ------------------------------------------------------------------------------------------------


def open_video(ctx: Context) -> dict[str, Any]:
    """Probe a file; the result holds its per-frame time table, for drawing and seeking by frame."""
    info = probe(Path(ctx.args.text("path")))
    ctx.job.check()
    return {"video": ctx.handles.add("video", OpenVideo(info)), "info": info.to_dict(frames=True)}


def ask(ctx: Context) -> dict[str, Any]:
    """A question about a video, in a new conversation or a follow-up in `conversation`."""
    a = ctx.args
    question = a.text("question")
    max_new_tokens = a.integer("max_new_tokens", optional=True, low=1, high=MAX_NEW_TOKENS)
    name = a.text("conversation", optional=True)
    conversation = None if name is None else ctx.handles.get("conversation", name)
    video_name = conversation.video if conversation else a.text("video")
    video: OpenVideo = ctx.handles.get("video", video_name)
    sampling = _sampling(a, ctx.state.models)
    with ctx.state.models.using("internvideo", ctx.job) as assistant:
        if conversation is None:
            context = video.context(assistant, sampling, ctx.job)
            conversation = Conversation(video_name, context.conversation())
            name = ctx.handles.add("conversation", conversation)
        options = {} if max_new_tokens is None else {"max_new_tokens": max_new_tokens}
        answer = conversation.chat.ask(question, ctx.job, **options)
    return {"conversation": name, "answer": answer.to_dict()}


def ground(ctx: Context) -> dict[str, Any]:
    """The moments of a video that match a query: spans, the relevance curve, the written answer."""
    from engine.grounding import GroundingOptions, check_query
    from engine.grounding import ground as find_moments

    a = ctx.args
    query = a.text("query")
    check_query(query)
    choices = a.sub("options")
    options = GroundingOptions(
        refine=choices.flag("refine", True), text_answer=choices.flag("text_answer", True)
    )
    video = ctx.video()
    sampling = _sampling(a, ctx.state.models)
    with ctx.state.models.using("internvideo", ctx.job) as assistant:
        context = video.context(assistant, sampling, ctx.job)
        result = find_moments(assistant, context, query, options=options, job=ctx.job)
    return {**result.to_dict(), "model": _internvideo_id(ctx)}  # the window keeps which model found them


def refine_span(ctx: Context) -> dict[str, Any]:
    """The dense second look at one span (`span`: a span object with its `query`), on the video sampled
    as `sampling` (the sampling it was found with: its visual tokens are cached, and one group of it is
    the margin looked at around the span)."""
    from engine.grounding import check_query, refine_span_once

    a = ctx.args
    try:
        span = Span.from_dict(a.obj("span"))
    except ValueError as e:
        raise ProtocolError(BAD_REQUEST, f"'span': {e}") from None
    if not span.query:
        raise ProtocolError(BAD_REQUEST, "'span' needs the 'query' it answers, to look for it again")
    check_query(span.query)
    video = ctx.video()
    if span.end_s > video.info.duration_s + 1e-6:
        raise ProtocolError(
            BAD_REQUEST,
            f"'span' ends at {span.end_s:g} s, past the end of the video ({video.info.duration_s:.3f} s)",
        )
    sampling = _sampling(a, ctx.state.models)
    with ctx.state.models.using("internvideo", ctx.job) as assistant:
        context = video.context(assistant, sampling, ctx.job)
        spans, passes = refine_span_once(assistant, context, span, job=ctx.job)
    return {"spans": [s.to_dict() for s in spans], "vision_passes": passes}


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


def models_download(ctx: Context) -> dict[str, Any]:
    """Fetch what is missing of a catalog model (a cut download resumes), then verify it. The plan is made
    again by the next job: a SAM2 size now on disk may be the one to load."""
    from engine.models import store
    from engine.models.catalog import variant

    entry = variant(ctx.args.text("name"))
    copy = store.download(entry, ctx.args.text("revision", optional=True), job=ctx.job)
    ctx.state.models.replan()
    return {**entry.to_dict(), "copy": copy.to_dict(), "verified": True}


def models_verify(ctx: Context) -> dict[str, Any]:
    """Check a catalog model's copy, or a folder, against the checksums the Hub published."""
    from engine.errors import ModelError
    from engine.models import store

    name = ctx.args.text("name")
    copy = store.find_copy(name)
    if copy is None:
        raise ModelError(f"{name} is not on disk; download it, or choose the folder that holds it")
    store.verify(copy, job=ctx.job)
    return {"copy": copy.to_dict(), "verified": True}


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


def export_spans(ctx: Context) -> dict[str, Any]:
    """A clip per span (masks burned in when `tracker` is given) and the sidecars listing them.

    `plan`: write nothing; say which files the export would write and which of them exist.
    """
    from engine.export import SIDECAR_KINDS, span_outputs
    from engine.export import export_spans as export

    a = ctx.args
    spans = []
    for number, item in enumerate(a.items("spans", most=100_000), start=1):
        try:
            spans.append(Span.from_dict(item))
        except ValueError as e:
            raise ProtocolError(BAD_REQUEST, f"span {number}: {e}") from None
    tracker = a.text("tracker", optional=True)
    tracks = None if tracker is None else ctx.handles.get("tracker", tracker).tracker.store
    info, out = ctx.video().info, Path(a.text("out_dir"))
    choices = {
        "pad_s": a.number("pad_s", optional=True, low=0, high=3600) or 0.0,
        "clips": a.flag("clips", True),
        "sidecars": a.some_of("sidecars", SIDECAR_KINDS),
    }
    if a.flag("plan"):
        return _planned(out, span_outputs(info, spans, out, **choices))
    result = export(
        info,
        spans,
        out,
        **choices,
        reencode=a.flag("reencode"),
        overwrite=a.flag("overwrite"),
        settings=_encode_settings(a),
        tracks=tracks,
        job=ctx.job,
    )
    return result.to_dict()


def export_tracks(ctx: Context) -> dict[str, Any]:
    """The tracker's masks as COCO JSON (tracks.json), MOT boxes (boxes.csv), PNG masks per object
    (masks/object_<id>/), indexed palette PNGs (masks/palette/) and a video with the masks burned in
    (tracked.mp4, or tracked_<start>-<end>.mp4 for `start_s`/`end_s`), all checked before any is written.

    `plan`: write nothing; say which files and folders the export would write and which of them exist.
    """
    from engine.export import (
        check_outputs,
        export_clip,
        frame_range,
        tracked_video_name,
        write_coco_json,
        write_mot_csv,
        write_palette_pngs,
        write_png_masks,
    )

    a = ctx.args
    tracker = ctx.handles.get("tracker", a.text("tracker")).tracker
    store, info = tracker.store, tracker.video
    formats = a.items("formats", optional=True, most=len(TRACK_EXPORTS)) or list(TRACK_EXPORTS[:3])
    if not set(formats) <= set(TRACK_EXPORTS):
        raise ProtocolError(BAD_REQUEST, f"'formats' may hold {', '.join(TRACK_EXPORTS)}, not {formats}")
    start_s, end_s = a.number("start_s", optional=True, low=0), a.number("end_s", optional=True, low=0)
    out, overwrite = Path(a.text("out_dir")), a.flag("overwrite")
    files = {
        "coco": out / "tracks.json",
        "mot": out / "boxes.csv",
        "video": out / tracked_video_name(start_s, end_s),
    }
    files = {kind: path for kind, path in files.items() if kind in formats}
    objects = {obj: out / "masks" / f"object_{obj}" for obj in store.object_ids()} if "png" in formats else {}
    folders = [*objects.values(), *([out / "masks" / "palette"] if "palette" in formats else [])]
    if a.flag("plan"):
        return _planned(out, list(files.values()), folders)
    check_outputs(out, files.values(), folders, overwrite=overwrite)  # all of them before writing any
    clip_start, clip_end = start_s or 0.0, info.duration_s if end_s is None else end_s
    steps = {  # frames (or masks) each step writes, for one progress count over all of them
        "png": sum(len(store.frame_indices(obj)) for obj in objects),
        "palette": store.frames_tracked(),
        "video": frame_range(info.frames, clip_start, clip_end).frame_count,
    }
    total, done = sum(steps[kind] for kind in formats if kind in steps), 0

    def step(kind: str, message: str) -> Job:
        nonlocal done
        job, done = ctx.job.within("export", done, total, message), done + steps[kind]
        return job

    written: dict[str, Any] = {}
    if "coco" in formats:
        written["coco"] = str(write_coco_json(store, files["coco"], overwrite=overwrite))
    if "mot" in formats:
        written["mot"] = str(write_mot_csv(store, files["mot"], overwrite=overwrite))
    if "png" in formats:
        job = step("png", "PNG masks")
        folders_written = write_png_masks(store, out / "masks", overwrite=overwrite, job=job)
        written["png"] = {str(obj): str(folder) for obj, folder in folders_written.items()}
    if "palette" in formats:
        job = step("palette", "palette PNGs")
        written["palette"] = str(write_palette_pngs(store, folders[-1], overwrite=overwrite, job=job))
    if "video" in formats:
        job = step("video", "video with masks")
        clip = export_clip(
            info, clip_start, clip_end, files["video"], overwrite=overwrite, settings=_encode_settings(a),
            tracks=store, job=job,
        )  # fmt: skip
        written["video"] = clip.to_dict()
    return written


REQUESTS: dict[str, tuple[Callable[[Context], dict[str, Any]], bool]] = {
    # type: (handler, runs as a job on its own thread)
    "hello": (hello, False),
    "status": (status, False),
    "configure": (configure, False),
    "close": (close, False),
    "track_remove": (track_remove, False),
    "models_list": (models_list, False),
    "open_video": (open_video, True),
    "ask": (ask, True),
    "ground": (ground, True),
    "refine_span": (refine_span, True),
    "track_prompt": (track_prompt, True),
    "track_propagate": (track_propagate, True),
    "track_refine": (track_refine, True),
    "track_restore": (track_restore, True),
    "export_spans": (export_spans, True),
    "export_tracks": (export_tracks, True),
    "models_download": (models_download, True),
    "models_verify": (models_verify, True),
}


# ----- helpers ---------------------------------------------------------------------------------------------


def _sampling(a: Args, models: Models) -> Sampling:
    """The `sampling` object ({"mode", "value", "start_s", "end_s"}), or the memory planner's frame count."""
    if not a.has("sampling"):
        return Sampling("frames", models.plan().frames)
    inner = a.sub("sampling")
    mode = inner.choice("mode", SAMPLING_MODES, "frames")
    highs = {"frames": MAX_FRAMES, "fps": 60.0, "auto": MAX_FRAMES, "duration": 0.0}
    value = inner.number("value", optional=mode == "duration", low=0, high=highs[mode]) or 0.0
    if mode in ("frames", "auto") and value < GROUP:
        raise ProtocolError(
            BAD_REQUEST, f"sampling 'value' must be at least {GROUP} frames for mode {mode!r}"
        )
    if mode == "fps" and value <= 0:
        raise ProtocolError(BAD_REQUEST, "sampling 'value' must be more than 0 frames per second")
    start, end = inner.number("start_s", optional=True, low=0), inner.number("end_s", optional=True, low=0)
    return Sampling(mode, value, start, end)


def _encode_settings(a: Args):
    """The `settings` object (`crf` 0-51, `preset`, `audio_bitrate`, `smart_cut`); defaults where absent."""
    from engine.export import X264_PRESETS, EncodeSettings

    chosen, default = a.sub("settings"), EncodeSettings()
    crf = chosen.integer("crf", optional=True, low=0, high=51)
    bitrate = chosen.integer("audio_bitrate", optional=True, low=16_000, high=512_000)
    return EncodeSettings(
        crf=default.crf if crf is None else crf,
        preset=chosen.choice("preset", X264_PRESETS, default.preset),
        audio_bitrate=default.audio_bitrate if bitrate is None else bitrate,
        smart_cut=chosen.flag("smart_cut", default.smart_cut),
    )


def _planned(out: Path, files: list[Path], folders: list[Path] = ()) -> dict[str, Any]:
    """What an export would write and which of it exists: checked as the export checks (kinds, a
    writable folder), except that existing outputs are listed rather than refused."""
    from engine.export import check_outputs

    check_outputs(out, files, folders, overwrite=True)
    outputs = [*files, *folders]
    return {"outputs": [str(p) for p in outputs], "existing": [str(p) for p in outputs if p.exists()]}


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


def _internvideo_id(ctx: Context) -> str:
    """The InternVideo model in use, as configured: a folder, or a Hub id at its commit."""
    from engine.models.internvideo.load import DEFAULT_REPO, DEFAULT_REVISION

    settings = ctx.state.models.settings
    if settings.internvideo is None:
        return f"{DEFAULT_REPO}@{DEFAULT_REVISION}"
    return settings.internvideo + (f"@{settings.revision}" if settings.revision else "")


def _rss_bytes() -> int | None:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None


def _device() -> dict[str, Any]:
    """The accelerator in use, without importing torch for it (it is there once a model is)."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return {"kind": "cpu" if torch is not None else None}
    index = torch.cuda.current_device()
    free, total = torch.cuda.mem_get_info(index)
    return {
        "kind": "cuda",
        "name": torch.cuda.get_device_name(index),
        "total_bytes": total,
        "free_bytes": free,
        "allocated_bytes": torch.cuda.memory_allocated(index),
    }
