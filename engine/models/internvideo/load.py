"""Load an InternVideo2.5 checkpoint from a local folder or the Hugging Face Hub, without remote code.

Only data is read from a model folder: JSON with `json`, tensors with `safetensors` (shard by shard, tensor
by tensor), the tokenizer with `sentencepiece`. No Python file of the folder is downloaded, imported or
executed. The network is built on the meta device, then every tensor is converted (`convert.py`), cast and
placed on its device as it is read, so peak host memory stays around one tensor beyond the model itself.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from engine.cache import content_digests
from engine.errors import ModelError
from engine.user_files import folder_or_hub_id

from .config import InternVideoConfig, read_json_object
from .convert import SKIPPED_PREFIXES, LlmHeads, convert_tensor, is_skipped
from .model import InternVideoModel
from .precision import PRECISIONS, ModelSize, choose_gpu_precision, model_size_from_dims, required_bytes
from .quantize import is_quantized_weight, set_quantized_weight

logger = logging.getLogger("engine.models.internvideo")

DEFAULT_REPO = "OpenGVLab/InternVideo2_5_Chat_8B"
# Newest commit of the published repo we know of (weights unchanged since the initial upload).
DEFAULT_REVISION = "6dd8f382d8bc69bd812194b93470754c279b6d3b"
# Everything the loader reads; code files are never fetched.
ALLOW_PATTERNS = (
    "config.json",
    "generation_config.json",
    "model.safetensors.index.json",
    "*.safetensors",
    "tokenizer.model",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
)
AUTO_FRAMES = 512  # precision="auto" picks the best precision with which this many frames fit
HUB_CHECK_TIMEOUT_S = 5.0  # how long a download waits for the Hub to answer at all


@dataclass(frozen=True)
class ResolvedSource:
    """A local checkpoint folder, and the Hub commit it came from (None for a plain local folder)."""

    folder: Path
    commit: str | None = None


def resolve_source(source: str | Path, revision: str | None = None) -> ResolvedSource:
    """A local folder as is; a Hub id ("owner/name") is downloaded (data files only) at a pinned revision."""
    found = folder_or_hub_id(source, DEFAULT_REPO, ModelError)
    if isinstance(found, Path):
        return ResolvedSource(found)
    text = found
    if revision is None:
        if text != DEFAULT_REPO:
            raise ModelError(f"pin a revision (commit hash) to load {text} from the Hugging Face Hub")
        revision = DEFAULT_REVISION
    return ResolvedSource(hub_snapshot(text, revision), revision)


def hub_snapshot(repo_id: str, revision: str) -> Path:
    """The local folder of repo_id@revision: the Hugging Face cache's copy when there is one (no network at
    all), else a download of the data files, started only after the Hub answered a quick request.

    Without that check an unreachable Hub costs about 25 s of retries before failing, and an offline
    machine (HF_HUB_OFFLINE=1) is told at once what to do.
    """
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError
    from huggingface_hub.utils import get_session

    files = {"allow_patterns": list(ALLOW_PATTERNS), "ignore_patterns": ["*.py"]}
    try:
        return Path(snapshot_download(repo_id=repo_id, revision=revision, local_files_only=True, **files))
    except LocalEntryNotFoundError:
        pass
    missing = f"{repo_id}@{revision[:12]} is not in the Hugging Face cache ({constants.HF_HUB_CACHE})"
    how = (
        f"download it on a machine with network access (`hf download {repo_id} --revision {revision}`, "
        "then copy the cache or the downloaded folder here), or pass a local model folder (--model DIR)"
    )
    if constants.is_offline_mode():
        raise ModelError(f"{missing} and HF_HUB_OFFLINE is set; {how}")
    try:
        get_session().head(constants.ENDPOINT, timeout=HUB_CHECK_TIMEOUT_S)
    except Exception as exc:  # DNS, refused, timeout, proxy: the Hub cannot be reached from here
        raise ModelError(f"{missing} and {constants.ENDPOINT} cannot be reached ({exc}); {how}") from exc
    logger.warning("downloading %s@%s (about 17 GB) into %s", repo_id, revision[:12], constants.HF_HUB_CACHE)
    try:
        folder = snapshot_download(repo_id=repo_id, revision=revision, **files)
    except Exception as exc:  # network, auth, missing repo or revision: all actionable by the user
        raise ModelError(f"cannot download {repo_id}@{revision} from the Hugging Face Hub: {exc}") from exc
    return Path(folder)


def shard_files(folder: Path) -> list[Path]:
    """The safetensors shards of a folder (from the index if there is one); `ModelError` if any is missing."""
    index = folder / "model.safetensors.index.json"
    if index.exists():
        weight_map = read_json_object(index).get("weight_map")
        if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
            raise ModelError(f"{index} maps no tensor names to shards. Download the model again.")
        names = sorted(set(weight_map.values()))
    elif (folder / "model.safetensors").is_file():
        names = ["model.safetensors"]
    else:
        raise ModelError(f"no safetensors weights (model.safetensors[.index.json]) in model folder {folder}")
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        raise ModelError(
            f"model folder {folder} lacks weight shard(s) {', '.join(missing)}; download them again"
        )
    return [folder / n for n in names]


def model_identity(folder: Path, commit: str | None = None) -> str:
    """A short id of the weights for cache keys: changes when any byte of the config, index, tokenizer or
    any shard changes (other weights with the same layout, e.g. a fine-tune, get another id).

    Shards are hashed in full once and their digests remembered by file signature
    (`engine.cache.content_digests`): about a second per GB the first time, milliseconds after.
    """
    h = hashlib.sha256()
    for name in ("config.json", "model.safetensors.index.json", "tokenizer.model", "added_tokens.json"):
        p = folder / name
        h.update(name.encode())
        h.update(p.read_bytes() if p.is_file() else b"-")
    shards = shard_files(folder)
    digests = content_digests(shards)
    for shard in shards:
        h.update(f"{shard.name}:{digests[shard]}".encode())
    ident = f"internvideo2_5-{h.hexdigest()[:16]}"
    return f"{ident}@{commit[:12]}" if commit else ident


def model_size(config: InternVideoConfig) -> ModelSize:
    """Parameter counts of a parsed config, for the memory rule."""
    v, t, spec = config.vision, config.text, config.spec
    return model_size_from_dims(
        vision_hidden=v.hidden_size,
        vision_layers=v.num_hidden_layers,
        vision_intermediate=v.intermediate_size,
        image_size=spec.image_size,
        patch_size=spec.patch_size,
        projector_in=v.hidden_size * round(1 / spec.downsample_ratio) ** 2,
        hidden=t.hidden_size,
        layers=t.num_hidden_layers,
        heads=t.num_attention_heads,
        kv_heads=t.num_key_value_heads,
        intermediate=t.intermediate_size,
        vocab=t.vocab_size,
        tokens_per_frame=spec.tokens_per_frame,
    )


def resolve_device(device: str | torch.device) -> torch.device:
    """ "auto" -> cuda if available, else cpu."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ModelError("CUDA was asked for but no CUDA device is available")
    return dev


