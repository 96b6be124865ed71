"""Load SAM 2.1 for video (transformers' `Sam2VideoModel`) from a local folder or the Hugging Face Hub.

Only data is read from a model folder: JSON with `json`, weights with safetensors (by transformers,
`use_safetensors=True`). Nothing is imported or executed from it (remote code is never trusted), and a Hub
download fetches JSON and safetensors files only. The `Sam2VideoProcessor` needs torchvision, which
cannot work on the CPU machines, so this module reads the preprocessing constants itself and
`frames.py` applies them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from engine.errors import ModelError
from engine.user_files import folder_or_hub_id, read_json

log = logging.getLogger(__name__)

DEFAULT_SAM_MODEL = "facebook/sam2.1-hiera-tiny"
ALLOW_PATTERNS = ("*.json", "*.safetensors")  # configs and weights; never code or pickles
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
) -> Sam2:
    """Load a `facebook/sam2.1-hiera-*` video model (Hub id or folder). Raises `ModelError` with a fix."""
    from safetensors import SafetensorError
    from transformers import Sam2VideoModel
    from transformers.utils import logging as hf_logging

    folder = resolve_sam2_folder(source, revision)
    config = _read_json(folder / "config.json", folder)
    model_type = config.get("model_type")
    if model_type != "sam2_video":
        raise ModelError(
            f"{folder} holds a '{model_type}' model, not a SAM2 video model ('sam2_video'). Use one of "
            "facebook/sam2.1-hiera-tiny, -small, -base-plus or -large."
        )
    _check_weights(folder)
    torch_device = _resolve_device(device)
    dtype = _resolve_precision(precision, torch_device)
    bar_was_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # a tiny model loads in a blink; keep the CLI's stderr clean
    try:
        network, info = Sam2VideoModel.from_pretrained(
            folder, local_files_only=True, use_safetensors=True, dtype=dtype, output_loading_info=True
        )
    except (OSError, ValueError, RuntimeError, SafetensorError) as e:
        raise ModelError(f"cannot load the SAM2 weights in {folder}: {e}. Download the model again.") from e
    finally:
        if bar_was_on:
            hf_logging.enable_progress_bar()
    missing = info.get("missing_keys") or []
    if missing:
        raise ModelError(
            f"the SAM2 weights in {folder} are incomplete ({len(missing)} tensors missing, e.g. "
            f"{sorted(missing)[0]}). Download the model again."
        )
    image_size = config.get("image_size", 1024)
    image_size = int(image_size[0] if isinstance(image_size, list) else image_size)
    mean, std = _normalization(folder)
    return Sam2(
        network=network.to(torch_device).eval(),
        image_size=image_size,
        mean=mean,
        std=std,
        device=torch_device,
        dtype=dtype,
        name=str(source),
    )


def resolve_sam2_folder(source: str | Path, revision: str | None = None) -> Path:
    """A local folder as it is; a Hub id ("owner/name") downloaded (JSON and safetensors only)."""
    found = folder_or_hub_id(source, DEFAULT_SAM_MODEL, ModelError)
    if isinstance(found, Path):
        if not (found / "config.json").exists():
            raise ModelError(
                f"{found} has no config.json: it is not a SAM2 model folder. Give a folder with config.json "
                "and model.safetensors, or a Hub id such as facebook/sam2.1-hiera-tiny."
            )
        return found
    text = found
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id=text, revision=revision, allow_patterns=list(ALLOW_PATTERNS)))
    except Exception as e:  # offline, unknown repo, auth: the user can act on each
        raise ModelError(
            f"cannot download {text} from the Hugging Face Hub ({type(e).__name__}: {e}). Check the id and "
            "the network, or download it elsewhere and pass the folder."
        ) from e


def _check_weights(folder: Path) -> None:
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        shards = set(_read_json(index, folder).get("weight_map", {}).values())
        missing = sorted(name for name in shards if not (folder / name).is_file())
        if not shards or missing:
            raise ModelError(f"{folder} lacks weight shards {missing or '(empty index)'}. Download it again.")
    elif not (folder / "model.safetensors").is_file():
        raise ModelError(
            f"{folder} has no model.safetensors (only safetensors weights are loaded). Download the "
            "transformers weights of the model again."
        )


def _read_json(path: Path, folder: Path) -> dict:
    if not path.exists():
        raise ModelError(f"{folder} has no {path.name}. Download the model again.")
    data = read_json(path, "model file", "Download the model again.", ModelError)
    if not isinstance(data, dict):
        raise ModelError(f"{path} is not a JSON object. Download the model again.")
    return data


def _normalization(folder: Path) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Mean and std from the folder's (video) preprocessor config, else the processor's defaults."""
    for name in PREPROCESSOR_FILES:
        if (folder / name).is_file():
            config = _read_json(folder / name, folder)
            mean = tuple(float(v) for v in config.get("image_mean", IMAGENET_MEAN))
            std = tuple(float(v) for v in config.get("image_std", IMAGENET_STD))
            if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
                raise ModelError(f"{folder / name} has an unusable image_mean/image_std.")
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
