"""Precision choices and the memory rule behind `precision="auto"` (pure functions, no torch).

Precisions:
- "fp32": everything float32 (the CPU default; what the parity tests use);
- "bf16": everything bfloat16 (CUDA);
- "fp16": everything float16 (CUDA cards without fast bfloat16);
- "int8" / "nf4": the LLM's decoder linear layers in bitsandbytes 8-bit / 4-bit NF4 (double-quantized),
  everything else (vision tower, projector, embeddings, lm_head, norms) in the compute dtype.

Sizes come from the checkpoint's config (parameter counts), so the rule is not tied to the 8B; for the
8B they give the documented numbers: bf16 ≈ 15.0 GiB, int8 LLM ≈ 8.5 GiB, NF4 LLM ≈ 5.4 GiB of weights,
and a KV cache of 128 KiB per token in bf16.
"""

from __future__ import annotations

from dataclasses import dataclass

GIB = 1024**3
PRECISIONS = ("fp32", "bf16", "fp16", "int8", "nf4")
GPU_PREFERENCE = ("bf16", "int8", "nf4")  # best quality first

# bytes per parameter of the quantized LLM linears: int8 weight (+ one fp32 scale per row, negligible);
# NF4 = 4 bits + fp8 absmax per 64 weights + fp32 per 256 blocks (double quantization) ≈ 4.13 bits.
_BYTES_PER_QUANT_PARAM = {"int8": 1.0, "nf4": 0.5 + 1 / 64 + 4 / (64 * 256)}
_BYTES_PER_PARAM = {"fp32": 4.0, "bf16": 2.0, "fp16": 2.0, "int8": 2.0, "nf4": 2.0}

TEXT_TOKENS_PER_FRAME = 7  # "FrameK: <img>...</img>\n" costs ~6-7 text tokens around the 16 visual ones
PROMPT_OVERHEAD_TOKENS = 256  # system message, question, answer
VISION_CHUNK_FRAMES = 32  # frames per vision-tower pass on a GPU when memory allows (engine/planner.py)

# Measured with bench/planner_costs.py on 2026-12-02 (docs/benchmarks.md, "Planner costs"): the peak of
# live tensors at the 8B's dimensions in bf16, as values per token per (hidden + intermediate) width.
# Prefill: one decoder layer's activations beyond the KV cache (they are freed before the next layer),
# the visual tokens and the prompt embeddings included: 122 KiB a token (the rule on paper before,
# 4 hidden + 3 intermediate values a token, gave 3.22 widths, 116 KiB). Vision: one InternViT layer's
# pass with pixel shuffle, HiCo and the projector, 1025 tokens a frame: 29.5 MiB a frame.
PREFILL_ACTIVATION_WIDTHS = 3.39
VISION_ACTIVATION_WIDTHS = 2.94
# What a CPU cannot measure: cuBLAS and flash-attn workspaces, the caching allocator's fragmentation.
RUNTIME_MARGIN_BYTES = 1 * GIB


@dataclass(frozen=True)
class ModelSize:
    """Parameter counts and shapes that memory depends on (derived from a config)."""

    vision_params: int
    projector_params: int
    llm_linear_params: int  # decoder q/k/v/o/gate/up/down: the part bitsandbytes quantizes
    llm_other_params: int  # embeddings, lm_head, norms
    num_layers: int
    num_kv_heads: int
    head_dim: int
    hidden_size: int
    intermediate_size: int
    tokens_per_frame: int
    vision_tokens: int  # per frame: patches + CLS
    vision_hidden: int
    vision_intermediate: int

    def kv_bytes_per_token(self, bytes_per_value: int = 2) -> int:
        """K and V of every layer for one token."""
        return 2 * self.num_layers * self.num_kv_heads * self.head_dim * bytes_per_value


