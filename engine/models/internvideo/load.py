"""Build InternVideo2.5 from the files of a checkpoint folder (`engine.models.hub` finds or downloads it),
without remote code.

Only data is read from a model folder: JSON with `json`, tensors with `safetensors` (shard by shard, tensor
by tensor), the tokenizer with `sentencepiece`. No Python file of the folder is downloaded, imported or
executed. The network is built on the meta device, then every tensor is converted (`convert.py`), cast and
placed on its device as it is read, so peak host memory stays around one tensor beyond the model itself.
A file that cannot be read, or whose tensors do not fit the network config.json describes, raises a
`DamagedModelFile` naming it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from pathlib import Path

import torch
from torch import nn

from engine.cache import content_digests
from engine.errors import ModelError
from engine.jobs import Job, job_or_new
from engine.models.catalog import INTERNVIDEO_HUB
from engine.models.hub import DamagedModelFile, safetensors_keys, safetensors_tensors
from engine.models.hub import safetensors_files as shard_files

from .config import InternVideoConfig
from .convert import SKIPPED_PREFIXES, LlmHeads, convert_tensor, is_skipped
from .model import InternVideoModel
from .precision import PRECISIONS, ModelSize, model_size_from_dims
from .quantize import is_quantized_weight, set_quantized_weight

logger = logging.getLogger("engine.models.internvideo")

HUB = INTERNVIDEO_HUB  # the id, pin and data files: engine/models/catalog.py
DEFAULT_REPO = HUB.default_id
DEFAULT_REVISION = HUB.pins[DEFAULT_REPO]


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
    """ "auto": fp32 on CPU; on CUDA what the memory planner (engine/planner.py) picks for the free memory."""
    from engine.planner import Device, plan_for

    if precision != "auto":
        if precision not in PRECISIONS:
            raise ModelError(f"unknown precision {precision!r}; choose auto or one of {PRECISIONS}")
        return precision
    if device.type != "cuda":
        return "fp32"
    free, total = torch.cuda.mem_get_info(device)
    card = Device("cuda", torch.cuda.get_device_name(device), int(free), int(total))
    return plan_for(card, model_size(config)).require_llm()


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


def empty_model(config: InternVideoConfig, attn_implementation: str) -> InternVideoModel:
    """The network with every parameter on the meta device (no memory), to be filled by `place_tensor`."""
    from accelerate import init_empty_weights

    with init_empty_weights(include_buffers=False):
        return InternVideoModel(config, attn_implementation=attn_implementation)


def check_tensor(model: InternVideoModel, loaded: set[str], name: str, tensor: torch.Tensor) -> None:
    """`ModelError` unless the model has a parameter `name` of the tensor's shape that is still empty."""
    if name in loaded:
        raise ModelError(f"tensor {name} appears twice")
    module_path, attr = name.rsplit(".", 1)
    old = model.get_submodule(module_path)._parameters.get(attr)
    if old is None:
        raise ModelError(f"converted tensor {name} has no parameter in the model")
    if tuple(old.shape) != tuple(tensor.shape):
        raise ModelError(f"{name}: checkpoint shape {tuple(tensor.shape)} != model shape {tuple(old.shape)}")


def put_tensor(
    model: InternVideoModel,
    loaded: set[str],
    name: str,
    tensor: torch.Tensor,
    precision: str,
    device: torch.device,
) -> None:
    """Put a checked tensor into `model`: cast, placed, and quantized for the decoder linears of an int8/NF4
    LLM, so peak host memory stays around one tensor beyond the model."""
    dtype = compute_dtype(precision, device)
    if precision in ("int8", "nf4") and is_quantized_weight(name):
        set_quantized_weight(model, name, tensor, precision, dtype, device)
    else:
        module_path, attr = name.rsplit(".", 1)
        parameter = nn.Parameter(tensor.to(device=device, dtype=dtype), requires_grad=False)
        model.get_submodule(module_path)._parameters[attr] = parameter
    loaded.add(name)


def finish_model(
    model: InternVideoModel, loaded: set[str], device: torch.device, source: Path
) -> InternVideoModel:
    """Check that every parameter arrived, move the buffers (built on the host) to the device, eval mode."""
    missing = sorted({name for name, _ in model.named_parameters()} - loaded)
    if missing:
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise DamagedModelFile(source, f"lacks tensors {', '.join(missing[:5])}{more}")
    for module in model.modules():  # buffers (e.g. RoPE inverse frequencies) were built on the host
        for bname, buf in list(module._buffers.items()):
            if buf is not None:
                module._buffers[bname] = buf.to(device)
    lm = model.language_model
    if lm.lm_head.weight.data_ptr() == lm.model.embed_tokens.weight.data_ptr():
        raise ModelError("lm_head is tied to the embedding; InternLM2 keeps them separate")
    return model.eval()


def build_model(
    folder: Path,
    config: InternVideoConfig,
    device: torch.device,
    precision: str,
    attn_implementation: str,
    job: Job | None = None,
) -> InternVideoModel:
    """Build the network on the meta device and fill it from the folder's shards, tensor by tensor.

    Every shard's header is read first, so a cut or garbage last shard fails at once, not after minutes of
    loading the others. Progress: stage "load", tensors read of all the shards' tensors, the shard's name as
    message; a cancelled `job` raises `Cancelled` between tensors. A tensor that does not fit the network
    config.json describes is blamed on its shard (`DamagedModelFile`).
    """
    job = job_or_new(job)
    shards = shard_files(folder)
    total = sum(len(safetensors_keys(shard)) for shard in shards)
    t = config.text
    heads = LlmHeads(t.num_attention_heads, t.num_key_value_heads, t.hidden_size // t.num_attention_heads)
    model = empty_model(config, attn_implementation)
    loaded: set[str] = set()
    skipped: list[str] = []
    read = 0
    for shard in shards:
        for key, tensor in safetensors_tensors(shard):
            read += 1
            try:
                pieces = convert_tensor(key, tensor, heads) or []
                for name, piece in pieces:
                    check_tensor(model, loaded, name, piece)
            except ModelError as e:
                raise DamagedModelFile(shard, f"does not fit the model config.json describes ({e})") from None
            for name, piece in pieces:
                put_tensor(model, loaded, name, piece, precision, device)
            if is_skipped(key):
                skipped.append(key)
            job.progress("load", read, total, shard.name)
    model = finish_model(model, loaded, device, folder)
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
    """Build the network on the meta device, then fill it with (our parameter name, tensor) pairs as they
    arrive (`put_tensor`). `source` names the tensors' origin in error messages. Every parameter must
    arrive exactly once.
    """
    model = empty_model(config, attn_implementation)
    loaded: set[str] = set()
    for name, tensor in tensors:
        check_tensor(model, loaded, name, tensor)
        put_tensor(model, loaded, name, tensor, precision, device)
    return finish_model(model, loaded, device, Path(source))
