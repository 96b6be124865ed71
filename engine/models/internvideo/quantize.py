"""bitsandbytes layers for the language model's decoder linears (8-bit LLM.int8 or 4-bit NF4).

Only the decoder's q/k/v/o and gate/up/down projections are quantized; embeddings, lm_head and norms stay
in the compute dtype (as transformers' bitsandbytes integration does by default). Quantization happens
when the weight is moved to its device, one tensor at a time while loading, so the full-precision LLM
is never held in memory. bitsandbytes is imported only when a quantized precision is asked for.
"""

from __future__ import annotations

import logging
import re

import torch
from torch import nn

from engine.errors import ModelError

# our parameter names of the weights that get quantized (see convert.KEY_TABLE)
QUANTIZED_WEIGHT = re.compile(
    r"language_model\.model\.layers\.\d+\.(self_attn\.(q|k|v|o)_proj|mlp\.(gate|up|down)_proj)\.weight"
)
INT8_OUTLIER_THRESHOLD = 6.0  # LLM.int8() mixed-precision decomposition threshold (transformers' default)


def is_quantized_weight(name: str) -> bool:
    """True for the decoder linear weights that a quantized precision stores in bitsandbytes layers."""
    return QUANTIZED_WEIGHT.fullmatch(name) is not None


def _quiet_expected_cast(record: logging.LogRecord) -> bool:
    """bitsandbytes logs "MatMul8bitLt: inputs will be cast ... to float16" on every int8 matmul whose input
    is not fp16, i.e. every call of ours (fp32/bf16 activations): expected, so not shown."""
    return not record.getMessage().startswith("MatMul8bitLt: inputs will be cast")


def _bnb():
    try:
        import bitsandbytes as bnb
    except ImportError as exc:  # pragma: no cover - bitsandbytes is a declared dependency
        raise ModelError(
            f"8-bit / 4-bit precision needs bitsandbytes, which cannot be imported: {exc}"
        ) from exc
    return bnb


def quantized_linear(
    weight: torch.Tensor, kind: str, compute_dtype: torch.dtype, device: torch.device
) -> nn.Module:
    """A bias-free bitsandbytes linear layer holding `weight` [out, in], quantized on `device`.

    kind "nf4": `Linear4bit` (NF4, double-quantized statistics, computing in `compute_dtype`);
    kind "int8": `Linear8bitLt` (LLM.int8 with outlier threshold 6.0, int8 weights only).
    """
    bnb = _bnb()
    cast_logger = logging.getLogger("bitsandbytes.autograd._functions")
    if _quiet_expected_cast not in cast_logger.filters:
        cast_logger.addFilter(_quiet_expected_cast)
    out_features, in_features = weight.shape
    if kind == "nf4":
        layer = bnb.nn.Linear4bit(
            in_features,
            out_features,
            bias=False,
            compute_dtype=compute_dtype,
            compress_statistics=True,
            quant_type="nf4",
            device="meta",
        )
        layer.weight = bnb.nn.Params4bit(
            weight.to(compute_dtype), requires_grad=False, compress_statistics=True, quant_type="nf4"
        )
    elif kind == "int8":
        layer = bnb.nn.Linear8bitLt(
            in_features,
            out_features,
            bias=False,
            has_fp16_weights=False,
            threshold=INT8_OUTLIER_THRESHOLD,
            device="meta",
        )
        layer.weight = bnb.nn.Int8Params(
            weight.to(compute_dtype), requires_grad=False, has_fp16_weights=False
        )
    else:
        raise ValueError(f"unknown quantization {kind!r}")
    return layer.to(device)  # quantizes here


def set_quantized_weight(
    root: nn.Module,
    name: str,
    weight: torch.Tensor,
    kind: str,
    compute_dtype: torch.dtype,
    device: torch.device,
) -> None:
    """Replace the linear layer owning parameter `name` (e.g. '...q_proj.weight') by a quantized one."""
    module_path = name.rsplit(".", 1)[0]
    parent_path, attr = module_path.rsplit(".", 1)
    parent = root.get_submodule(parent_path)
    old = getattr(parent, attr)
    if not isinstance(old, nn.Linear) or old.bias is not None:
        raise ModelError(f"{module_path} is not a bias-free linear layer; cannot quantize it")
    if tuple(old.weight.shape) != tuple(weight.shape):
        raise ModelError(
            f"{name}: checkpoint shape {tuple(weight.shape)} != model shape {tuple(old.weight.shape)}"
        )
    setattr(parent, attr, quantized_linear(weight, kind, compute_dtype, device))
