"""Unit checks of what the parity fixture cannot see at 1e-4: norms' eps, GELU flavour, the wqkv layout,
HiCo on inputs with a known answer, pixel-shuffle order, frame-count rules, prompts, precision rule."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from engine.errors import ModelError
from engine.jobs import Cancelled, Job
from engine.models.internvideo import hico as hico_module
from engine.models.internvideo import model as model_module
from engine.models.internvideo.config import parse_config
from engine.models.internvideo.convert import LlmHeads, split_grouped_wqkv, split_thirds
from engine.models.internvideo.hico import hico_compress, merge_schedule, merge_tokens, pixel_shuffle_v2
from engine.models.internvideo.load import choose_attention
from engine.models.internvideo.model import InternVideoModel
from engine.models.internvideo.pipeline import IMAGENET_MEAN, IMAGENET_STD, preprocess_frames
from engine.models.internvideo.precision import (
    GIB,
    choose_gpu_precision,
    required_bytes,
    weight_bytes,
)
from engine.models.internvideo.prompt import build_prompt, get_template, render_conversation
from engine.planner import EIGHT_B as PLANNED_8B
from tests.test_internvideo_load import tiny_raw_config

RAW: dict[str, Any] = tiny_raw_config()
RAW["vision_config"]["num_hidden_layers"] = 2  # a layer between others, for the per-layer checks


@pytest.fixture(scope="module")
def tiny() -> InternVideoModel:
    torch.manual_seed(0)
    return InternVideoModel(parse_config(copy.deepcopy(RAW))).eval()


def gelu_erf(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))


def gelu_tanh(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


# ----- norms, activations, attention settings -------------------------------------------------------------
def test_vision_layer_norm_eps_is_1e6(tiny: InternVideoModel) -> None:
    norms = [m for m in tiny.vision_tower.modules() if isinstance(m, nn.LayerNorm)]
    assert len(norms) == 2 * RAW["vision_config"]["num_hidden_layers"]
    assert all(m.eps == 1e-6 for m in norms)
    assert isinstance(tiny.vision_tower.layernorm, nn.Identity)  # no final norm
    raw = copy.deepcopy(RAW)
    del raw["vision_config"]["layer_norm_eps"]  # InternViT's default is 1e-6 too, not torch's 1e-5
    assert parse_config(raw).vision.layer_norm_eps == 1e-6


def test_projector_layer_norm_eps_is_1e5(tiny: InternVideoModel) -> None:
    ln = tiny.multi_modal_projector.layer_norm
    assert isinstance(ln, nn.LayerNorm) and ln.eps == 1e-5
    assert ln.normalized_shape == (4 * RAW["vision_config"]["hidden_size"],)


@pytest.mark.parametrize("where", ["vision", "projector"])
def test_gelu_is_exact_erf(tiny: InternVideoModel, where: str) -> None:
    act = (
        tiny.vision_tower.encoder.layer[0].mlp.activation_fn
        if where == "vision"
        else tiny.multi_modal_projector.act
    )
    x = torch.linspace(-5, 5, 2001, dtype=torch.float64)
    y = act(x)
    assert (y - gelu_erf(x)).abs().max() < 1e-12
    assert (y - gelu_tanh(x)).abs().max() > 1e-5  # the tanh approximation would be caught


def test_language_model_norms_rope_and_untied_head(tiny: InternVideoModel) -> None:
    lm = tiny.language_model
    assert lm.model.norm.variance_epsilon == 1e-5
    assert all(layer.input_layernorm.variance_epsilon == 1e-5 for layer in lm.model.layers)
    rope = lm.config.rope_parameters
    assert rope["rope_type"] == "dynamic" and rope["rope_theta"] == 1e6 and rope["factor"] == 2.0
    assert lm.config.tie_word_embeddings is False
    assert lm.lm_head.weight.data_ptr() != lm.model.embed_tokens.weight.data_ptr()


def test_vision_attention_has_bias_and_no_qk_norm(tiny: InternVideoModel) -> None:
    attn = tiny.vision_tower.encoder.layer[0].attention
    assert attn.q_proj.bias is not None and attn.k_proj.bias is not None and attn.v_proj.bias is not None
    assert isinstance(attn.q_norm, nn.Identity) and isinstance(attn.k_norm, nn.Identity)


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_requested_attention_reaches_every_part(attn: str) -> None:
    model = InternVideoModel(parse_config(copy.deepcopy(RAW)), attn_implementation=attn)
    for module in model.modules():
        cfg = getattr(module, "config", None)
        if cfg is not None and hasattr(cfg, "_attn_implementation"):
            assert cfg._attn_implementation == attn, type(module).__name__


def test_attention_choice_is_never_eager(monkeypatch: pytest.MonkeyPatch) -> None:
    import transformers.utils

    assert choose_attention(torch.device("cpu"), torch.float32) == "sdpa"
    monkeypatch.setattr(transformers.utils, "is_flash_attn_2_available", lambda: True)
    assert choose_attention(torch.device("cuda"), torch.bfloat16) == "flash_attention_2"
    assert choose_attention(torch.device("cuda"), torch.float32) == "sdpa"
    assert choose_attention(torch.device("cpu"), torch.bfloat16) == "sdpa"


# ----- checkpoint tensor splits ----------------------------------------------------------------------------
def test_grouped_wqkv_split_on_a_labelled_tensor() -> None:
    # 4 query heads, 2 key/value heads, head_dim 2: rows per KV group = [q, q, k, v] × 2 rows
    wqkv = torch.arange(16, dtype=torch.float32).reshape(16, 1)
    q, k, v = split_grouped_wqkv(wqkv, LlmHeads(num_heads=4, num_kv_heads=2, head_dim=2))
    assert q.flatten().tolist() == [0, 1, 2, 3, 8, 9, 10, 11]
    assert k.flatten().tolist() == [4, 5, 12, 13]
    assert v.flatten().tolist() == [6, 7, 14, 15]
    with pytest.raises(ModelError, match="rows"):
        split_grouped_wqkv(torch.zeros(12, 1), LlmHeads(4, 2, 2))


def test_grouped_wqkv_split_matches_the_fused_projection() -> None:
    h, kv, d, hidden = 8, 2, 4, 12
    g = torch.Generator().manual_seed(1)
    wqkv, x = torch.randn((h + 2 * kv) * d, hidden, generator=g), torch.randn(3, hidden, generator=g)
    fused = (x @ wqkv.T).reshape(3, kv, h // kv + 2, d)  # InternLM2: "b q (h gs d) -> b q h gs d"
    q_ref = fused[:, :, : h // kv].reshape(3, h, d)
    k_ref, v_ref = fused[:, :, -2], fused[:, :, -1]
    q, k, v = split_grouped_wqkv(wqkv, LlmHeads(h, kv, d))
    assert torch.allclose((x @ q.T).reshape(3, h, d), q_ref, atol=1e-6)
    assert torch.allclose((x @ k.T).reshape(3, kv, d), k_ref, atol=1e-6)
    assert torch.allclose((x @ v.T).reshape(3, kv, d), v_ref, atol=1e-6)


def test_vision_qkv_is_split_in_plain_thirds() -> None:
    q, k, v = split_thirds(torch.arange(6.0), LlmHeads(1, 1, 1))
    assert (q.tolist(), k.tolist(), v.tolist()) == ([0, 1], [2, 3], [4, 5])


# ----- HiCo -------------------------------------------------------------------------------------------------
def test_merge_schedule() -> None:
    assert merge_schedule(1024, 64) == [512, 256, 128, 64]
    assert merge_schedule(100, 64) == [36]
    with pytest.raises(ValueError):
        merge_schedule(64, 64)


def test_merge_on_a_hand_computed_case() -> None:
    # A = tokens 0, 2; B = tokens 1, 3. t0 is parallel to t3, t2 to t1: both A tokens merge.
    x = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [0.0, 2.0], [3.0, 0.0]]])
    merged, size, _ = merge_tokens(x, target=2, num_heads=1)
    assert merged.tolist() == [[[0.0, 1.5], [2.0, 0.0]]]  # [(t1 + t2) / 2, (t0 + t3) / 2], B order kept
    assert size.flatten().tolist() == [2.0, 2.0]


def test_hico_survivors_and_size_weighted_means() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, 1024, 128, generator=g, dtype=torch.float64)
    track = torch.eye(1024, dtype=torch.float64)[None]  # one-hot of the original position
    merged, size, members = merge_tokens(x, target=64, num_heads=4, track=track)
    assert merged.shape == (1, 64, 128) and members is not None
    # every original token ends up in exactly one output; output k holds original token 16k + 15
    assert torch.equal(members.sum(1), torch.ones(1, 1024, dtype=torch.float64))
    assert all(members[0, k, 16 * k + 15] == 1 for k in range(64))
    assert torch.equal(members.sum(-1, keepdim=True), size) and int(size.sum()) == 1024
    # each output is the plain mean of all the tokens chained into it (the size weighting makes it exact)
    means = (members @ x) / size
    assert torch.allclose(merged, means, atol=1e-10)


def test_hico_compress_groups_four_consecutive_frames() -> None:
    g = torch.Generator().manual_seed(2)
    feats = torch.randn(8, 256, 64, generator=g)
    out = hico_compress(feats, local_num_frames=4, num_tome_tokens=64, num_heads=4)
    assert out.shape == (8, 16, 64)
    assert torch.equal(out[:4], hico_compress(feats[:4], 4, 64, 4))
    assert torch.equal(out[4:], hico_compress(feats[4:], 4, 64, 4))
    with pytest.raises(ValueError):
        hico_compress(feats[:6], 4, 64, 4)


def test_hico_metric_uses_the_llm_head_count(tiny: InternVideoModel, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []

    def spy(features: torch.Tensor, local: int, target: int, num_heads: int) -> torch.Tensor:
        seen.append(num_heads)
        return hico_module.hico_compress(features, local, target, num_heads)

    monkeypatch.setattr(model_module, "hico_compress", spy)
    tiny.encode_frames(torch.randn(4, 3, 140, 140))
    assert seen == [RAW["llm_config"]["num_attention_heads"]] != [RAW["vision_config"]["num_attention_heads"]]


def test_pixel_shuffle_v2_order_and_agreement_with_transformers() -> None:
    from transformers.models.internvl.modeling_internvl import InternVLModel

    side = 4
    rows = torch.arange(side).view(1, side, 1, 1).expand(1, side, side, 1)
    cols = torch.arange(side).view(1, 1, side, 1).expand(1, side, side, 1)
    x = torch.cat([rows, cols], dim=-1).float()  # x[0, r, c] = (r, c): the ViT grid, row-major tokens
    out = pixel_shuffle_v2(x, 0.5)
    assert out.shape == (1, 2, 2, 8)
    for r in range(2):
        for c in range(2):
            want = [2 * r, 2 * c, 2 * r, 2 * c + 1, 2 * r + 1, 2 * c, 2 * r + 1, 2 * c + 1]
            assert out[0, r, c].tolist() == want
    y = torch.randn(3, 32, 32, 8)
    assert torch.equal(pixel_shuffle_v2(y), InternVLModel.pixel_shuffle(None, y, 0.5))


# ----- frames -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [0, 2, 6])
def test_frame_counts_not_multiple_of_four_are_refused(tiny: InternVideoModel, n: int) -> None:
    with pytest.raises(ModelError, match="multiple of 4 frames"):
        tiny.encode_frames(torch.randn(n, 3, 140, 140))


def test_wrong_frame_size_is_refused(tiny: InternVideoModel) -> None:
    with pytest.raises(ModelError, match="140x140"):
        tiny.encode_frames(torch.randn(4, 3, 112, 112))


def test_chunking_does_not_change_visual_tokens(tiny: InternVideoModel) -> None:
    pixels = torch.randn(8, 3, 140, 140)
    done: list[tuple[float, float | None]] = []
    a = tiny.encode_frames(
        pixels, chunk_frames=4, job=Job(on_progress=lambda p: done.append((p.done, p.total)))
    )
    b = tiny.encode_frames(pixels, chunk_frames=8)
    assert torch.allclose(a, b, atol=1e-6) and done == [(4, 8), (8, 8)]
    cancelled = Job()
    cancelled.cancel()
    with pytest.raises(Cancelled):
        tiny.encode_frames(pixels, chunk_frames=4, job=cancelled)


def test_preprocess_normalises_with_imagenet_stats() -> None:
    frames = torch.zeros(1, 8, 8, 3, dtype=torch.uint8)
    frames[..., 0], frames[..., 1], frames[..., 2] = 255, 0, 128
    px = preprocess_frames(frames.numpy(), 8)
    assert px.shape == (1, 3, 8, 8) and px.dtype == torch.float32
    for ch, value in enumerate((255, 0, 128)):
        want = (value / 255 - IMAGENET_MEAN[ch]) / IMAGENET_STD[ch]
        assert torch.allclose(px[0, ch], torch.full((8, 8), want), atol=1e-6)
    with pytest.raises(ModelError, match="uint8"):
        preprocess_frames(torch.zeros(1, 8, 8, 3), 8)
    with pytest.raises(ModelError, match="resized"):
        preprocess_frames(torch.zeros(1, 9, 8, 3, dtype=torch.uint8), 8)


# ----- prompts ----------------------------------------------------------------------------------------------
def test_only_the_first_turn_carries_the_video() -> None:
    t = get_template("internvl2_5")
    history = [("What happens?", "A bike ride."), ("Who rides?", "Two people.")]
    prompt = build_prompt(t, "Where? Show <image> here", 4, 16, history)
    assert prompt.count("<img>") == 4 and prompt.count("<IMG_CONTEXT>") == 64
    assert prompt.index("Frame1: <img>") < prompt.index("What happens?")
    assert "Show <image> here" in prompt  # a later "<image>" stays literal, as in the reference
    assert prompt.endswith("<|im_start|>user\nWhere? Show <image> here<|im_end|>\n<|im_start|>assistant\n")


def test_empty_history_answer_renders_like_the_reference() -> None:
    t = get_template("internlm2-chat")
    text = render_conversation(t, "q2", [("q1", "")])
    # the reference tests `if message:`: an empty answer leaves a bare role and no separator
    assert text.endswith(
        "<|im_start|>user\nq1<|im_end|><|im_start|>assistant\n<|im_start|>user\nq2<|im_end|>"
        "<|im_start|>assistant\n"
    )


def test_unknown_template_is_refused() -> None:
    with pytest.raises(ModelError, match="unknown chat template"):
        get_template("chatml")


# ----- precision rule ---------------------------------------------------------------------------------------
EIGHT_B = PLANNED_8B  # the 8B from its config, as the memory planner has it


def test_weight_sizes_match_the_documented_8b_numbers() -> None:
    assert weight_bytes(EIGHT_B, "bf16") / GIB == pytest.approx(15.0, abs=0.1)
    assert weight_bytes(EIGHT_B, "int8") / GIB == pytest.approx(8.5, abs=0.1)
    assert weight_bytes(EIGHT_B, "nf4") / GIB == pytest.approx(5.4, abs=0.1)
    assert EIGHT_B.kv_bytes_per_token() == 128 * 1024


@pytest.mark.parametrize(
    ("card_gb", "want"),
    [(80, "bf16"), (24, "bf16"), (16, "int8"), (12, "nf4"), (8, None)],
)
def test_auto_precision_fits_512_frames(card_gb: int, want: str | None) -> None:
    free = int(card_gb * 1e9 * 0.96)  # what a card of that size typically reports free
    chosen = choose_gpu_precision(free, EIGHT_B, num_frames=512)
    assert chosen == want
    if chosen is not None:
        assert required_bytes(EIGHT_B, chosen, 512) <= free


def test_fewer_frames_need_less_memory() -> None:
    assert required_bytes(EIGHT_B, "bf16", 128) < required_bytes(EIGHT_B, "bf16", 512)
    assert choose_gpu_precision(int(17.5 * GIB), EIGHT_B, 128) == "bf16"
    assert choose_gpu_precision(int(17.5 * GIB), EIGHT_B, 512) == "int8"


def test_no_qt_import_in_the_package() -> None:
    root = Path(model_module.__file__).parent
    for path in root.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "PySide" not in text and "PyQt" not in text, path


def test_the_kv_cache_goes_by_the_keyword_the_installed_transformers_takes(caplog) -> None:
    import logging
    import warnings

    from transformers.cache_utils import DynamicCache

    def new_forward(inputs_embeds=None, cache=None, use_cache=None): ...

    def old_forward(inputs_embeds=None, past_key_values=None, use_cache=None): ...

    assert model_module.cache_keyword(new_forward) == "cache"
    assert model_module.cache_keyword(old_forward) == "past_key_values"

    model = InternVideoModel(parse_config(copy.deepcopy(RAW))).eval()
    embeds = torch.randn(1, 5, RAW["llm_config"]["hidden_size"])
    cache = DynamicCache(config=model.language_model.config)
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING, "transformers"):
        warnings.simplefilter("always")
        with torch.no_grad():
            full, _ = model.language_forward(embeds)
            model.language_forward(embeds[:, :3], cache)
            last, same = model.language_forward(embeds[:, 3:], cache)
    assert same is cache and cache.get_seq_length() == 5  # the cache was used and filled
    torch.testing.assert_close(last, full[:, 3:], rtol=1e-4, atol=1e-5)
    assert [str(w.message) for w in caught] == [] and caplog.records == []
