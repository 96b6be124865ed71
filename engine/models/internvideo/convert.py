"""Checkpoint key conversion: original InternVideo2.5 names -> our module's names, in ONE table.

Our module (`model.InternVideoModel`) has three children named like transformers' InternVL:
`vision_tower` (InternVLVisionModel), `multi_modal_projector` (InternVLMultiModalProjector) and
`language_model` (LlamaForCausalLM). Every original tensor either matches exactly one rule of `KEY_TABLE`,
or is one of the task-head tensors the chat path never uses (`SKIPPED_PREFIXES`), or is an error.

Two rules split a tensor instead of renaming it:
- vision `attn.qkv` [3C, C] is q|k|v stacked: plain thirds along dim 0;
- InternLM2 `attention.wqkv` [(H + 2·KV)·d, hidden] is grouped per key/value head: viewed as
  [KV, H/KV + 2, d, hidden], slots 0..H/KV-1 are that group's query heads, then one key and one value head.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import torch

from engine.errors import ModelError

# Tensors of the TPO task heads (SAM2, CG-DETR, tracking/temporal MLPs and tokens) that ship with the
# checkpoint but are not used to chat. A key is skipped if it equals one of these or starts with it + ".".
SKIPPED_PREFIXES: tuple[str, ...] = (
    "sam",
    "cg_model",
    "cg_criterion",
    "temporal_embed",
    "track_embed",
    "track_embed_decoder",
    "temporal_token",
    "track_token",
    "action_embed",
    "box_token",
    "loc_encoder",
    "loc_decoder",
)


@dataclass(frozen=True)
class LlmHeads:
    """Head geometry needed to split the grouped `wqkv` tensor."""

    num_heads: int
    num_kv_heads: int
    head_dim: int


Splitter = Callable[[torch.Tensor, LlmHeads], tuple[torch.Tensor, ...]]


def split_thirds(qkv: torch.Tensor, heads: LlmHeads) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Vision `qkv` weight [3C, C] or bias [3C] -> (q, k, v), each [C, C] / [C]."""
    if qkv.shape[0] % 3:
        raise ModelError(f"vision qkv tensor of shape {tuple(qkv.shape)} cannot be split in thirds")
    q, k, v = qkv.chunk(3, dim=0)
    return q.contiguous(), k.contiguous(), v.contiguous()


