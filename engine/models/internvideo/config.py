"""Read an InternVideo2.5 checkpoint's `config.json` into transformers configs plus our own small spec.

The published folder carries a remote-code config (`InternVLChatModel` with an `InternVisionModel`
vision tower and an `InternLM2ForCausalLM` language model). We never execute that code: this module reads
the JSON as data and maps it onto native transformers classes:

- vision tower  -> `InternVLVisionConfig` (for `InternVLVisionModel`)
- language model -> `LlamaConfig` (for `LlamaForCausalLM`; InternLM2 is Llama-shaped once `wqkv` is split)
- everything else (template, pixel-shuffle ratio, HiCo constants) -> `InternVideoSpec`

Sizes are always read from the file; nothing here knows the 8B dimensions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transformers import InternVLVisionConfig, LlamaConfig

from engine.errors import ModelError
from engine.models.hub import DamagedModelFile, read_json

# The released HiCo model hard-codes these in its __init__ (they are not in config.json).
LOCAL_NUM_FRAMES = 4  # frames merged together by HiCo
NUM_TOME_TOKENS = 64  # tokens left per group of LOCAL_NUM_FRAMES frames

IMG_START_TOKEN = "<img>"
IMG_END_TOKEN = "</img>"
IMG_CONTEXT_TOKEN = "<IMG_CONTEXT>"

SUPPORTED_TEMPLATES = ("internvl2_5", "internlm2-chat")
_ROPE_TYPES = {"dynamic": "dynamic", "linear": "linear"}


@dataclass(frozen=True)
class InternVideoSpec:
    """The parts of the model that are not a transformers config: prompt and visual-token geometry."""

    template: str
    downsample_ratio: float
    select_layer: int
    image_size: int
    patch_size: int
    local_num_frames: int = LOCAL_NUM_FRAMES
    num_tome_tokens: int = NUM_TOME_TOKENS
    img_start_token: str = IMG_START_TOKEN
    img_end_token: str = IMG_END_TOKEN
    img_context_token: str = IMG_CONTEXT_TOKEN

    @property
    def patches_per_side(self) -> int:
        """ViT grid side: 448 / 14 = 32."""
        return self.image_size // self.patch_size

    @property
    def shuffled_tokens_per_frame(self) -> int:
        """Tokens per frame after pixel shuffle: (32 * 0.5)^2 = 256."""
        side = round(self.patches_per_side * self.downsample_ratio)
        return side * side

    @property
    def tokens_per_frame(self) -> int:
        """Visual tokens per frame after the HiCo merge: 64 / 4 = 16."""
        return self.num_tome_tokens // self.local_num_frames


@dataclass(frozen=True)
class InternVideoConfig:
    """Everything needed to build the module: native sub-configs, our spec, and the raw JSON."""

    vision: InternVLVisionConfig
    text: LlamaConfig
    spec: InternVideoSpec
    raw: dict[str, Any]

    @property
    def merge_num_heads(self) -> int:
        """HiCo's similarity metric splits channels by the *LLM* head count (as released)."""
        return int(self.text.num_attention_heads)


def _require(cond: bool, message: str) -> None:
    if not cond:
        raise ModelError(message)


def _vision_config(vc: dict[str, Any], image_size: int) -> InternVLVisionConfig:
    arch = (vc.get("architectures") or ["InternVisionModel"])[0]
    _require(arch == "InternVisionModel", f"unsupported vision tower {arch!r}; expected InternVisionModel")
    _require(not vc.get("qk_normalization", False), "vision towers with qk_normalization are not supported")
    norm_type = vc.get("norm_type", "layer_norm")
    _require(norm_type == "layer_norm", f"unsupported vision norm_type {norm_type!r}; expected layer_norm")
    act = vc.get("hidden_act", "gelu")
    _require(act == "gelu", f"unsupported vision activation {act!r}; expected gelu")
    _require(
        int(vc["image_size"]) == image_size, "force_image_size differs from the vision tower's image_size"
    )
    return InternVLVisionConfig(
        hidden_size=int(vc["hidden_size"]),
        num_hidden_layers=int(vc["num_hidden_layers"]),
        num_attention_heads=int(vc["num_attention_heads"]),
        intermediate_size=int(vc["intermediate_size"]),
        hidden_act="gelu",  # exact erf GELU, as nn.GELU() in InternViT
        attention_bias=bool(vc.get("qkv_bias", True)),
        use_qk_norm=False,
        norm_type="layer_norm",
        layer_norm_eps=float(vc.get("layer_norm_eps", 1e-6)),  # InternViT default is 1e-6, not 1e-5
        image_size=image_size,
        patch_size=int(vc["patch_size"]),
        num_channels=int(vc.get("num_channels", 3)),
        use_mask_token=False,
        use_absolute_position_embeddings=True,
        use_mean_pooling=True,  # no final norm: InternViT has none
        hidden_dropout_prob=0.0,
        attention_dropout=0.0,
        projection_dropout=0.0,
    )


