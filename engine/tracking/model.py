"""Load SAM 2.1 for video (transformers' `Sam2VideoModel`) from a local folder or the Hugging Face Hub.

Only data is read from a model folder: JSON with `json`, weights with safetensors (by transformers,
`use_safetensors=True`). Nothing is imported or executed from it (remote code is never trusted), and a Hub
download (`engine.models.hub`: local cache first, pinned commit) fetches JSON and safetensors files only.
The `Sam2VideoProcessor` needs torchvision, which cannot work on the CPU machines, so this module reads
the preprocessing constants itself and `frames.py` applies them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from engine.errors import ModelError
from engine.jobs import Job, job_or_new
from engine.models.catalog import SAM2_HUB
from engine.models.hub import (
    DamagedModelFile,
    first_line,
    model_folder,
    read_json,
    safetensors_files,
    safetensors_keys,
)

log = logging.getLogger(__name__)

HUB = SAM2_HUB  # the id, pin and data files: engine/models/catalog.py
DEFAULT_SAM_MODEL = HUB.default_id
PREPROCESSOR_FILES = ("video_preprocessor_config.json", "preprocessor_config.json")
IMAGENET_MEAN = (0.485, 0.456, 0.406)  # the processor's defaults (IMAGENET_DEFAULT_MEAN / _STD)
IMAGENET_STD = (0.229, 0.224, 0.225)
PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True, eq=False)
class Sam2:
    """A loaded SAM2 video model and the constants its input needs."""

    network: torch.nn.Module  # transformers Sam2VideoModel, eval mode
    image_size: int  # frames are resized to image_size x image_size
    mean: tuple[float, float, float]  # per RGB channel, on 0..1 values
    std: tuple[float, float, float]
    device: torch.device
    dtype: torch.dtype
    name: str  # the source it was loaded from (Hub id or folder), for summaries and exports

    @property
    def memory_window(self) -> int:
        """How many past frames one tracking step reads: mask memories and object pointers."""
        config = self.network.config
        return max(config.num_maskmem - 1, config.max_object_pointers_in_encoder - 1, 1)


def load_sam2(
    source: str | Path = DEFAULT_SAM_MODEL,
    *,
    device: str | torch.device = "auto",
    precision: str = "auto",
    revision: str | None = None,
    job: Job | None = None,
) -> Sam2:
    """Load a `facebook/sam2.1-hiera-*` video model (Hub id, "id@COMMIT" or folder). Raises `ModelError`
    with a fix. `job`: stage "download" (bytes, file name) when the model is fetched, then "load"
    (shards); a cancelled job raises `Cancelled`."""
    job = job_or_new(job)
    files = model_folder(source, HUB, revision, job)
    folder = files.path
    with files.explain_damage():
        config = _sam2_config(folder)
        torch_device = _resolve_device(device)
        dtype = _resolve_precision(precision, torch_device)
        network = _read_network(folder, dtype, job)
        mean, std = _normalization(folder)
    image_size = config.get("image_size", 1024)
    image_size = int(image_size[0] if isinstance(image_size, list) else image_size)
    return Sam2(
        network=network.to(torch_device).eval(),
        image_size=image_size,
        mean=mean,
        std=std,
        device=torch_device,
        dtype=dtype,
        name=str(source),
    )


def _sam2_config(folder: Path) -> dict:
    if not (folder / "config.json").is_file():
        raise ModelError(
            f"{folder} has no config.json: it is not a SAM2 model folder. Give a folder with config.json "
            f"and model.safetensors, or a Hub id such as {DEFAULT_SAM_MODEL}."
        )
    config = read_json(folder / "config.json")
    model_type = config.get("model_type")
    if model_type != "sam2_video":
        raise ModelError(
            f"{folder} holds a '{model_type}' model, not a SAM2 video model ('sam2_video'). Use one of "
            "facebook/sam2.1-hiera-tiny, -small, -base-plus or -large."
        )
    return config


def _read_network(folder: Path, dtype: torch.dtype, job: Job) -> torch.nn.Module:
    """transformers' `Sam2VideoModel` from the folder's safetensors; every header is checked first, and a
    tensor transformers cannot place is blamed on its file (`DamagedModelFile`)."""
    from transformers import Sam2VideoModel
    from transformers.utils import logging as hf_logging

    shards = safetensors_files(folder)
    for shard in shards:
        safetensors_keys(shard)
    where = shards[0] if len(shards) == 1 else folder
    job.progress("load", 0, len(shards), where.name)
    verbosity, bar_was_on = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()  # its load report and bar: what goes wrong is said below, once
    hf_logging.disable_progress_bar()
    try:
        network, info = Sam2VideoModel.from_pretrained(
            folder,
            local_files_only=True,
            use_safetensors=True,
            dtype=dtype,
            output_loading_info=True,
            ignore_mismatched_sizes=True,  # reported below, naming the tensor
        )
    except (OSError, ValueError, RuntimeError) as e:
        raise DamagedModelFile(where, f"cannot be loaded as SAM2 weights ({first_line(e)})") from None
    finally:
        hf_logging.set_verbosity(verbosity)
        if bar_was_on:
            hf_logging.enable_progress_bar()
    mismatched = sorted(info.get("mismatched_keys") or [])
    if mismatched:
        key, found, expected = mismatched[0]
        raise DamagedModelFile(
            where,
            f"does not fit the model config.json describes ({key}: checkpoint shape {tuple(found)} != "
            f"model shape {tuple(expected)})",
        )
    missing = sorted(info.get("missing_keys") or [])
    if missing:
        raise DamagedModelFile(where, f"is incomplete ({len(missing)} tensors missing, e.g. {missing[0]})")
    job.progress("load", len(shards), len(shards), where.name)
    return network


def _normalization(folder: Path) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Mean and std from the folder's (video) preprocessor config, else the processor's defaults."""
    for name in PREPROCESSOR_FILES:
        if (folder / name).is_file():
            config = read_json(folder / name)
            mean = tuple(float(v) for v in config.get("image_mean", IMAGENET_MEAN))
            std = tuple(float(v) for v in config.get("image_std", IMAGENET_STD))
            if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
                raise DamagedModelFile(folder / name, "has an unusable image_mean/image_std")
            return mean, std
    return IMAGENET_MEAN, IMAGENET_STD


def _resolve_device(device: str | torch.device) -> torch.device:
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError:
        raise ModelError(f"unknown device {device!r}; use auto, cpu, cuda or cuda:N") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ModelError("CUDA was asked for, but no CUDA GPU is available. Use --device cpu.")
    return resolved


def _resolve_precision(precision: str, device: torch.device) -> torch.dtype:
    """ "auto": bfloat16 on a GPU that has it (as the SAM2 authors run it), float32 otherwise."""
    if precision == "auto":
        if device.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    if precision not in PRECISIONS:
        raise ModelError(f"unknown precision {precision!r}; use auto or one of {', '.join(PRECISIONS)}")
    if device.type == "cpu" and precision != "fp32":
        raise ModelError(f"{precision} is for GPUs; on the CPU use fp32 (or auto).")
    return PRECISIONS[precision]