def model_size_from_dims(
    *,
    vision_hidden: int,
    vision_layers: int,
    vision_intermediate: int,
    image_size: int,
    patch_size: int,
    projector_in: int,
    hidden: int,
    layers: int,
    heads: int,
    kv_heads: int,
    intermediate: int,
    vocab: int,
    tokens_per_frame: int,
) -> ModelSize:
    """Count parameters of the architecture from its dimensions."""
    patches = (image_size // patch_size) ** 2
    vision_layer = 4 * vision_hidden * vision_hidden + 4 * vision_hidden  # q, k, v, proj (+ biases)
    vision_layer += 2 * vision_hidden * vision_intermediate + vision_intermediate + vision_hidden  # fc1, fc2
    vision_layer += 6 * vision_hidden  # two layer norms, two layer scales
    vision = vision_layers * vision_layer
    vision += 3 * patch_size * patch_size * vision_hidden + vision_hidden  # patch embedding
    vision += (patches + 2) * vision_hidden  # position embeddings and CLS
    projector = 2 * projector_in + projector_in * hidden + hidden + hidden * hidden + hidden
    head_dim = hidden // heads
    attn = hidden * heads * head_dim + 2 * hidden * kv_heads * head_dim + heads * head_dim * hidden
    linear = layers * (attn + 3 * hidden * intermediate)
    other = 2 * vocab * hidden + (2 * layers + 1) * hidden
    return ModelSize(
        vision_params=vision,
        projector_params=projector,
        llm_linear_params=linear,
        llm_other_params=other,
        num_layers=layers,
        num_kv_heads=kv_heads,
        head_dim=head_dim,
        hidden_size=hidden,
        intermediate_size=intermediate,
        tokens_per_frame=tokens_per_frame,
        vision_tokens=patches + 1,
        vision_hidden=vision_hidden,
        vision_intermediate=vision_intermediate,
    )


def weight_bytes(size: ModelSize, precision: str) -> int:
    """Bytes of all weights at a precision."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose one of {PRECISIONS}")
    rest = size.vision_params + size.projector_params + size.llm_other_params
    return int(
        rest * _BYTES_PER_PARAM[precision] + size.llm_linear_params * llm_linear_bytes_per_param(precision)
    )


def llm_linear_bytes_per_param(precision: str) -> float:
    """Bytes per parameter of the LLM's decoder linears (what decoding reads for every token)."""
    return _BYTES_PER_QUANT_PARAM.get(precision, _BYTES_PER_PARAM[precision])


def context_tokens(size: ModelSize, num_frames: int) -> int:
    """Prompt length of a video question with `num_frames` frames (visual + text tokens)."""
    return num_frames * (size.tokens_per_frame + TEXT_TOKENS_PER_FRAME) + PROMPT_OVERHEAD_TOKENS


def max_frames(context_window: int, tokens_per_frame: int, group: int) -> int:
    """The most frames (whole groups) whose prompt, by `context_tokens`, fits `context_window` tokens."""
    per_frame = tokens_per_frame + TEXT_TOKENS_PER_FRAME
    return max(0, (context_window - PROMPT_OVERHEAD_TOKENS) // per_frame // group * group)


def kv_bytes(size: ModelSize, num_frames: int, bytes_per_value: int = 2) -> int:
    """The KV cache of a video prompt with `num_frames` frames, all layers."""
    return context_tokens(size, num_frames) * size.kv_bytes_per_token(bytes_per_value)


def prefill_bytes(size: ModelSize, num_frames: int, bytes_per_value: int = 2) -> int:
    """The peak of a prefill beyond the weights: the KV cache of every layer plus one layer's activations
    (logits are computed for the last position only)."""
    widths = PREFILL_ACTIVATION_WIDTHS * (size.hidden_size + size.intermediate_size)
    activations = int(context_tokens(size, num_frames) * widths * bytes_per_value)
    return kv_bytes(size, num_frames, bytes_per_value) + activations


def vision_chunk_bytes(
    size: ModelSize, num_frames: int, bytes_per_value: int = 2, chunk_frames: int = VISION_CHUNK_FRAMES
) -> int:
    """The peak of one vision-tower pass of `chunk_frames` beyond the weights, plus the visual tokens of
    all `num_frames` (those of earlier passes stay while the next is encoded)."""
    frames = min(num_frames, chunk_frames)
    widths = VISION_ACTIVATION_WIDTHS * (size.vision_hidden + size.vision_intermediate)
    chunk = int(frames * size.vision_tokens * widths * bytes_per_value)
    return chunk + num_frames * size.tokens_per_frame * size.hidden_size * bytes_per_value


def runtime_bytes(
    size: ModelSize, num_frames: int, bytes_per_value: int = 2, chunk_frames: int = VISION_CHUNK_FRAMES
) -> int:
    """Memory beyond the weights to answer about `num_frames` frames, the vision tower `chunk_frames` at a
    time: the larger of the vision tower's and the prefill's peaks (one runs after the other), and a
    margin."""
    vision = vision_chunk_bytes(size, num_frames, bytes_per_value, chunk_frames)
    return max(vision, prefill_bytes(size, num_frames, bytes_per_value)) + RUNTIME_MARGIN_BYTES


def required_bytes(
    size: ModelSize, precision: str, num_frames: int, chunk_frames: int = VISION_CHUNK_FRAMES
) -> int:
    """Weights plus runtime memory for a precision, frame count and vision-tower chunk."""
    per_value = 4 if precision == "fp32" else 2
    return weight_bytes(size, precision) + runtime_bytes(size, num_frames, per_value, chunk_frames)


def choose_gpu_precision(
    free_bytes: int, size: ModelSize, num_frames: int = 512, chunk_frames: int = VISION_CHUNK_FRAMES
) -> str | None:
    """The best GPU precision ("bf16" > "int8" > "nf4") whose weights and runtime fit in `free_bytes`.

    None if even NF4 does not fit. With the 8B and 512 frames: bf16 needs ≈ 18.9 GiB, int8 ≈ 12.4 GiB and
    NF4 ≈ 9.3 GiB, so a 24 GB card runs bf16, a 16 GB card int8 and a 12 GB card NF4.
    """
    for precision in GPU_PREFERENCE:
        if required_bytes(size, precision, num_frames, chunk_frames) <= free_bytes:
            return precision
    return None
