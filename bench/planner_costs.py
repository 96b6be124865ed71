"""The planner's memory costs per frame, measured at the real dimensions on the CPU (no GPU needed).

    python bench/planner_costs.py                 # LLM prefill, vision chunk, SAM2 tiny + large
    python bench/planner_costs.py --json

The pieces are built with our own model code at the real sizes, with random weights, in bf16 (the GPU
dtype; SAM2 in float32, as the tracker loads it): two InternLM2.5-7B decoder layers (hidden 4096, 32 heads,
8 KV heads, intermediate 14336) with the real embedding and lm_head (vocabulary 92,553), two InternViT-300M
layers (1024 / 4096 at 448 px) with the projector and HiCo (`bench/ask_gpu.py`'s 8B config, fewer layers),
and transformers' `Sam2VideoModel` at the SAM 2.1 tiny and large sizes (the dims of transformers'
`convert_sam2_to_hf.py`).

`LiveTensors`, a TorchDispatchMode, counts every tensor storage an op allocates (views and in-place results
share their input's storage and are not counted again) until its last tensor is freed, and keeps the peak.
Measured, for several sizes, then fitted as bytes = fixed + per_frame x N:
- prefill: `embed` + `language_forward(logits_to_keep=1)` into a `DynamicCache`, exactly as
  `ChatSession` prefills, for a prompt of N frames x (16 visual + 7 text) + 256 tokens (the planner's
  `context_tokens`), the visual tokens alive throughout; with 1 and with 2 decoder layers: what the second
  layer adds is kept (its KV cache), the rest of a layer's activations is freed before the next, so the
  32-layer peak is the 1-layer peak + 31 x that difference;
- vision chunk: `encode_frames` of one chunk of N frames (float32 pixels in, visual tokens out), with 1
  and 2 InternViT layers (a layer's activations are freed before the next: the difference should be ~0);
- SAM2: the image encoder on one 1024 px frame, and one object's pruned tracking state after more steps
  than the memory window (clicked on the first frame, each step on the same image features).
What a CPU measurement cannot see is in docs/benchmarks.md ("Planner costs").
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import weakref
from pathlib import Path
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from ask_gpu import random_tensors, raw_config  # noqa: E402  (bench/ is this script's folder)

from engine.models.internvideo.config import parse_config  # noqa: E402
from engine.models.internvideo.load import materialize  # noqa: E402
from engine.models.internvideo.precision import (  # noqa: E402
    VISION_CHUNK_FRAMES,
    context_tokens,
    kv_bytes,
    prefill_bytes,
    vision_chunk_bytes,
)
from engine.planner import EIGHT_B, SAM2_FRAME_BYTES, SAM2_OBJECT_BYTES  # noqa: E402

MIB = 2**20
LLM_LAYERS = 32
PREFILL_FRAMES = (16, 32, 64, 128)
CHUNK_FRAMES = (4, 8, 16, 32)
SAM2_STEPS = 40  # more than the 32 frames a pruned state holds (docs/benchmarks.md, "Tracking memory")


class LiveTensors(TorchDispatchMode):
    """Bytes of the tensor storages allocated under this mode and still alive, and their peak."""

    def __init__(self) -> None:
        super().__init__()
        self.live = 0
        self.peak = 0
        self._storages: dict[int, list[int]] = {}  # data_ptr -> [bytes, live tensors on it]

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        inputs = {t.untyped_storage().data_ptr() for t in tree_leaves((args, kwargs)) if _is_tensor(t)}
        for tensor in tree_leaves(out):
            if _is_tensor(tensor):
                self._hold(tensor, inputs)
        self.peak = max(self.peak, self.live)
        return out

    def reset_peak(self) -> None:
        self.peak = self.live

    def _hold(self, tensor: torch.Tensor, inputs: set[int]) -> None:
        storage = tensor.untyped_storage()
        key, size = storage.data_ptr(), storage.nbytes()
        if size == 0:
            return
        if key in self._storages:
            self._storages[key][1] += 1
        elif key in inputs:
            return  # a view of a tensor from before the mode (a weight, an input): not allocated here
        else:
            self._storages[key] = [size, 1]
            self.live += size
        weakref.finalize(tensor, self._release, key)

    def _release(self, key: int) -> None:
        entry = self._storages[key]
        entry[1] -= 1
        if entry[1] == 0:
            self.live -= entry[0]
            del self._storages[key]


def _is_tensor(value: object) -> bool:
    return isinstance(value, torch.Tensor) and value.device.type != "meta"


def fit(xs: list[int], ys: list[int]) -> tuple[float, float, float]:
    """Least squares ys = fixed + slope * xs -> (fixed, slope, the largest residual relative to ys)."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)
    fixed = my - slope * mx
    worst = max(abs(y - fixed - slope * x) / y for x, y in zip(xs, ys, strict=True))
    return fixed, slope, worst


