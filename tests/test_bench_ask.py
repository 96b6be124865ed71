"""The parts of bench/ask_gpu.py that a CPU can check: the 8B config it builds is the documented
architecture, its roofline reproduces the documented numbers, and its random-weight model (NF4 and bf16)
runs the measured code path end to end."""

from __future__ import annotations

import importlib.util
import sys

import pytest
import torch
from accelerate import init_empty_weights

from engine.models.internvideo.config import parse_config
from engine.models.internvideo.load import model_size
from engine.models.internvideo.model import InternVideoModel
from engine.models.internvideo.precision import GIB, context_tokens, weight_bytes
from tests.conftest import REPO_ROOT
from tests.fixtures import internvideo_fixture


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("ask_gpu", REPO_ROOT / "bench" / "ask_gpu.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["ask_gpu"] = module
    spec.loader.exec_module(module)
    return module


def test_the_8b_config_is_the_documented_architecture(bench) -> None:
    config = parse_config(bench.raw_config())
    size = model_size(config)
    # shared/docs/sam2_and_performance.md 2b: ViT ≈ 0.304 B, LLM 6.98 B non-embedding + 2 × 0.379 B
    assert size.vision_params == pytest.approx(0.304e9, rel=0.01)
    assert size.llm_linear_params == pytest.approx(6.98e9, rel=0.01)
    assert size.llm_other_params == pytest.approx(2 * 0.379e9, rel=0.01)
    assert (size.num_layers, size.num_kv_heads, size.head_dim) == (32, 8, 128)
    assert size.kv_bytes_per_token(2) == 128 * 1024  # 128 KiB per token in bf16
    assert weight_bytes(size, "bf16") / GIB == pytest.approx(15.0, abs=0.15)
    assert weight_bytes(size, "nf4") / GIB == pytest.approx(5.4, abs=0.1)
    with init_empty_weights(include_buffers=False):
        module = InternVideoModel(config)
    counted = sum(p.numel() for p in module.parameters())
    assert (
        counted == size.vision_params + size.projector_params + size.llm_linear_params + size.llm_other_params
    )


def test_the_roofline_reproduces_the_documented_numbers(bench) -> None:
    config = parse_config(bench.raw_config())
    n = context_tokens(model_size(config), 128)
    _name, tflops, tbps = next(s for s in bench.GPU_SPECS if s[0] == "H100")
    bf16 = bench.roofline(config, 128, n, "bf16", tflops, tbps)
    nf4 = bench.roofline(config, 128, n, "nf4", tflops, tbps)
    # sam2_and_performance.md 2c, H100 SXM: ViT 92.6 TFLOP at 128 frames; decoding 228 -> 212 tok/s (bf16)
    # and 769 -> 615 tok/s (NF4) from an empty context to 8.3k tokens
    assert bf16["vision_tflop"] == pytest.approx(92.6, rel=0.01)
    assert 212 < bf16["decode_bound_tok_s"] < 228 and 615 < nf4["decode_bound_tok_s"] < 769
    # prefill is 2 · 6.98 B · N plus causal attention; the doc's 47.2 also counts lm_head on every position
    assert bf16["prefill_tflop"] == pytest.approx(2 * 6.98e9 * n / 1e12, rel=0.08)
    assert bf16["ttft_ideal_s"] == pytest.approx(0.14, abs=0.01)


def test_unknown_ids_decode_as_unk(bench) -> None:
    tokenizer = bench.FixtureTokenizer.from_folder(internvideo_fixture() / "checkpoint")
    unk = tokenizer.token_to_id("<unk>")
    assert tokenizer.vocab_size == 409
    with pytest.raises(IndexError):
        bench.InternLM2Tokenizer.from_folder(internvideo_fixture() / "checkpoint").decode([300, 92000])
    assert tokenizer.decode([300, 92000, 301]) == tokenizer.decode([300, unk, 301], skip_special_tokens=False)


@pytest.mark.parametrize("precision", ["nf4", "bf16"])
def test_the_random_model_runs_the_measured_path(bench, precision: str) -> None:
    raw = bench.raw_config(tiny=True)
    model = bench.build_random_model(
        raw, torch.device("cpu"), precision, internvideo_fixture() / "checkpoint"
    )
    layers = raw["llm_config"]["num_hidden_layers"]
    quantized = [m for m in model.model.modules() if type(m).__name__ == "Linear4bit"]
    assert len(quantized) == (7 * layers if precision == "nf4" else 0)
    vision_dtype = model.model.vision_tower.embeddings.patch_embeddings.projection.weight.dtype
    assert vision_dtype == (torch.float32 if precision == "nf4" else torch.bfloat16)  # NF4 on CPU: fp32 rest
    row = bench.run_case(model, 8, 6)
    assert row["visual_tokens"] == [8, 16, raw["llm_config"]["hidden_size"]]
    assert row["generated"] == 6 or row["finish_reason"] == "stop"
    assert row["ttft_s"] >= row["encode_s"] > 0 and row["prefill_s"] > 0
    assert 0 < row["follow_up_prefilled"] < row["prompt_tokens"] / 4  # the follow-up reused the video's KV
    assert row["peak_gib"] is None  # memory is reported for CUDA only
