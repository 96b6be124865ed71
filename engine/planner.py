"""The GPU memory planner: from the device and its free memory, the video LLM's precision and frame budget,
the SAM2 size, and whether the two models stay loaded together or take turns, with a one-line reason.

    plan = plan_for(detect_device("auto"))
    plan.precision, plan.frames, plan.sam2, plan.together   # "int8", 512, "sam2.1-large", True
    plan.vision_chunk                                       # 32: frames per vision-tower pass
    plan.explanation                                        # one line for the status bar, --json, doctor

The rule, in order of what matters most to an answer:
1. precision: the best of bf16 > int8 > NF4 with which the model card's 128 frames fit in free memory;
2. together: the LLM (at 128 frames) and the largest SAM2 that fits beside it stay loaded together, so
   switching from asking to tracking costs no reload; if not even the smallest fits beside it, they take
   turns (the worker unloads one to load the other) and SAM2 gets the whole card. The SAM2 sizes it picks
   from (`sam2_choices`): the one the user named, else those on disk (tiny when none is), and the worker
   and `scenescope track` load the one it picked (`sam2_source`);
3. frames: as many as then fit, in whole groups of 4, up to 512 (the adaptive rule's budget);
4. vision_chunk: the frames the vision tower encodes per pass, the largest of 32, 16 and 8 with which
   that all still fits (fewer passes are a little faster; the visual tokens do not depend on it). Steps
   1-3 count the smallest chunk, so a card short of memory keeps the better precision and more frames
   and encodes in smaller passes: an 8 GB card gets NF4 in passes of 16 rather than no plan at all.
On the CPU: fp32 (no fast half precision there), the model card's 128 frames, SAM 2.1 tiny (the 1024 px
image encoder dominates a CPU's time per frame), together when the RAM available holds both, and passes
of 8 frames (larger ones gain nothing there).

Where the numbers come from (measured at the real dimensions on the CPU by bench/planner_costs.py on
2026-12-02, docs/benchmarks.md "Planner costs"):
- LLM weights and runtime: `engine/models/internvideo/precision.py`, from the checkpoint's parameter
  counts (bf16 15.0 GiB, int8 LLM 8.5 GiB, NF4 LLM 5.4 GiB for the 8B) plus the larger of the prefill's
  peak (per frame 23 prompt tokens of KV cache, 128 KiB a token in bf16, and one layer's activations,
  122 KiB a token: 5.6 MiB a frame) and the vision tower's pass (29.5 MiB a frame: 0.92 GiB for 32,
  with the visual tokens of every frame), and a 1 GiB margin for what a CPU cannot measure (cuBLAS and
  flash-attn workspaces, the caching allocator's fragmentation).
- SAM2: the weights (model.safetensors, float32) plus `SAM2_FRAME_BYTES`, one 1024 px frame's peak per
  size, plus the pruned tracking state per object for `SAM2_OBJECTS` objects.
Nothing of this has been measured on a GPU yet (none was available to this work): bench/ask_gpu.py
measures the LLM's peak memory there and is the check to run on the first GPU machine.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

from engine.errors import ModelError
from engine.models.catalog import CATALOG, DEFAULTS, Variant, variant
from engine.models.internvideo.precision import (
    GIB,
    VISION_CHUNK_FRAMES,
    ModelSize,
    choose_gpu_precision,
    model_size_from_dims,
    required_bytes,
)
from engine.video.sampling import DEFAULT_BUDGET, DEFAULT_FRAMES, GROUP

CPU_FRAMES = DEFAULT_FRAMES
MIN_FRAMES = DEFAULT_FRAMES  # the precision must fit the model card's 128 frames
MAX_FRAMES = DEFAULT_BUDGET  # 512
VISION_CHUNKS = (VISION_CHUNK_FRAMES, 16, 8)  # frames per vision-tower pass on a GPU, most first
CPU_VISION_CHUNK = 8
# Measured with bench/planner_costs.py on 2026-12-02 (docs/benchmarks.md, "Planner costs"), float32 at
# 1024 px: the peak beyond the weights of one frame (the image encoder, or its features kept while an
# object's step runs), and one object's pruned tracking state (32 frames held).
SAM2_FRAME_BYTES = {
    "sam2.1-tiny": 369_311_744,  # features kept (100 MiB) + a step (252 MiB) > the encoder's peak (300 MiB)
    "sam2.1-small": 369_311_744,  # the same: its encoder peaks at 300 MiB too
    "sam2.1-base-plus": 369_311_744,  # encoder 348 MiB
    "sam2.1-large": 465_567_744,  # the encoder's peak
}
SAM2_OBJECT_BYTES = 50_626_688
SAM2_OBJECTS = 8

# InternVideo2.5-Chat-8B, from its config (shared/docs/internvideo2_5.md section A), one row per part
EIGHT_B = model_size_from_dims(
    vision_hidden=1024, vision_layers=24, vision_intermediate=4096, image_size=448, patch_size=14,
    projector_in=4096, tokens_per_frame=16,
    hidden=4096, layers=32, heads=32, kv_heads=8, intermediate=14336, vocab=92553,
)  # fmt: skip


@dataclass(frozen=True)
class Device:
    """Where the models run, and its memory (RAM on the CPU)."""

    kind: str  # "cuda" or "cpu"
    name: str
    free_bytes: int
    total_bytes: int


@dataclass(frozen=True)
class Plan:
    """What the planner chose, and why, in one line."""

    device: Device
    precision: str | None  # None: the LLM does not fit this device at all
    frames: int
    vision_chunk: int  # frames per vision-tower pass (VideoAssistant's chunk_frames)
    sam2: str | None  # a catalog name
    together: bool
    llm_bytes: int  # what the LLM needs at `frames`
    sam2_bytes: int
    explanation: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    def require_llm(self) -> str:
        """The precision, or the `ModelError` saying the model does not fit and what to do."""
        if self.precision is None:
            raise ModelError(f"{self.explanation}; close other GPU programs, or use the CPU (--device cpu)")
        return self.precision


def sam2_bytes(entry: Variant) -> int:
    """What tracking with a SAM2 variant needs: weights, one frame's working memory, the objects' state."""
    return entry.size_bytes + SAM2_FRAME_BYTES[entry.name] + SAM2_OBJECTS * SAM2_OBJECT_BYTES


def plan_for(
    device: Device, size: ModelSize = EIGHT_B, sam2_choices: tuple[Variant, ...] | None = None
) -> Plan:
    """The plan for `device`. `sam2_choices`: the SAM2 variants that may be picked (default: SAM 2.1 tiny;
    `sam2_choices(named)` gives what is on disk); the largest that fits wins."""
    choices = sam2_choices if sam2_choices is not None else (variant(DEFAULTS["sam2"]),)
    by_size = sorted(choices, key=lambda v: v.size_bytes, reverse=True)
    if device.kind != "cuda":
        return _cpu_plan(device, size)
    free = device.free_bytes
    smallest = VISION_CHUNKS[-1]
    precision = choose_gpu_precision(free, size, MIN_FRAMES, smallest)
    where = f"{device.name}, {free / GIB:.1f} of {device.total_bytes / GIB:.1f} GiB free"
    if precision is None:
        need = required_bytes(size, "nf4", MIN_FRAMES, smallest)
        return Plan(
            device, None, 0, smallest, None, False, need, 0,
            f"{where}: too little for InternVideo2.5 even with a 4-bit LLM ({need / GIB:.1f} GiB at "
            f"{MIN_FRAMES} frames)",
        )  # fmt: skip
    llm_min = required_bytes(size, precision, MIN_FRAMES, smallest)
    beside = next((v for v in by_size if llm_min + sam2_bytes(v) <= free), None)
    together = beside is not None
    alone = next((v for v in by_size if sam2_bytes(v) <= free), None)
    sam2 = beside if together else alone
    sam_bytes = sam2_bytes(sam2) if sam2 else 0
    room = free - (sam_bytes if together else 0)
    frames = _most_frames(size, precision, room, smallest)
    chunk = next(c for c in VISION_CHUNKS if required_bytes(size, precision, frames, c) <= room)
    llm = required_bytes(size, precision, frames, chunk)
    how = (
        f"loaded together ({(llm + sam_bytes) / GIB:.1f} GiB)"
        if together
        else "taking turns (both do not fit at once)"
    )
    tracker = f"{sam2.name} ({sam_bytes / GIB:.1f} GiB)" if sam2 else "no SAM2"
    passes = f", the vision tower {chunk} frames a pass to fit" if chunk < VISION_CHUNK_FRAMES else ""
    text = f"{where}: {precision} LLM with {frames} frames ({llm / GIB:.1f} GiB{passes}), {tracker}, {how}"
    name = sam2.name if sam2 else None
    return Plan(device, precision, frames, chunk, name, together, llm, sam_bytes, text)


def sam2_choices(named: str | None) -> tuple[Variant, ...]:
    """The SAM2 variants a plan may pick. Named (a catalog name, Hub id or folder): that one alone, as the
    catalog knows it (an unrecognised folder is counted as tiny, the smallest); not named: those with a
    complete copy in the model store, tiny when none has."""
    from pathlib import Path

    from engine.models import store

    tiny = variant(DEFAULTS["sam2"])
    if not named:
        return tuple(store.on_disk("sam2")) or (tiny,)
    entry = next(
        (v for v in CATALOG if v.family == "sam2" and named.split("@")[0] in (v.name, v.repo_id)), None
    )
    if entry is None and Path(named).expanduser().is_dir():
        entry = store.folder_copy(named).variant
    return (entry or tiny,)


def sam2_source(named: str | None, plan: Plan | None) -> str:
    """What to load as SAM2: the named model always; else the plan's choice (its Hub id: the store's copy
    at the pin); without a plan, SAM 2.1 tiny."""
    if named:
        return named
    return variant(plan.sam2 if plan is not None and plan.sam2 else DEFAULTS["sam2"]).repo_id


def _most_frames(size: ModelSize, precision: str, room: int, chunk: int) -> int:
    """The most frames, whole groups up to MAX_FRAMES, whose prompt and vision passes of `chunk` fit `room`
    (at least MIN_FRAMES)."""
    frames = MIN_FRAMES
    while frames + GROUP <= MAX_FRAMES and required_bytes(size, precision, frames + GROUP, chunk) <= room:
        frames += GROUP
    return frames


def _cpu_plan(device: Device, size: ModelSize) -> Plan:
    llm = required_bytes(size, "fp32", CPU_FRAMES, CPU_VISION_CHUNK)
    tiny = variant(DEFAULTS["sam2"])
    sam_bytes = sam2_bytes(tiny)
    together = llm + sam_bytes <= device.free_bytes
    where = f"CPU, {device.free_bytes / GIB:.1f} of {device.total_bytes / GIB:.1f} GiB RAM available"
    if llm > device.free_bytes:
        fit = f"; the LLM needs {llm / GIB:.1f} GiB and will not fit: use a GPU"
    else:
        fit = ", loaded together" if together else ", taking turns"
    text = f"{where}: fp32 LLM with {CPU_FRAMES} frames ({llm / GIB:.1f} GiB), {tiny.name}{fit}"
    return Plan(device, "fp32", CPU_FRAMES, CPU_VISION_CHUNK, tiny.name, together, llm, sam_bytes, text)


# ----- the device -------------------------------------------------------------------------------------------
def detect_device(device: str = "auto") -> Device:
    """The device "auto" / "cuda" / "cpu" means here, with its free memory (imports torch)."""
    import torch

    if device != "cpu" and torch.cuda.is_available():
        index = torch.cuda.current_device()
        free, total = torch.cuda.mem_get_info(index)
        return Device("cuda", torch.cuda.get_device_name(index), int(free), int(total))
    if device == "cuda":
        raise ModelError("CUDA was asked for but no CUDA device is available; use --device cpu")
    return cpu_device()


def cpu_device() -> Device:
    """The CPU, with the RAM available now (MemAvailable) and in all."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    available = total
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
    except OSError:
        pass
    return Device("cpu", "CPU", available, total)