def resolve_precision(precision: str, device: torch.device, config: InternVideoConfig) -> str:
    """ "auto": fp32 on CPU; on CUDA the best of bf16 > int8 > nf4 that fits 512 frames in free memory."""
    if precision != "auto":
        if precision not in PRECISIONS:
            raise ModelError(f"unknown precision {precision!r}; choose auto or one of {PRECISIONS}")
        return precision
    if device.type != "cuda":
        return "fp32"
    free, _total = torch.cuda.mem_get_info(device)
    size = model_size(config)
    chosen = choose_gpu_precision(free, size, AUTO_FRAMES)
    if chosen is None:
        need = required_bytes(size, "nf4", AUTO_FRAMES) / 2**30
        raise ModelError(
            f"the GPU has {free / 2**30:.1f} GiB free; InternVideo2.5 needs about {need:.1f} GiB even "
            "with a 4-bit language model. Close other GPU programs or run on the CPU"
        )
    return chosen


def compute_dtype(precision: str, device: torch.device) -> torch.dtype:
    """Dtype of everything that is not quantized: fp32 for "fp32" and for quantized LLMs on CPU, fp16 for
    "fp16", else bf16."""
    if precision == "fp32" or (precision in ("int8", "nf4") and device.type != "cuda"):
        return torch.float32
    return torch.float16 if precision == "fp16" else torch.bfloat16