# ----- InternVideo2.5 ---------------------------------------------------------------------------------------
def build_internvideo(layers: int = 2):
    """Our InternVideoModel at the 8B's dims with `layers` LLM and vision layers, random bf16 weights."""
    raw = raw_config()
    raw["llm_config"]["num_hidden_layers"] = layers
    raw["vision_config"]["num_hidden_layers"] = layers
    config = parse_config(raw)
    cpu = torch.device("cpu")
    model = materialize(config, random_tensors(config, cpu, seed=0), cpu, "bf16", "sdpa", "random weights")
    model.img_context_token_id = config.text.vocab_size - 1
    return model


def prompt_ids(frames: int, vocab: int, context_id: int) -> torch.Tensor:
    """[1, L] ids of the planner's prompt shape: 256 text tokens, then per frame 3 text, 16 visual, 4 text."""
    g = torch.Generator().manual_seed(frames)
    text = lambda n: torch.randint(0, vocab - 1, (n,), generator=g)  # noqa: E731
    parts = [text(256)]
    for _ in range(frames):
        parts += [text(3), torch.full((EIGHT_B.tokens_per_frame,), context_id), text(4)]
    ids = torch.cat(parts)[None]
    assert ids.shape[1] == context_tokens(EIGHT_B, frames)
    return ids


def measure_prefill(model, frames: int, layers: int) -> dict[str, int]:
    """Peak and kept bytes of one prefill of `frames` frames through the first `layers` decoder layers."""
    from transformers.cache_utils import DynamicCache

    text = model.language_model.config
    all_layers, text.num_hidden_layers = text.num_hidden_layers, layers
    ids = prompt_ids(frames, text.vocab_size, model.img_context_token_id)
    try:
        with torch.no_grad(), LiveTensors() as live:
            visual = torch.randn(frames, EIGHT_B.tokens_per_frame, text.hidden_size, dtype=torch.bfloat16)
            embeds = model.embed(ids, visual)[:, 0:]
            cache = DynamicCache(config=text)
            logits, _ = model.language_forward(embeds, cache, logits_to_keep=1)
            del embeds
            kept = live.live
            assert logits.shape == (1, 1, text.vocab_size)
    finally:
        text.num_hidden_layers = all_layers
    return {"peak": live.peak, "kept": kept}


def measure_vision_chunk(model, frames: int, layers: int) -> dict[str, int]:
    """Peak and kept bytes of encoding one chunk of `frames` frames with the first `layers` ViT layers."""
    encoder = model.vision_tower.encoder
    all_layers = encoder.layer
    encoder.layer = torch.nn.ModuleList(all_layers[:layers])
    try:
        with torch.no_grad(), LiveTensors() as live:
            pixels = torch.randn(frames, 3, 448, 448)  # what `preprocess` hands the tower: float32
            tokens = model.encode_frames(pixels, chunk_frames=frames)
            del pixels
            kept = live.live
            assert tokens.shape[:2] == (frames, EIGHT_B.tokens_per_frame)
    finally:
        encoder.layer = all_layers
    return {"peak": live.peak, "kept": kept}


def internvideo_costs(prefill_frames=PREFILL_FRAMES, chunk_frames=CHUNK_FRAMES) -> dict[str, Any]:
    started = time.perf_counter()
    model = build_internvideo(2)
    built = time.perf_counter() - started
    prefill = {n: {k: measure_prefill(model, n, k) for k in (1, 2)} for n in prefill_frames}
    chunk = {n: {k: measure_vision_chunk(model, n, k) for k in (1, 2)} for n in chunk_frames}
    # The second layer's peak is the steady state (the first layer's input is the embeddings, every later
    # one's is the previous layer's output, alive beside them); each further layer adds its KV cache only.
    kv_layer = {n: m[2]["kept"] - m[1]["kept"] for n, m in prefill.items()}
    peak32 = {n: m[2]["peak"] + (LLM_LAYERS - 2) * kv_layer[n] for n, m in prefill.items()}
    fixed, per_frame, worst = fit(list(peak32), list(peak32.values()))
    _, kv_per_frame, _ = fit(list(kv_layer), list(kv_layer.values()))
    tokens_per_frame = context_tokens(EIGHT_B, 1) - context_tokens(EIGHT_B, 0)
    activation_per_token = (per_frame - LLM_LAYERS * kv_per_frame) / tokens_per_frame
    vision = {n: m[2]["peak"] for n, m in chunk.items()}  # the same steady state: layers 2..24 alike
    v_fixed, v_per_frame, v_worst = fit(list(vision), list(vision.values()))
    vision_widths = EIGHT_B.vision_hidden + EIGHT_B.vision_intermediate
    return {
        "build_s": round(built, 1),
        "prefill": {str(n): m for n, m in prefill.items()},
        "prefill_peak_32_layers": {str(n): v for n, v in peak32.items()},
        "prefill_fixed": fixed,
        "prefill_per_frame": per_frame,
        "prefill_fit_worst": worst,
        "kv_per_layer_per_frame": kv_per_frame,
        "activation_per_token": activation_per_token,
        "prefill_activation_widths": activation_per_token
        / (2 * (EIGHT_B.hidden_size + EIGHT_B.intermediate_size)),
        "vision_chunk": {str(n): m for n, m in chunk.items()},
        "vision_fixed": v_fixed,
        "vision_per_frame": v_per_frame,
        "vision_fit_worst": v_worst,
        "vision_activation_widths": v_per_frame / (2 * EIGHT_B.vision_tokens * vision_widths),
    }


