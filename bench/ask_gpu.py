"""InternVideo2.5-8B on a GPU: peak memory, time to first token and decoding speed, against the roofline.

    python bench/ask_gpu.py                        # 8B, 128 and 512 frames, NF4 and bf16 LLM
    python bench/ask_gpu.py --precisions bf16 --frames 128 --json
    python bench/ask_gpu.py --tiny                 # the same code path on the CPU, scaled down (a check)

No download: the full 8B architecture is built from its documented config (shared/docs/internvideo2_5.md
section A: InternViT-300M 1024/24 layers, InternLM2.5-7B 4096/32 layers, 8 KV heads, vocabulary 92,553)
on the meta device and filled with random weights generated on the device, through the loader's own
`materialize` (so NF4/int8 quantization happens exactly as when loading the checkpoint). Random weights
cost the same time and memory as trained ones; the text they produce is noise.

The tokenizer is the tiny fixture's (409 ids; the real one is not available offline): prompts tokenize
into somewhat more text tokens than with the real vocabulary, which the table shows as `prompt`, and
generated ids the fixture does not know (most of the 92,553) decode as <unk>.

Per precision and frame count, after a warm-up: random uint8 448x448 frames in host memory (as the
decoder delivers them) -> vision tower in chunks of 32 -> prefill -> greedy decoding. Reported: vision
encoding time, time to first token (encoding + prefill + first token), decode tokens/s, the first token of
a follow-up question (KV reuse), peak memory allocated by torch, and the roofline of the same work on
this GPU (formulas of shared/docs/sam2_and_performance.md 2c; compute at peak dense bf16 rate,
decoding at full memory bandwidth).
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from engine.assistant import encode_images  # noqa: E402
from engine.models.internvideo import InternLM2Tokenizer, InternVideo  # noqa: E402
from engine.models.internvideo.config import InternVideoConfig, parse_config  # noqa: E402
from engine.models.internvideo.load import choose_attention, compute_dtype, materialize, model_size  # noqa: E402
from engine.models.internvideo.model import InternVideoModel  # noqa: E402
from engine.models.internvideo.precision import context_tokens, llm_linear_bytes_per_param  # noqa: E402

FIXTURE_TOKENIZER = REPO.parent / "shared/fixtures/internvideo2_5_tiny/checkpoint"
QUESTION = "Describe this video in detail."
FOLLOW_UP = "What happens at the end?"
CHUNK_FRAMES = 32

# Dense bf16 tensor TFLOPS and memory TB/s by device name (sam2_and_performance.md 2c; H200 from NVIDIA's
# datasheet: H100's compute with 4.8 TB/s). Matched in order, first hit wins.
GPU_SPECS = (
    ("H200", 989.4, 4.8),
    ("H100 PCIe", 756.0, 2.0),
    ("H100", 989.4, 3.35),
    ("A100", 312.0, 2.039),
    ("4090", 165.2, 1.008),
)


def raw_config(tiny: bool = False) -> dict[str, Any]:
    """The published config.json's content as documented (8B), or the same shape scaled down for the CPU."""
    vision = (64, 2, 2, 128) if tiny else (1024, 24, 16, 4096)  # hidden, layers, heads, intermediate
    llm = (128, 2, 4, 2, 256, 512) if tiny else (4096, 32, 32, 8, 14336, 92553)  # + kv heads, ffn, vocab
    return {
        "architectures": ["InternVLChatModel"],
        "model_type": "internvl_chat",
        "template": "internvl2_5",
        "downsample_ratio": 0.5,
        "ps_version": "v2",
        "select_layer": -1,
        "force_image_size": 448,
        "vision_config": {
            "architectures": ["InternVisionModel"],
            "hidden_size": vision[0],
            "num_hidden_layers": vision[1],
            "num_attention_heads": vision[2],
            "intermediate_size": vision[3],
            "image_size": 448,
            "patch_size": 14,
            "qkv_bias": True,
            "qk_normalization": False,
            "norm_type": "layer_norm",
            "layer_norm_eps": 1e-6,
            "hidden_act": "gelu",
        },
        "llm_config": {
            "architectures": ["InternLM2ForCausalLM"],
            "hidden_size": llm[0],
            "num_hidden_layers": llm[1],
            "num_attention_heads": llm[2],
            "num_key_value_heads": llm[3],
            "intermediate_size": llm[4],
            "vocab_size": llm[5],
            "hidden_act": "silu",
            "rms_norm_eps": 1e-5,
            "rope_theta": 1000000,
            "rope_scaling": {"type": "dynamic", "factor": 2.0},
            "max_position_embeddings": 32768,
            "bias": False,
        },
    }