def choose_attention(device: torch.device, dtype: torch.dtype) -> str:
    """flash_attention_2 when installed and usable (CUDA, half precision), otherwise SDPA. Never eager."""
    from transformers.utils import is_flash_attn_2_available

    if device.type == "cuda" and dtype in (torch.float16, torch.bfloat16) and is_flash_attn_2_available():
        return "flash_attention_2"
    return "sdpa"


def _assign(
    root: nn.Module, name: str, tensor: torch.Tensor, dtype: torch.dtype, device: torch.device
) -> None:
    module_path, attr = name.rsplit(".", 1)
    module = root.get_submodule(module_path)
    old = module._parameters.get(attr)
    if old is None:
        raise ModelError(f"converted tensor {name} has no parameter in the model")
    if tuple(old.shape) != tuple(tensor.shape):
        raise ModelError(f"{name}: checkpoint shape {tuple(tensor.shape)} != model shape {tuple(old.shape)}")
    module._parameters[attr] = nn.Parameter(tensor.to(device=device, dtype=dtype), requires_grad=False)


def build_model(
    folder: Path,
    config: InternVideoConfig,
    device: torch.device,
    precision: str,
    attn_implementation: str,
) -> InternVideoModel:
    """Build the network on the meta device and fill it from the folder's shards."""
    from safetensors import safe_open

    shards = shard_files(folder)
    t = config.text
    heads = LlmHeads(t.num_attention_heads, t.num_key_value_heads, t.hidden_size // t.num_attention_heads)
    skipped: list[str] = []

    def checkpoint_tensors() -> Iterator[tuple[str, torch.Tensor]]:
        for shard in shards:
            with safe_open(str(shard), framework="pt", device="cpu") as f:
                for key in f.keys():  # noqa: SIM118 - safe_open is not a mapping
                    if is_skipped(key):
                        skipped.append(key)
                        continue
                    yield from convert_tensor(key, f.get_tensor(key), heads) or ()

    model = materialize(config, checkpoint_tensors(), device, precision, attn_implementation, str(folder))
    if skipped:
        heads_found = sorted(
            {p for p in SKIPPED_PREFIXES for k in skipped if k == p or k.startswith(p + ".")}
        )
        logger.info(
            "skipped %d task-head tensors not used for chat (%s)", len(skipped), ", ".join(heads_found)
        )
    return model


def materialize(
    config: InternVideoConfig,
    tensors: Iterable[tuple[str, torch.Tensor]],
    device: torch.device,
    precision: str,
    attn_implementation: str,
    source: str,
) -> InternVideoModel:
    """Build the network on the meta device, then fill it with (our parameter name, tensor) pairs.

    Each tensor is cast, placed (and quantized, for the decoder linears of an int8/NF4 LLM) as it arrives,
    so peak host memory stays around one tensor beyond the model. `source` names the tensors' origin in
    error messages. Every parameter must arrive exactly once.
    """
    from accelerate import init_empty_weights

    dtype = compute_dtype(precision, device)
    quant = precision if precision in ("int8", "nf4") else None
    with init_empty_weights(include_buffers=False):
        model = InternVideoModel(config, attn_implementation=attn_implementation)
    expected = {name for name, _ in model.named_parameters()}
    loaded: set[str] = set()
    for name, tensor in tensors:
        if name in loaded:
            raise ModelError(f"tensor {name} appears twice in {source}")
        if quant and is_quantized_weight(name):
            set_quantized_weight(model, name, tensor, quant, dtype, device)
        else:
            _assign(model, name, tensor, dtype, device)
        loaded.add(name)
    missing = sorted(expected - loaded)
    if missing:
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise ModelError(f"the checkpoint in {source} lacks tensors {', '.join(missing[:5])}{more}")
    for module in model.modules():  # buffers (e.g. RoPE inverse frequencies) were built on the host
        for bname, buf in list(module._buffers.items()):
            if buf is not None:
                module._buffers[bname] = buf.to(device)
    lm = model.language_model
    if lm.lm_head.weight.data_ptr() == lm.model.embed_tokens.weight.data_ptr():
        raise ModelError("lm_head is tied to the embedding; InternLM2 keeps them separate")
    return model.eval()