# ----- SAM2 -------------------------------------------------------------------------------------------------
# The image encoder of each SAM 2.1 size, as transformers' convert_sam2_to_hf.py builds it: first stage's
# width and heads (both double every stage), blocks per stage, global attention blocks, window position
# background, windows per stage. The rest (prompt encoder, mask decoder, memory) is the same in all four.
SAM2_HIERA: dict[str, tuple[int, int, list[int], list[int], list[int], list[int]]] = {
    "tiny": (96, 1, [1, 2, 7, 2], [5, 7, 9], [7, 7], [8, 4, 14, 7]),
    "small": (96, 1, [1, 2, 11, 2], [7, 10, 13], [7, 7], [8, 4, 14, 7]),
    "base-plus": (112, 2, [2, 3, 16, 3], [12, 16, 20], [14, 14], [8, 4, 14, 7]),
    "large": (144, 2, [2, 6, 36, 4], [23, 33, 43], [7, 7], [8, 4, 16, 8]),
}


def sam2_config(size: str):
    """The SAM 2.1 video model of one size (`SAM2_HIERA`)."""
    from transformers import Sam2VideoConfig

    width, heads, blocks, global_blocks, background, windows = SAM2_HIERA[size]
    backbone = {
        "model_type": "sam2_hiera_det_model",
        "hidden_size": width,
        "num_attention_heads": heads,
        "embed_dim_per_stage": [width << k for k in range(4)],
        "num_attention_heads_per_stage": [heads << k for k in range(4)],
        "blocks_per_stage": blocks,
        "global_attention_blocks": global_blocks,
        "window_positional_embedding_background_size": background,
        "window_size_per_stage": windows,
    }
    channels = [width << k for k in (3, 2, 1, 0)]
    return Sam2VideoConfig(vision_config={"backbone_config": backbone, "backbone_channel_list": channels})


def state_bytes(memory) -> int:
    """Bytes of every tensor one object's session holds."""
    total = 0
    for kind in memory.outputs.values():
        for entry in kind.values():
            total += sum(v.numel() * v.element_size() for v in entry.values() if isinstance(v, torch.Tensor))
    return total


def sam2_costs(size: str, steps: int) -> dict[str, Any]:
    from transformers import Sam2VideoModel

    from engine.tracking.memory import ObjectMemory

    torch.manual_seed(0)
    network = Sam2VideoModel(sam2_config(size)).eval()
    params = sum(p.numel() for p in network.parameters())
    cpu = torch.device("cpu")
    with torch.inference_mode(), LiveTensors() as live:
        pixels = torch.randn(1, 3, 1024, 1024)
        image = network.get_image_features(pixels, return_dict=True)
        features = {"vision_feats": image.fpn_hidden_states, "vision_pos_embeds": image.fpn_position_encoding}
        del image, pixels
        encoder_peak, features_kept = live.peak, live.live
        if not steps:
            return {"params": params, "encoder_peak": encoder_peak, "features": features_kept}
        config = network.config
        window = max(config.num_maskmem - 1, config.max_object_pointers_in_encoder - 1, 1)
        memory = ObjectMemory(1, steps + 1, (1024, 1024), cpu, torch.float32, window)
        memory.set_clicks(0, torch.tensor([[[[512.0, 512.0]]]]), torch.tensor([[[1]]]), correction=False)
        step = 0  # the most one step allocates beyond what was alive before it
        for frame in range(steps):
            before = live.live
            live.reset_peak()
            memory.step(network, frame, features, reverse=False)
            step = max(step, live.peak - before)
        state = state_bytes(memory)
        held = len(memory.held_frames)
    return {
        "params": params,
        "encoder_peak": encoder_peak,
        "features": features_kept,
        "step": step,
        "object_state": state,
        "frames_held": held,
    }