def random_tensors(
    config: InternVideoConfig, device: torch.device, seed: int
) -> Iterator[tuple[str, torch.Tensor]]:
    """(parameter name, random tensor) for every parameter, made on `device` one at a time.

    Norm weights 1, biases 0, layer scales 0.1, everything else N(0, 0.02): activations stay in range
    through 32 layers in bf16, as with trained weights.
    """
    from accelerate import init_empty_weights

    with init_empty_weights(include_buffers=False):
        shapes = [(n, p.shape) for n, p in InternVideoModel(config).named_parameters()]
    generator = torch.Generator(device=device).manual_seed(seed)
    for name, shape in shapes:
        leaf = name.rsplit(".", 2)[-2] if name.count(".") else name
        if name.endswith(".bias"):
            yield name, torch.zeros(shape, device=device)
        elif "norm" in leaf:
            yield name, torch.ones(shape, device=device)
        elif "lambda_" in name:
            yield name, torch.full(shape, 0.1, device=device)
        else:
            yield name, torch.empty(shape, device=device).normal_(0.0, 0.02, generator=generator)


class FixtureTokenizer(InternLM2Tokenizer):
    """The fixture's tokenizer in front of a larger embedding: ids it does not have decode as <unk>."""

    def id_to_token(self, idx: int) -> str:
        return super().id_to_token(idx if idx < self.vocab_size else self.token_to_id("<unk>"))


def build_random_model(
    raw: dict[str, Any], device: torch.device, precision: str, tokenizer: Path
) -> InternVideo:
    config = parse_config(raw)
    attn = choose_attention(device, compute_dtype(precision, device))
    model = materialize(
        config, random_tensors(config, device, seed=0), device, precision, attn, "random weights"
    )
    return InternVideo.assemble(
        model, FixtureTokenizer.from_folder(tokenizer), config, device, precision, "random-weights", tokenizer
    )


def gpu_spec(device: torch.device) -> tuple[str, float, float] | None:
    """(name, dense bf16 TFLOPS, TB/s) of the device, or None when unknown."""
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next(((name, tf, bw) for key, tf, bw in GPU_SPECS if key in name), None)