def _text_config(lc: dict[str, Any]) -> LlamaConfig:
    arch = (lc.get("architectures") or ["?"])[0]
    _require(
        arch == "InternLM2ForCausalLM", f"unsupported language model {arch!r}; expected InternLM2ForCausalLM"
    )
    rope: dict[str, Any] = {"rope_type": "default", "rope_theta": float(lc.get("rope_theta", 10000.0))}
    scaling = lc.get("rope_scaling")
    if scaling:
        kind = scaling.get("type") or scaling.get("rope_type")
        _require(kind in _ROPE_TYPES, f"unsupported rope_scaling type {kind!r}")
        rope.update(rope_type=_ROPE_TYPES[kind], factor=float(scaling["factor"]))
    bias = bool(lc.get("bias", False))
    eos = lc.get("eos_token_id", 2)
    return LlamaConfig(
        vocab_size=int(lc["vocab_size"]),
        hidden_size=int(lc["hidden_size"]),
        intermediate_size=int(lc["intermediate_size"]),
        num_hidden_layers=int(lc["num_hidden_layers"]),
        num_attention_heads=int(lc["num_attention_heads"]),
        num_key_value_heads=int(lc.get("num_key_value_heads") or lc["num_attention_heads"]),
        hidden_act=lc.get("hidden_act", "silu"),
        max_position_embeddings=int(lc.get("max_position_embeddings", 32768)),
        rms_norm_eps=float(lc.get("rms_norm_eps", 1e-6)),
        rope_parameters=rope,
        attention_bias=bias,
        mlp_bias=bias,
        # InternLM2 keeps a separate `output` matrix; sharing it with the embedding is a silent, large error.
        tie_word_embeddings=False,
        bos_token_id=lc.get("bos_token_id", 1),
        eos_token_id=eos,
        pad_token_id=lc.get("pad_token_id", 2),
        use_cache=True,
    )


def parse_config(raw: dict[str, Any]) -> InternVideoConfig:
    """Map the remote-code `config.json` dict onto native configs; `ModelError` for what we cannot run."""
    archs = raw.get("architectures") or []
    _require(
        "InternVLChatModel" in archs or raw.get("model_type") == "internvl_chat",
        f"config.json describes {archs or raw.get('model_type')!r}, "
        "not an InternVideo2.5 (InternVLChatModel) model",
    )
    _require("vision_config" in raw and "llm_config" in raw, "config.json lacks vision_config or llm_config")
    ps_version = raw.get("ps_version", "v1")
    _require(ps_version == "v2", f"unsupported pixel-shuffle version {ps_version!r}; expected v2")
    select_layer = int(raw.get("select_layer", -1))
    _require(
        select_layer == -1, f"unsupported select_layer {select_layer}; only the last layer (-1) is supported"
    )
    template = raw.get("template")
    _require(
        template in SUPPORTED_TEMPLATES, f"unknown chat template {template!r}; known: {SUPPORTED_TEMPLATES}"
    )
    vc = raw["vision_config"]
    image_size = int(raw.get("force_image_size") or vc["image_size"])
    ratio = float(raw.get("downsample_ratio", 0.5))
    vision = _vision_config(vc, image_size)
    text = _text_config(raw["llm_config"])
    spec = InternVideoSpec(
        template=template,
        downsample_ratio=ratio,
        select_layer=select_layer,
        image_size=image_size,
        patch_size=int(vc["patch_size"]),
    )
    side = spec.patches_per_side
    _require(side * spec.patch_size == image_size, "image_size must be a multiple of patch_size")
    _require(
        round(side * ratio) * round(1 / ratio) == side, "ViT grid is not divisible by the pixel-shuffle ratio"
    )
    _require(
        spec.shuffled_tokens_per_frame * spec.local_num_frames > spec.num_tome_tokens,
        "HiCo needs more tokens per frame group than it keeps",
    )
    merge_width = vision.hidden_size * round(1 / ratio) ** 2
    _require(
        merge_width % text.num_attention_heads == 0,
        "HiCo metric: projector input width is not divisible by the LLM head count",
    )
    return InternVideoConfig(vision=vision, text=text, spec=spec, raw=raw)


def load_config(folder: Path) -> InternVideoConfig:
    """Read and parse `folder/config.json`."""
    path = Path(folder) / "config.json"
    if not path.exists():
        raise ModelError(
            f"no config.json in model folder {folder}; give the folder of an InternVideo2.5 checkpoint"
        )
    raw = read_json(path)
    try:
        return parse_config(raw)
    except (KeyError, TypeError, ValueError) as exc:
        raise DamagedModelFile(path, f"is incomplete or malformed ({exc!r})") from None