def split_grouped_wqkv(
    wqkv: torch.Tensor, heads: LlmHeads
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """InternLM2 `wqkv` [(H + 2·KV)·d, hidden] -> q [H·d, hidden], k [KV·d, hidden], v [KV·d, hidden].

    Rows are laid out per key/value group g: [q_{g·G+0}, ..., q_{g·G+G-1}, k_g, v_g], G = H / KV.
    """
    h, kv, d = heads.num_heads, heads.num_kv_heads, heads.head_dim
    if h % kv:
        raise ModelError(f"{h} attention heads are not a multiple of {kv} key/value heads")
    group = h // kv
    rows, hidden = wqkv.shape
    if rows != (h + 2 * kv) * d:
        raise ModelError(
            f"wqkv has {rows} rows; expected (heads {h} + 2 × kv heads {kv}) × head_dim {d} "
            f"= {(h + 2 * kv) * d}"
        )
    w = wqkv.reshape(kv, group + 2, d, hidden)  # [KV, G+2, d, hidden]
    q = w[:, :group].reshape(h * d, hidden)  # query head index = g·G + slot
    k = w[:, group].reshape(kv * d, hidden)
    v = w[:, group + 1].reshape(kv * d, hidden)
    return q.contiguous(), k.contiguous(), v.contiguous()


@dataclass(frozen=True)
class Rule:
    """One row of the table: a full-match regex over the original key, and the target name(s).

    `targets` are `re` replacement templates (\\1, \\2 refer to the pattern's groups); with a `split`,
    the tensor is cut into len(targets) pieces, in order.
    """

    pattern: str
    targets: tuple[str, ...]
    split: Splitter | None = None


_VL = r"vision_model\.encoder\.layers\.(\d+)\."
_VT = r"vision_tower.encoder.layer.\1."
_LL = r"language_model\.model\.layers\.(\d+)\."
_LT = r"language_model.model.layers.\1."

# fmt: off
KEY_TABLE: tuple[Rule, ...] = (
    # --- vision tower: InternViT -> InternVLVisionModel -----------------------------------------------------
    Rule(r"vision_model\.embeddings\.class_embedding", ("vision_tower.embeddings.cls_token",)),
    Rule(r"vision_model\.embeddings\.position_embedding", ("vision_tower.embeddings.position_embeddings",)),
    Rule(r"vision_model\.embeddings\.patch_embedding\.(weight|bias)",
         (r"vision_tower.embeddings.patch_embeddings.projection.\1",)),
    Rule(_VL + r"attn\.qkv\.(weight|bias)",
         (_VT + r"attention.q_proj.\2", _VT + r"attention.k_proj.\2", _VT + r"attention.v_proj.\2"),
         split_thirds),
    Rule(_VL + r"attn\.proj\.(weight|bias)", (_VT + r"attention.projection_layer.\2",)),
    Rule(_VL + r"norm1\.(weight|bias)", (_VT + r"layernorm_before.\2",)),
    Rule(_VL + r"norm2\.(weight|bias)", (_VT + r"layernorm_after.\2",)),
    Rule(_VL + r"ls1", (_VT + r"lambda_1",)),
    Rule(_VL + r"ls2", (_VT + r"lambda_2",)),
    Rule(_VL + r"mlp\.(fc1|fc2)\.(weight|bias)", (_VT + r"mlp.\2.\3",)),
    # --- projector: mlp1 = Sequential(LayerNorm, Linear, GELU, Linear) -> InternVLMultiModalProjector -------
    Rule(r"mlp1\.0\.(weight|bias)", (r"multi_modal_projector.layer_norm.\1",)),
    Rule(r"mlp1\.1\.(weight|bias)", (r"multi_modal_projector.linear_1.\1",)),
    Rule(r"mlp1\.3\.(weight|bias)", (r"multi_modal_projector.linear_2.\1",)),
    # --- language model: InternLM2 -> LlamaForCausalLM ------------------------------------------------------
    Rule(r"language_model\.model\.tok_embeddings\.weight", ("language_model.model.embed_tokens.weight",)),
    Rule(_LL + r"attention\.wqkv\.weight",
         (_LT + "self_attn.q_proj.weight", _LT + "self_attn.k_proj.weight", _LT + "self_attn.v_proj.weight"),
         split_grouped_wqkv),
    Rule(_LL + r"attention\.wo\.weight", (_LT + "self_attn.o_proj.weight",)),
    Rule(_LL + r"feed_forward\.w1\.weight", (_LT + "mlp.gate_proj.weight",)),
    Rule(_LL + r"feed_forward\.w3\.weight", (_LT + "mlp.up_proj.weight",)),
    Rule(_LL + r"feed_forward\.w2\.weight", (_LT + "mlp.down_proj.weight",)),
    Rule(_LL + r"attention_norm\.weight", (_LT + "input_layernorm.weight",)),
    Rule(_LL + r"ffn_norm\.weight", (_LT + "post_attention_layernorm.weight",)),
    Rule(r"language_model\.model\.norm\.weight", ("language_model.model.norm.weight",)),
    Rule(r"language_model\.output\.weight", ("language_model.lm_head.weight",)),
)
# fmt: on

_COMPILED = tuple((re.compile(rule.pattern), rule) for rule in KEY_TABLE)


def is_skipped(key: str) -> bool:
    """True for tensors of the unused task heads (see `SKIPPED_PREFIXES`)."""
    return any(key == p or key.startswith(p + ".") for p in SKIPPED_PREFIXES)


def _match(key: str) -> tuple[Rule, tuple[str, ...]] | None:
    """The rule for an original key and the names it produces; None if skipped; `ModelError` if unknown."""
    if is_skipped(key):
        return None
    for regex, rule in _COMPILED:
        m = regex.fullmatch(key)
        if m:
            return rule, tuple(m.expand(t) for t in rule.targets)
    raise ModelError(f"unknown tensor {key!r} in the checkpoint; this is not a checkpoint layout we know")


def target_names(key: str) -> tuple[str, ...] | None:
    """Our name(s) for an original key; None if the key is skipped. Raises `ModelError` if unknown."""
    found = _match(key)
    return None if found is None else found[1]


def convert_tensor(key: str, tensor: torch.Tensor, heads: LlmHeads) -> list[tuple[str, torch.Tensor]] | None:
    """Original (key, tensor) -> [(our name, tensor), ...]; None if skipped; `ModelError` if unknown."""
    found = _match(key)
    if found is None:
        return None
    rule, names = found
    if rule.split is None:
        return [(names[0], tensor)]
    return list(zip(names, rule.split(tensor, heads), strict=True))
