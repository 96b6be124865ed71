"""What the worker holds between requests: its settings, loaded models, and open things behind handles.

Models load on first use, one at a time, under a lock per model so that two requests never load the
same model twice and never run it at once (the engine's model objects are not thread-safe). On a GPU
where the memory planner (engine/planner.py) says the two take turns, loading one unloads the other
first; and when loading one model runs out of memory while the other is loaded, the other is unloaded
(its jobs are finished first: its lock is taken), the load is tried again, and a progress message says
so; on the CPU both stay. The plan is computed by the first model load on "auto" or "cuda" (or the first
`ask` or `ground` without `sampling`, which needs its frame budget) and reported by `status` from then on.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import logging
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from engine.errors import ModelError
from engine.jobs import Job
from engine.video import Sampling, VideoInfo
from engine.worker.protocol import UNKNOWN_HANDLE, ProtocolError

log = logging.getLogger(__name__)

MODEL_NAMES = {"internvideo": "InternVideo2.5", "sam2": "SAM 2.1"}


@dataclass(frozen=True)
class Settings:
    """Which models to load and where. None means the engine's default model."""

    internvideo: str | None = None  # Hub id or folder
    revision: str | None = None  # Hub commit of the InternVideo model
    sam2: str | None = None
    device: str = "auto"  # "auto", "cpu" or "cuda"
    precision: str = "auto"  # InternVideo: "auto", "bf16", "fp16", "fp32", "int8", "nf4"

    def to_dict(self) -> dict[str, Any]:
        return {
            "internvideo": self.internvideo,
            "revision": self.revision,
            "sam2": self.sam2,
            "device": self.device,
            "precision": self.precision,
        }


@dataclass
class OpenVideo:
    """A probed video and the visual tokens opened for it, per sampling (kept for follow-ups)."""

    info: VideoInfo
    contexts: dict[str, Any] = field(default_factory=dict)  # Sampling.key() -> VideoContext

    def context(self, assistant, sampling: Sampling, job: Job):
        key = sampling.key()
        if key not in self.contexts:
            self.contexts[key] = assistant.open_video(self.info, sampling, job=job)
        return self.contexts[key]


class Handles:
    """Open things by name: "video-1", "conversation-3", "tracker-2". Thread-safe."""

    def __init__(self) -> None:
        self._items: dict[str, tuple[str, Any]] = {}
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()

    def add(self, kind: str, item: Any) -> str:
        with self._lock:
            name = f"{kind}-{next(self._numbers)}"
            self._items[name] = (kind, item)
            return name

    def get(self, kind: str, name: str) -> Any:
        with self._lock:
            found = self._items.get(name)
        if found is None or found[0] != kind:
            raise ProtocolError(UNKNOWN_HANDLE, f"no open {kind} is called {name!r}", _HANDLE_HINTS[kind])
        return found[1]

    def close(self, name: str) -> str:
        """Forget `name`; closing a video closes its conversations and trackers too. Returns its kind."""
        with self._lock:
            found = self._items.pop(name, None)
            if found is None:
                raise ProtocolError(UNKNOWN_HANDLE, f"nothing open is called {name!r}")
            if found[0] == "video":
                belonging = [n for n, (_, it) in self._items.items() if getattr(it, "video", None) == name]
                for other in belonging:
                    del self._items[other]
            return found[0]

    def drop_kind(self, kind: str) -> list[str]:
        """Forget every handle of one kind (their model was unloaded). Returns their names."""
        with self._lock:
            names = [n for n, (k, _) in self._items.items() if k == kind]
            for name in names:
                del self._items[name]
            return names

    def counts(self) -> dict[str, int]:
        with self._lock:
            counts: dict[str, int] = {}
            for kind, _ in self._items.values():
                counts[kind] = counts.get(kind, 0) + 1
            return counts


_HANDLE_HINTS = {
    "video": "Open the video first (open_video), and use the handle its result gives.",
    "conversation": "Ask without a conversation to start a new one.",
    "tracker": "Click the object again (track_prompt without a tracker) to start tracking anew.",
}


@dataclass
class Conversation:
    video: str  # handle of the video it is about
    chat: Any  # engine.assistant.Conversation


@dataclass
class Tracking:
    video: str
    tracker: Any  # engine.tracking.Tracker


