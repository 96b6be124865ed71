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
from pathlib import Path
from typing import Any

from engine.video import probe
from engine.worker.context import Context
from engine.worker.handlers_ask import ask, ground, refine_span
from engine.worker.handlers_export import export_spans, export_tracks
from engine.worker.handlers_track import (
    track_prompt,
    track_propagate,
    track_refine,
    track_remove,
    track_restore,
)
from engine.worker.protocol import PROTOCOL_VERSION
from engine.worker.state import OpenVideo, Settings

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


# ----- jobs ------------------------------------------------------------------------------------------------


def open_video(ctx: Context) -> dict[str, Any]:
    """Probe a file; the result holds its per-frame time table, for drawing and seeking by frame."""
    info = probe(Path(ctx.args.text("path")))
    ctx.job.check()
    return {"video": ctx.handles.add("video", OpenVideo(info)), "info": info.to_dict(frames=True)}


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
