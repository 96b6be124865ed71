"""Parity with the published reference implementation, driven entirely by a fixture folder.

The folder (default `../shared/fixtures/internvideo2_5_tiny` beside the checkout, or
$SCENESCOPE_PARITY_FIXTURE) holds a checkpoint in the published layout and what the reference computed
for it: prompts, token ids, visual tokens, logits and greedy tokens. Everything (frame count, template,
sizes) is read from it. Tolerances are 1e-4 absolute in float32, as documented for the fixture.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from engine.models.internvideo import load_internvideo
from engine.models.internvideo.prompt import (
    build_prompt,
    get_template,
    postprocess_answer,
    render_conversation,
    video_question,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURE = Path(
    os.environ.get("SCENESCOPE_PARITY_FIXTURE", REPO_ROOT.parent / "shared/fixtures/internvideo2_5_tiny")
)
ATOL = 1e-4

pytestmark = pytest.mark.skipif(
    not (FIXTURE / "expected.json").is_file(),
    reason=f"InternVideo2.5 parity fixture not found at {FIXTURE} (set SCENESCOPE_PARITY_FIXTURE)",
)


@pytest.fixture(scope="module")
def expected() -> dict[str, Any]:
    return json.loads((FIXTURE / "expected.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def arrays() -> dict[str, np.ndarray]:
    with np.load(FIXTURE / "expected.npz") as z:
        return {k: z[k] for k in z.files}


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    with np.load(FIXTURE / "frames.npz") as z:
        return z["frames_448"]


@pytest.fixture(scope="module")
def models(caplog_module: list[logging.LogRecord]) -> dict[str, Any]:
    """The fixture checkpoint loaded twice in float32: with eager and with SDPA attention."""
    return {
        attn: load_internvideo(
            FIXTURE / "checkpoint", device="cpu", precision="fp32", attn_implementation=attn
        )
        for attn in ("eager", "sdpa")
    }


@pytest.fixture(scope="module")
def caplog_module() -> list[logging.LogRecord]:
    """Log records of engine.models.internvideo emitted while the module's models load."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    log = logging.getLogger("engine.models.internvideo")
    handler, old_level = Keep(level=logging.INFO), log.level
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    yield records
    log.removeHandler(handler)
    log.setLevel(old_level)


def user_question(expected: dict[str, Any], num_frames: int) -> str:
    """The user's text of the first turn: the fixture's question without its "FrameK: <image>" lines."""
    prefix = video_question("", num_frames)
    assert expected["question"].startswith(prefix)
    return expected["question"][len(prefix) :]


def second_question(expected: dict[str, Any]) -> str:
    """The user's text of the second turn, read off the end of the fixture's turn-2 prompt."""
    template = get_template(expected["template"])
    user, assistant = template.roles
    tail = expected["query_turn2"].rsplit(user, 1)[1]
    suffix = template.sep + assistant
    assert tail.endswith(suffix)
    return tail[: -len(suffix)]


# ----- prompts and tokens -----------------------------------------------------------------------------------
def test_prompt_turn1(expected: dict[str, Any], frames: np.ndarray) -> None:
    n = frames.shape[0]
    template = get_template(expected["template"])
    q = user_question(expected, n)
    assert build_prompt(template, q, n, expected["num_image_token_per_frame"]) == expected["query_turn1"]


def test_prompt_turn1_other_template(expected: dict[str, Any], frames: np.ndarray) -> None:
    n = frames.shape[0]
    template = get_template(expected["other_template"])
    q = user_question(expected, n)
    prompt = build_prompt(template, q, n, expected["num_image_token_per_frame"])
    assert prompt == expected["query_turn1_other_template"]


def test_prompt_turn2(
    expected: dict[str, Any], frames: np.ndarray, arrays: dict[str, np.ndarray], models
) -> None:
    n = frames.shape[0]
    model = models["sdpa"]
    template = get_template(expected["template"])
    answer = postprocess_answer(model.tokenizer.decode(arrays["generated_ids"].tolist()), template.stop_token)
    assert answer == expected["response_turn1"]
    history = [(video_question(user_question(expected, n), n), answer)]
    assert render_conversation(template, second_question(expected), history) == expected["query_turn2"]
    # our builder takes plain questions and adds the video prefix to the first turn itself
    full = model.build_prompt(second_question(expected), n, [(user_question(expected, n), answer)])
    per_frame = expected["num_image_token_per_frame"]
    block = "<img>" + "<IMG_CONTEXT>" * per_frame + "</img>"
    assert full == expected["query_turn2"].replace("<image>", block, n)