def sam2_frame_bytes(sam: dict[str, dict[str, Any]]) -> dict[str, int]:
    """Per size, the peak of tracking one frame beyond the weights and the objects' states: the image
    encoder, or its features kept while a step runs (the step's memory attention and mask decoder are the
    same in every size: measured on tiny)."""
    step = sam["tiny"]["step"]
    return {f"sam2.1-{size}": max(s["encoder_peak"], s["features"] + step) for size, s in sam.items()}


# ----- the report -------------------------------------------------------------------------------------------
def planner_rows(llm: dict[str, Any], sam: dict[str, dict[str, Any]]) -> list[tuple[str, float, float]]:
    """(what, measured MiB, the planner's MiB) for the costs the planner uses."""
    frames = 128
    measured_chunk = llm["vision_fixed"] + llm["vision_per_frame"] * VISION_CHUNK_FRAMES
    planned_chunk = vision_chunk_bytes(EIGHT_B, VISION_CHUNK_FRAMES) - vision_chunk_bytes(EIGHT_B, 0)
    planned_chunk -= VISION_CHUNK_FRAMES * EIGHT_B.tokens_per_frame * EIGHT_B.hidden_size * 2
    fixed, per_frame, kv = llm["prefill_fixed"], llm["prefill_per_frame"], llm["kv_per_layer_per_frame"]
    rows = [
        ("prefill fixed (32 layers)", fixed, prefill_bytes(EIGHT_B, 0)),
        ("prefill per frame (32 layers)", per_frame, prefill_bytes(EIGHT_B, 1) - prefill_bytes(EIGHT_B, 0)),
        ("  of which KV cache", LLM_LAYERS * kv, kv_bytes(EIGHT_B, 1) - kv_bytes(EIGHT_B, 0)),
        (f"prefill of {frames} frames", fixed + frames * per_frame, prefill_bytes(EIGHT_B, frames)),
        (f"vision pass of {VISION_CHUNK_FRAMES} frames", measured_chunk, planned_chunk),
    ]
    for name, measured in sam2_frame_bytes(sam).items():
        rows.append((f"{name} one frame", measured, SAM2_FRAME_BYTES[name]))
    rows.append(("SAM2 object state", sam["tiny"]["object_state"], SAM2_OBJECT_BYTES))
    return [(what, measured / MIB, planned / MIB) for what, measured, planned in rows]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the measurements as JSON")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    llm = internvideo_costs()
    sam = {size: sam2_costs(size, SAM2_STEPS if size == "tiny" else 0) for size in SAM2_HIERA}
    took = f"torch {torch.__version__}, {args.threads} threads, {time.perf_counter() - started:.0f} s"
    if args.json:
        print(json.dumps({"run": took, "internvideo": llm, "sam2": sam}, indent=2))
    else:
        print(took)
        report(llm, sam)
    return 0


def report(llm: dict[str, Any], sam: dict[str, dict[str, Any]]) -> None:
    """The measurements, then the planner's costs beside them."""
    for n, m in llm["prefill"].items():
        m = {int(k): v for k, v in m.items()}
        print(
            f"prefill {n:>4} frames ({context_tokens(EIGHT_B, int(n))} tokens): peak 1 layer "
            f"{m[1]['peak'] / MIB:7.1f} MiB, 2 layers {m[2]['peak'] / MIB:7.1f} MiB, 32 layers "
            f"{llm['prefill_peak_32_layers'][str(n)] / MIB:7.1f} MiB"
        )
    for n, m in llm["vision_chunk"].items():
        m = {int(k): v for k, v in m.items()}
        peaks = f"1 layer {m[1]['peak'] / MIB:7.1f} MiB, 2 layers {m[2]['peak'] / MIB:7.1f} MiB"
        print(f"vision pass {n:>3} frames: peak {peaks}")
    print(
        f"fits: prefill worst residual {llm['prefill_fit_worst']:.2%}, "
        f"{llm['activation_per_token'] / 1024:.1f} KiB a token beyond the KV cache "
        f"({llm['prefill_activation_widths']:.3f} widths); "
        f"vision worst residual {llm['vision_fit_worst']:.2%}, {llm['vision_activation_widths']:.3f} widths"
    )
    for size, s in sam.items():
        extra = (
            f", a step {s['step'] / MIB:.1f} MiB, object state {s['object_state'] / MIB:.1f} MiB"
            f" ({s['frames_held']} frames held)"
            if "step" in s
            else ""
        )
        print(
            f"SAM 2.1 {size} ({s['params'] / 1e6:.1f} M): encoder peak {s['encoder_peak'] / MIB:.1f} MiB, "
            f"features kept {s['features'] / MIB:.1f} MiB{extra}"
        )
    print(f"{'':32} {'measured':>12} {'planner':>12} {'ratio':>6}")
    for what, measured, planned in planner_rows(llm, sam):
        print(f"{what:32} {measured:8.1f} MiB {planned:8.1f} MiB {measured / planned:6.2f}")


if __name__ == "__main__":
    sys.exit(main())