def roofline(
    config: InternVideoConfig, frames: int, prompt_tokens: int, precision: str, tflops: float, tbps: float
) -> dict[str, float]:
    """Ideal times of the work this bench measures: vision tower + prefill at peak compute, decoding at full
    bandwidth (weights of the decoder linears and lm_head, plus the KV cache, read once per token)."""
    v, size = config.vision, model_size(config)
    tokens = (config.spec.image_size // config.spec.patch_size) ** 2 + 1  # 1025 with the CLS token
    vit_linear = v.num_hidden_layers * (4 * v.hidden_size**2 + 2 * v.hidden_size * v.intermediate_size)
    vit_flops = frames * (2 * vit_linear * tokens + 4 * tokens**2 * v.hidden_size * v.num_hidden_layers)
    n, d, layers = prompt_tokens, size.hidden_size, size.num_layers
    prefill_flops = 2 * size.llm_linear_params * n + 2 * n**2 * d * layers  # logits for the last token only
    lm_head_bytes = config.text.vocab_size * d * (4 if precision == "fp32" else 2)
    weights = size.llm_linear_params * llm_linear_bytes_per_param(precision) + lm_head_bytes
    kv = n * size.kv_bytes_per_token(4 if precision == "fp32" else 2)
    return {
        "vision_tflop": vit_flops / 1e12,
        "prefill_tflop": prefill_flops / 1e12,
        "ttft_ideal_s": (vit_flops + prefill_flops) / (tflops * 1e12),
        "decode_bound_tok_s": tbps * 1e12 / (weights + kv),
    }


def sync(device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()


def run_case(model: InternVideo, frames: int, max_new_tokens: int, seed: int = 0) -> dict[str, Any]:
    """Encode `frames` random frames, ask, follow up; timings and peak memory of this case alone."""
    dev = model.device
    images = np.random.default_rng(seed).integers(0, 256, (frames, 448, 448, 3), dtype=np.uint8)
    if dev.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(dev)
    start = sync(dev)
    visual = torch.cat(
        [encode_images(model, images[i : i + CHUNK_FRAMES]) for i in range(0, frames, CHUNK_FRAMES)]
    )
    encoded = sync(dev)
    chat = model.start_chat(visual)
    first = None
    for _ in chat.stream(QUESTION, max_new_tokens=max_new_tokens):
        first = first or time.perf_counter()
    end = sync(dev)
    answer = chat.last
    follow_start = time.perf_counter()
    next(chat.stream(FOLLOW_UP, max_new_tokens=2), None)  # stops after the first token
    follow_first = time.perf_counter() - follow_start
    first = first or end
    return {
        "frames": frames,
        "visual_tokens": list(visual.shape),
        "encode_s": encoded - start,
        "ttft_s": first - start,
        "prefill_s": first - encoded,
        "generated": len(answer.token_ids),
        "finish_reason": answer.finish_reason,
        "decode_tok_s": (len(answer.token_ids) - 1) / (end - first) if end > first else None,
        "prompt_tokens": answer.prompt_tokens,
        "follow_up_first_token_s": follow_first,
        "follow_up_prefilled": chat.last.prompt_tokens - chat.last.reused_tokens,
        "peak_gib": torch.cuda.max_memory_allocated(dev) / 2**30 if dev.type == "cuda" else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--tiny", action="store_true", help="scaled-down config on the CPU (checks the code path)"
    )
    parser.add_argument("--precisions", nargs="+", default=None, help="default: nf4 bf16")
    parser.add_argument("--frames", nargs="+", type=int, default=None, help="default: 128 512 (tiny: 8 16)")
    parser.add_argument("--max-new-tokens", type=int, default=None, help="default: 128 (tiny: 16)")
    parser.add_argument(
        "--tokenizer", type=Path, default=FIXTURE_TOKENIZER, help="folder with tokenizer files"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    device = torch.device("cpu" if args.tiny else "cuda")
    if device.type == "cuda" and not torch.cuda.is_available():
        print("no CUDA device: run on a GPU machine, or use --tiny to check the code path on the CPU")
        return 2
    precisions = args.precisions or ["nf4", "bf16"]
    frame_counts = args.frames or ([8, 16] if args.tiny else [128, 512])
    max_new = args.max_new_tokens or (16 if args.tiny else 128)
    raw = raw_config(args.tiny)
    spec = gpu_spec(device)
    if device.type == "cuda" and spec is None and not args.json:
        print(f"{torch.cuda.get_device_name(device)} is not in GPU_SPECS: no roofline comparison")
    rows = []
    for precision in precisions:
        model = build_random_model(raw, device, precision, args.tokenizer)
        quantized = sum(type(m).__name__ in ("Linear4bit", "Linear8bitLt") for m in model.model.modules())
        run_case(model, 4, 2)  # warm-up: kernels, cuBLAS handles, allocator
        for frames in frame_counts:
            row = {"precision": precision, "quantized_linears": quantized, **run_case(model, frames, max_new)}
            if spec is not None:
                row["roofline"] = roofline(
                    model.config, frames, row["prompt_tokens"], precision, spec[1], spec[2]
                )
            rows.append(row)
            if not args.json:
                print(format_row(row), flush=True)
        del model
        gc.collect()  # free this precision's weights before building the next
    report = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "roofline_spec": None if spec is None else {"tflops_bf16": spec[1], "tb_per_s": spec[2]},
        "config": "tiny" if args.tiny else "8B",
        "expected_prompt_tokens": {f: context_tokens(model_size(parse_config(raw)), f) for f in frame_counts},
        "rows": rows,
    }
    if args.json:
        print(json.dumps(report))
    return 0


def format_row(row: dict[str, Any]) -> str:
    peak = "-" if row["peak_gib"] is None else f"{row['peak_gib']:.1f} GiB"
    rate = "-" if row["decode_tok_s"] is None else f"{row['decode_tok_s']:.1f}"
    text = (
        f"{row['precision']:>5} {row['frames']:4d} frames  peak {peak:>9}  encode {row['encode_s']:6.2f} s  "
        f"TTFT {row['ttft_s']:6.2f} s  decode {rate:>6} tok/s  follow-up first token "
        f"{row['follow_up_first_token_s']:.3f} s ({row['follow_up_prefilled']} tokens prefilled)"
    )
    if "roofline" in row:
        r = row["roofline"]
        ideal, bound = r["ttft_ideal_s"], r["decode_bound_tok_s"]
        text += f"\n{'':17}roofline: TTFT {ideal:.2f} s ideal, decode ≤ {bound:.0f} tok/s"
    return text


if __name__ == "__main__":
    sys.exit(main())
