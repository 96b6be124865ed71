"""Generation behaviour on the reference fixture: multi-turn KV reuse, streaming, cancellation, stop tokens,
the tokenizer's corner cases, and a language model quantized with bitsandbytes on the CPU."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from engine.models.internvideo import InternVideo, load_internvideo
from engine.models.internvideo.generate import IncrementalDecoder, common_prefix_length, crop_cache

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURE = Path(
    os.environ.get("SCENESCOPE_PARITY_FIXTURE", REPO_ROOT.parent / "shared/fixtures/internvideo2_5_tiny")
)

pytestmark = pytest.mark.skipif(
    not (FIXTURE / "expected.json").is_file(),
    reason=f"InternVideo2.5 reference fixture not found at {FIXTURE} (set SCENESCOPE_PARITY_FIXTURE)",
)

Q1 = "Describe this video in detail."
Q2 = "How many people appear in the video?"
Q3 = "What colour is the first bike?"


@pytest.fixture(scope="module")
def model() -> InternVideo:
    return load_internvideo(FIXTURE / "checkpoint", device="cpu", precision="fp32")


@pytest.fixture(scope="module")
def arrays() -> dict[str, np.ndarray]:
    with np.load(FIXTURE / "expected.npz") as z:
        return {k: z[k] for k in z.files}


@pytest.fixture(scope="module")
def visual(model: InternVideo) -> torch.Tensor:
    with np.load(FIXTURE / "frames.npz") as z:
        return model.encode_frames(model.preprocess(z["frames_448"]))


# ----- multi-turn ------------------------------------------------------------------------------------------
def test_follow_up_reuses_the_cache_and_matches_a_full_prefill(
    model: InternVideo, visual: torch.Tensor
) -> None:
    session = model.start_chat(visual)
    first = session.ask(Q1, max_new_tokens=12)
    second = session.ask(Q2, max_new_tokens=10)
    third = session.ask(Q3, max_new_tokens=10)
    assert first.reused_tokens == 0
    # the follow-ups only prefill what follows the longest common prefix with the cache
    assert second.reused_tokens >= first.prompt_tokens and third.reused_tokens >= second.prompt_tokens

    fresh = model.start_chat(visual)
    fresh.reuse_cache = False
    for q, reused_turn in ((Q1, first), (Q2, second), (Q3, third)):
        full = fresh.ask(q, max_new_tokens=len(reused_turn.token_ids))
        assert full.reused_tokens == 0
        assert full.token_ids == reused_turn.token_ids and full.text == reused_turn.text
    assert fresh.history == session.history

    # the same answer from a new session that is simply given the history
    again = model.start_chat(visual, history=session.history[:2]).ask(Q3, max_new_tokens=10)
    assert again.token_ids == third.token_ids


def test_follow_up_logits_match_a_full_prefill(model: InternVideo, visual: torch.Tensor) -> None:
    session = model.start_chat(visual)
    session.ask(Q1, max_new_tokens=12)
    ids = model.tokenize(session.prompt(Q2))
    reused = common_prefix_length(ids, session._cached_ids)
    assert 0 < reused < len(ids)
    crop_cache(session._cache, reused)
    embeds = model.model.embed(torch.tensor([ids]), visual)[:, reused:]
    with torch.no_grad():
        incremental, _ = model.model.language_forward(embeds, session._cache)
    full = model.logits(ids, visual)[:, reused:]
    assert (incremental - full).abs().max().item() < 1e-4


def test_history_is_plain_text_and_the_video_goes_in_once(model: InternVideo, visual: torch.Tensor) -> None:
    session = model.start_chat(visual)
    session.ask(Q1, max_new_tokens=4)
    assert session.history[0][0] == Q1
    prompt = session.prompt(Q2)
    assert prompt.count("<img>") == visual.shape[0]
    assert prompt.count("<IMG_CONTEXT>") == visual.shape[0] * model.tokens_per_frame


# ----- streaming, cancelling, stopping ---------------------------------------------------------------------
def test_streaming_callbacks(model: InternVideo, visual: torch.Tensor, arrays: dict[str, np.ndarray]) -> None:
    events: list[tuple[int | None, str]] = []
    result = model.generate(Q1, visual, max_new_tokens=12, on_token=lambda t, d: events.append((t, d)))
    want = arrays["generated_ids"].tolist()
    assert [t for t, _ in events if t is not None] == want == result.token_ids
    assert "".join(d for _, d in events) == model.tokenizer.decode(want)


def test_cancel_between_tokens(
    model: InternVideo, visual: torch.Tensor, arrays: dict[str, np.ndarray]
) -> None:
    stop = threading.Event()
    seen: list[int | None] = []

    def on_token(token: int | None, delta: str) -> None:
        seen.append(token)
        if len(seen) == 3:
            stop.set()

    session = model.start_chat(visual)
    result = session.ask(Q1, max_new_tokens=12, on_token=on_token, cancel=stop)
    want = arrays["generated_ids"].tolist()
    assert result.finish_reason == "cancelled" and result.token_ids == want[:3]
    assert session.history == []  # a cancelled turn is not part of the conversation
    # the session stays usable, and reuses what it had computed
    again = session.ask(Q1, max_new_tokens=12)
    assert again.token_ids == want and again.finish_reason == "length"
    assert again.reused_tokens == again.prompt_tokens - 1

    cancelled_early = model.generate(Q1, visual, cancel=lambda: True)
    assert cancelled_early.token_ids == [] and cancelled_early.finish_reason == "cancelled"


def test_stops_at_a_stop_token(
    model: InternVideo, visual: torch.Tensor, arrays: dict[str, np.ndarray]
) -> None:
    want = arrays["generated_ids"].tolist()
    session = model.start_chat(visual)
    session.extra_stop_ids = (want[3],)
    result = session.ask(Q1, max_new_tokens=12)
    assert result.finish_reason == "stop" and result.token_ids == want[:4]
    assert result.text == model.tokenizer.decode(want[:4]).split("<|im_end|>")[0].strip()


def test_turn_end_is_im_end_not_the_generation_config_eos(model: InternVideo) -> None:
    assert model.template.stop_token == "<|im_end|>"
    assert model.tokenizer.token_to_id("<|im_end|>") != model.tokenizer.eos_id


# ----- tokenizer corner cases ------------------------------------------------------------------------------
def test_tokenizer_splits_on_added_tokens_first(model: InternVideo) -> None:
    tok = model.tokenizer
    space = tok.token_to_id("▁")
    ids = tok.encode("<img><IMG_CONTEXT></img>\nhi")
    img, ctx, end = (tok.token_to_id(t) for t in ("<img>", "<IMG_CONTEXT>", "</img>"))
    assert ids[:4] == [tok.bos_id, img, ctx, end]
    assert ids[4] == space  # sentencepiece's dummy prefix after an added token
    assert tok.encode("<s>x")[:2] == [tok.bos_id, tok.bos_id]  # "<s>" in text is the added token
    assert tok.encode("ab", add_bos=False)[0] != tok.bos_id
    # <|im_start|> is a sentencepiece piece, not an added token: it gets the dummy "▁" in front
    assert tok.encode("<|im_start|>")[1:] == [space, tok.token_to_id("<|im_start|>")]


def test_tokenizer_decode(model: InternVideo) -> None:
    tok = model.tokenizer
    text = "Frame1: <img><IMG_CONTEXT></img>\nok"
    ids = tok.encode(text)
    assert "<img>" not in tok.decode(ids) and "<IMG_CONTEXT>" not in tok.decode(ids)
    assert tok.decode(tok.encode("<|im_end|>")) == "<|im_end|>"  # not special: kept, then cut by chat
    assert tok.decode(tok.encode("a .", add_bos=False)) == "a."  # transformers' clean-up, as the reference


def test_incremental_decoder_holds_partial_characters(
    model: InternVideo, arrays: dict[str, np.ndarray]
) -> None:
    dec = IncrementalDecoder(model.tokenizer)
    ids = arrays["generated_ids"].tolist()
    parts = [dec.push(i) for i in ids] + [dec.flush()]
    assert "".join(parts) == model.tokenizer.decode(ids)
    assert not any(p.endswith("\ufffd") for p in parts[:-1])  # never hands out a half character


# ----- bitsandbytes on the CPU -----------------------------------------------------------------------------
@pytest.mark.parametrize("precision", ["nf4", "int8"])
def test_quantized_language_model_generates(
    precision: str, visual: torch.Tensor, arrays: dict[str, np.ndarray], model: InternVideo
) -> None:
    bnb = pytest.importorskip("bitsandbytes")
    quant = load_internvideo(FIXTURE / "checkpoint", device="cpu", precision=precision)
    cls = bnb.nn.Linear4bit if precision == "nf4" else bnb.nn.Linear8bitLt
    assert isinstance(quant.model.language_model.model.layers[0].mlp.gate_proj, cls)
    assert quant.visual_tokens_key == model.visual_tokens_key  # vision stays full precision on the CPU
    assert torch.equal(quant.encode_frames(quant.preprocess(_frames())), visual)
    logits = quant.logits(arrays["input_ids"][0].tolist(), visual)[0]
    ref = torch.from_numpy(arrays["logits"][0])
    cos = torch.nn.functional.cosine_similarity(logits, ref, dim=-1)
    assert cos.min().item() > 0.95
    result = quant.generate(Q1, visual, max_new_tokens=12)
    assert len(result.token_ids) == 12 and result.finish_reason == "length"
    # the first steps have top-1/top-2 margins far above the quantization error
    assert result.token_ids[:4] == arrays["generated_ids"].tolist()[:4]


def _frames() -> Any:
    with np.load(FIXTURE / "frames.npz") as z:
        return z["frames_448"]