class Models:
    """The two models, loaded on first use with the current settings."""

    def __init__(self, settings: Settings, handles: Handles) -> None:
        self.settings = settings
        self._handles = handles
        self._loaded: dict[str, Any] = {}
        self._locks = {name: threading.RLock() for name in MODEL_NAMES}
        self._loading = threading.Lock()  # one load at a time: loads are the big allocations
        self._plan: Any = None  # engine.planner.Plan for the device, once a job asked for it
        self._planning = threading.Lock()

    def plan(self) -> Any:
        """The memory planner's choice for the configured device and SAM2 setting: its SAM2 is the one
        named, else the largest on disk that fits (computed once; imports torch)."""
        from engine.planner import detect_device, plan_for, sam2_choices

        with self._planning:
            if self._plan is None:
                device = detect_device(self.settings.device)
                self._plan = plan_for(device, sam2_choices=sam2_choices(self.settings.sam2))
            return self._plan

    def _gpu_plan(self) -> Any:
        """The plan before a load on "auto" or "cuda"; None where CUDA is missing (the load says so)."""
        try:
            return self.plan()
        except ModelError:
            return None

    def replan(self) -> None:
        """Forget the plan: the models on disk changed (a download), so the next job plans again."""
        with self._planning:
            self._plan = None

    def known_plan(self) -> Any:
        """The plan if a job computed it already, else None (for `status`, which never imports torch)."""
        return self._plan

    @contextlib.contextmanager
    def using(self, name: str, job: Job) -> Iterator[Any]:
        """The loaded model `name` ("internvideo" -> a VideoAssistant, "sam2" -> Sam2), held for one job."""
        with self._locks[name]:
            if name not in self._loaded:
                self._load(name, job)
            yield self._loaded[name]

    def configure(self, settings: Settings) -> list[str]:
        """New settings; models whose settings changed are unloaded. Returns their names."""
        old, self.settings = self.settings, settings
        if (old.device, old.sam2) != (settings.device, settings.sam2):
            self._plan = None
        changed = {
            "internvideo": (old.internvideo, old.revision, old.device, old.precision)
            != (settings.internvideo, settings.revision, settings.device, settings.precision),
            "sam2": (old.sam2, old.device) != (settings.sam2, settings.device),
        }
        return [name for name in MODEL_NAMES if changed[name] and self.unload(name)]

    def unload(self, name: str) -> bool:
        with self._locks[name]:
            model = self._loaded.pop(name, None)
            if model is None:
                return False
            if name == "sam2":
                self._handles.drop_kind("tracker")  # their sessions live on the model's device
            else:
                self._handles.drop_kind("conversation")
            del model
            _free_device_memory()
            log.info("unloaded %s", MODEL_NAMES[name])
            return True

    def release_cached_memory(self) -> None:
        """After an out-of-memory error: hand the allocator's cached blocks back to the device."""
        _free_device_memory()

    def describe(self) -> dict[str, Any]:
        return {name: self._describe(name) for name in MODEL_NAMES}

    def _describe(self, name: str) -> dict[str, Any] | None:
        model = self._loaded.get(name)
        if model is None:
            return None
        if name == "internvideo":
            model = model.model
        return {"name": str(getattr(model, "name", "")), "device": str(model.device)}

    def _load(self, name: str, job: Job) -> None:
        label = MODEL_NAMES[name]
        other = "sam2" if name == "internvideo" else "internvideo"
        with self._loading:
            plan = self._plan if self.settings.device == "cpu" else self._gpu_plan()
            turns = plan is not None and plan.device.kind == "cuda" and not plan.together
            if turns and other in self._loaded:
                job.progress("load", 0, None, f"unloading {MODEL_NAMES[other]}: they take turns on this GPU")
                self.unload(other)
            job.progress("load", 0, None, f"loading {label}")
            try:
                self._loaded[name] = LOADERS[name](self.settings, plan, job)
            except Exception as e:
                if not (is_out_of_memory(e) and other in self._loaded):
                    raise
                job.progress("load", 0, None, f"unloading {MODEL_NAMES[other]} to make room for {label}")
                self.unload(other)
                self._loaded[name] = LOADERS[name](self.settings, plan, job)
            job.progress("load", 1, 1, f"{label} loaded")


def _load_internvideo(settings: Settings, plan: Any, job: Job):
    """The VideoAssistant, its vision tower encoding the plan's chunk (None: no plan, the model's default)."""
    from engine.assistant import VideoAssistant
    from engine.models.internvideo import DEFAULT_REPO

    return VideoAssistant.load(
        settings.internvideo or DEFAULT_REPO,
        device=settings.device,
        precision=settings.precision,
        revision=settings.revision,
        job=job,
        chunk_frames=plan.vision_chunk if plan is not None else None,
    )


def _load_sam2(settings: Settings, plan: Any, job: Job):
    """The SAM2 named in the settings, else the plan's (None: no plan, SAM 2.1 tiny)."""
    from engine.planner import sam2_source
    from engine.tracking import load_sam2

    return load_sam2(sam2_source(settings.sam2, plan), device=settings.device, job=job)


LOADERS: dict[str, Callable[[Settings, Any, Job], Any]] = {  # (settings, the plan or None, job) -> model
    "internvideo": _load_internvideo,
    "sam2": _load_sam2,
}


def is_out_of_memory(error: BaseException) -> bool:
    """torch's OutOfMemoryError (CUDA or other accelerators), recognised without importing torch."""
    return type(error).__name__ == "OutOfMemoryError" or "CUDA out of memory" in str(error)


def _free_device_memory() -> None:
    gc.collect()
    torch = sys.modules.get("torch")  # loaded with any model; never imported just for this
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()