def test_template_comes_from_the_checkpoint_config(expected: dict[str, Any], models) -> None:
    assert models["sdpa"].template.name == expected["template"]


def test_input_ids(expected: dict[str, Any], arrays: dict[str, np.ndarray], models) -> None:
    model = models["sdpa"]
    assert model.tokenize(expected["query_turn1"]) == arrays["input_ids"][0].tolist()
    assert model.model.img_context_token_id == expected["img_context_token_id"]
    assert model.tokenizer.token_to_id(model.template.stop_token) == expected["eos_token_id"]
    assert model.tokens_per_frame == expected["num_image_token_per_frame"]


# ----- numbers ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("attn", ["eager", "sdpa"])
def test_vit_embeds(attn: str, models, frames: np.ndarray, arrays: dict[str, np.ndarray]) -> None:
    model = models[attn]
    ours = model.encode_frames(model.preprocess(frames))
    ref = torch.from_numpy(arrays["vit_embeds"])
    assert ours.shape == ref.shape and ours.dtype == torch.float32
    diff = (ours - ref).abs().max().item()
    print(f"vit_embeds max abs diff ({attn}): {diff:.3g}")
    assert diff <= ATOL


@pytest.mark.parametrize("attn", ["eager", "sdpa"])
def test_logits(attn: str, models, frames: np.ndarray, arrays: dict[str, np.ndarray]) -> None:
    model = models[attn]
    visual = model.encode_frames(model.preprocess(frames))
    ours = model.logits(arrays["input_ids"][0].tolist(), visual)
    ref = torch.from_numpy(arrays["logits"])
    assert ours.shape == ref.shape
    diff = (ours - ref).abs().max().item()
    print(f"logits max abs diff ({attn}): {diff:.3g}")
    assert diff <= ATOL


@pytest.mark.parametrize("attn", ["eager", "sdpa"])
def test_greedy_tokens(
    attn: str, models, frames: np.ndarray, arrays: dict[str, np.ndarray], expected: dict[str, Any]
) -> None:
    model = models[attn]
    want = arrays["generated_ids"].tolist()
    visual = model.encode_frames(model.preprocess(frames))
    result = model.generate(user_question(expected, frames.shape[0]), visual, max_new_tokens=len(want))
    assert result.token_ids == want
    assert result.token_ids == arrays["greedy_steps"].tolist()
    assert result.text == expected["response_turn1"]
    assert result.prompt_tokens == arrays["input_ids"].shape[1]


# ----- loading hygiene ------------------------------------------------------------------------------------
def test_unused_task_heads_are_skipped_with_one_log_line(
    models, expected: dict[str, Any], caplog_module
) -> None:
    lines = [r.getMessage() for r in caplog_module if "skipped" in r.getMessage()]
    assert len(lines) == len(models)  # one line per load
    count = len(expected["extra_unused_tensors"])
    assert all(line.startswith(f"skipped {count} task-head tensors") for line in lines)


def test_no_code_from_the_model_folder_is_imported(models) -> None:
    folder = (FIXTURE / "checkpoint").resolve()
    shipped = {p.stem for p in folder.glob("*.py")}
    assert shipped, "the fixture should carry the (booby-trapped) Python files of the published folder"
    for name, module in list(sys.modules.items()):
        # remote code would be imported as a top-level module or under transformers' dynamic-module package
        assert name.split(".")[0] not in shipped, f"module {name} from the model folder was imported"
        assert not name.startswith("transformers_modules"), f"remote-code module {name} was imported"
        path = getattr(module, "__file__", None)
        if path:
            assert folder not in Path(path).resolve().parents, f"{path} was imported"


def test_engine_never_asks_for_remote_code() -> None:
    needle = "trust_remote" + "_code"
    offenders = [p for p in (REPO_ROOT / "engine").rglob("*.py") if needle in p.read_text(encoding="utf-8")]
    assert offenders == []
