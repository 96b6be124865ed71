"""The relevance scan and the grounding prompt on the tiny model and real generated videos: window layout and
real times (VFR too), batched scan against an independent per-window forward, what the vision tower is
spared, and the question the text answer comes from."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from engine.assistant import DEFAULT_SAMPLING, VideoAssistant
from engine.grounding import (
    GroundingOptions,
    answer_tokens,
    ground,
    grounding_question,
    relevance_curve,
    relevance_question,
    window_starts,
)
from engine.grounding.prompt import time_decimals
from engine.grounding.relevance import yes_probability
from engine.jobs import Cancelled, Job, Progress
from engine.models.internvideo import InternVideo, VisualTokenCache, load_internvideo
from engine.video import Sampling, probe, sample_frames
from tests.fixtures import internvideo_fixture
from tests.test_assistant import VisionPasses

QUERY = "a white van stops at the gate"


@pytest.fixture(scope="module")
def model() -> InternVideo:
    return load_internvideo(internvideo_fixture() / "checkpoint", device="cpu", precision="fp32")


@pytest.fixture(scope="module")
def video(media: Callable[..., Path]) -> Path:
    return media("ground.mp4", frames=120, fps=25.0, gop=25, bframes=2)


@pytest.fixture
def passes(model: InternVideo):
    counter = VisionPasses(model)
    yield counter
    counter.close()


def test_answer_tokens_are_the_first_tokens_of_yes_and_no_after_the_assistant_role(model) -> None:
    tokens = answer_tokens(model)
    assert tokens.yes and tokens.no and not set(tokens.yes) & set(tokens.no)
    role = model.template.roles[1]
    start = len(model.tokenizer.encode(role, add_bos=False))
    for word, expected in (("Yes", tokens.yes), ("yes", tokens.yes), ("No", tokens.no), ("no", tokens.no)):
        assert model.tokenizer.encode(role + word, add_bos=False)[start] in expected


def test_yes_probability_is_a_two_way_softmax_over_the_variants() -> None:
    import torch

    from engine.grounding.relevance import AnswerTokens

    logits = torch.full((2, 10), -50.0)
    logits[0, [1, 2]] = torch.tensor([0.0, 0.0])  # two yes variants, equally likely
    logits[0, 3] = np.log(2.0)  # one no variant, as likely as both together
    logits[1, 1], logits[1, 3] = 3.0, 1.0
    p = yes_probability(logits, AnswerTokens(yes=(1, 2), no=(3,)))
    assert p[0].item() == pytest.approx(0.5)
    assert p[1].item() == pytest.approx(np.exp(3) / (np.exp(3) + np.exp(-50) + np.exp(1)))


@pytest.mark.parametrize(
    "frames, window, stride, expected",
    [
        (32, 2, 1, [0, 4, 8, 12, 16, 20, 24]),  # one window per pair of neighbouring groups
        (32, 1, 1, [0, 4, 8, 12, 16, 20, 24, 28]),  # one per group
        (32, 2, 2, [0, 8, 16, 24]),
        (28, 2, 2, [0, 8, 16, 20]),  # the last window still ends at the last frame
        (8, 4, 1, [0]),  # wider than the video: one window of everything
    ],
)
def test_windows_are_whole_groups(frames, window, stride, expected) -> None:
    assert window_starts(frames, 4, window, stride).tolist() == expected


def test_batched_scan_equals_a_full_forward_per_window(model, video, tmp_path: Path) -> None:
    context = VideoAssistant(model, VisualTokenCache(tmp_path)).open_video(video, Sampling("frames", 32))
    end = context.info.duration_s
    curves = [
        relevance_curve(model, context.visual_tokens, context.frames.times_s, end, QUERY, batch_windows=b)
        for b in (1, 3, 8)
    ]
    scores = curves[-1].scores
    assert scores.shape == (7,) and np.all((scores >= 0) & (scores <= 1))  # 8 groups -> 7 windows of 2
    for other in curves[:-1]:
        np.testing.assert_allclose(other.scores, scores, atol=1e-6)
    # Independently: the whole prompt of each window through the model's plain forward, no cache, no batch.
    ids = model.tokenize(model.build_prompt(relevance_question(QUERY), 8))
    tokens = answer_tokens(model)
    for k, first in enumerate(range(0, 28, 4)):
        logits = model.logits(ids, context.visual_tokens[first : first + 8])  # [1, L, V]
        assert yes_probability(logits[:, -1], tokens).item() == pytest.approx(scores[k], abs=1e-5)


def test_window_times_are_the_sampled_frames_real_times_on_vfr(model, media, tmp_path: Path) -> None:
    durations = [0.1] * 30 + [0.02] * 100 + [0.2] * 10  # 3 s at 10 fps, 2 s at 50 fps, 2 s at 5 fps
    path = media("ground_vfr.mkv", durations_s=durations, gop=30)
    info = probe(path)
    assert info.vfr
    sampling = Sampling("frames", 24)
    context = VideoAssistant(model, VisualTokenCache(tmp_path)).open_video(path, sampling)
    frames = sample_frames(info.frames, sampling)  # sampled again here, independently
    times = info.frames.times_s[frames.indices]
    np.testing.assert_allclose(times, np.cumsum([0.0, *durations[:-1]])[frames.indices], atol=1e-4)
    assert np.abs(times - frames.indices / info.fps).max() > 0.5  # a constant rate would be far off
    curve = relevance_curve(model, context.visual_tokens, context.frames.times_s, info.duration_s, QUERY)
    np.testing.assert_array_equal(curve.starts_s, times[[0, 4, 8, 12, 16]])
    np.testing.assert_array_equal(curve.ends_s, [*times[[8, 12, 16, 20]], info.duration_s])


def test_the_grounding_question_gives_the_duration_and_every_frame_time() -> None:
    times = np.array([0.04, 0.52, 1.0, 1.48, 2.5, 2.51, 59.96, 3599.9])
    text = grounding_question("When does the van stop?", times, 3600.0)
    assert "3600.00 seconds" in text and "8 frames" in text and "Frame1 to Frame8" in text
    assert "the query: When does the van stop." in text
    listed = re.search(r"at ([\d., ]+) seconds", text).group(1)
    numbers = [float(x) for x in listed.split(", ")]
    assert len(numbers) == len(times)
    np.testing.assert_allclose(numbers, times, atol=0.005)  # 2.5 and 2.51 need two decimals
    assert time_decimals([0.5, 1.0, 1.5]) == 1
    assert time_decimals([0.04, 0.08]) == 2
    assert time_decimals([1.0, 1.0004]) == 3
    assert time_decimals([14.1, 42.2, 70.3]) == 1  # an hour at 128 frames


def test_relevance_question_quotes_the_query_without_its_question_mark() -> None:
    assert '"when does the van stop"?' in relevance_question("when does the van stop? ")
    with pytest.raises(Exception, match="query is empty"):
        relevance_question("  ? ")


def test_the_text_answer_is_the_models_answer_to_the_grounding_question(model, video, tmp_path) -> None:
    assistant = VideoAssistant(model, VisualTokenCache(tmp_path))
    sampling = Sampling("frames", 16)
    options = GroundingOptions(refine=False, max_new_tokens=12)
    result = ground(assistant, video, QUERY, sampling=sampling, options=options)
    context = assistant.open_video(video, sampling)
    question = grounding_question(QUERY, context.frames.times_s, context.info.duration_s)
    expected = model.generate(question, context.visual_tokens, max_new_tokens=12)
    assert result.answer_text == expected.text
    assert np.array_equal(result.frames.times_s, context.frames.times_s)


def test_no_vision_pass_after_ask_or_for_a_second_query(model, video, passes, tmp_path: Path) -> None:
    assistant = VideoAssistant(model, VisualTokenCache(tmp_path))
    sampling = Sampling("frames", 16)
    asked = assistant.open_video(video, sampling).conversation().ask("What happens?", max_new_tokens=2)
    assert asked.vision_passes == passes.count == 2
    passes.count = 0
    options = GroundingOptions(refine=False, max_new_tokens=4)
    first = ground(assistant, video, QUERY, sampling=sampling, options=options)
    second = ground(assistant, video, "a person waves", sampling=sampling, options=options)
    assert passes.count == 0 and first.vision_passes == second.vision_passes == 0
    assert len(first.curve.scores) == 16 // 4 - 1
    assert not np.array_equal(first.curve.scores, second.curve.scores)  # the query matters
    assert np.all((second.curve.scores >= 0) & (second.curve.scores <= 1))


def test_ground_samples_the_video_as_ask_does_by_default() -> None:
    # so that a video asked about with the defaults (app or CLI) is scanned from the cached tokens
    assert inspect.signature(ground).parameters["sampling"].default == DEFAULT_SAMPLING
    assert inspect.signature(VideoAssistant.open_video).parameters["sampling"].default == DEFAULT_SAMPLING


def test_ground_reports_its_stages_hands_out_the_curve_and_can_be_cancelled(model, video, tmp_path) -> None:
    assistant = VideoAssistant(model, VisualTokenCache(tmp_path))
    sampling = Sampling("frames", 32)
    options = GroundingOptions(refine=False, max_new_tokens=3, batch_windows=2)
    seen: list[Progress] = []
    pieces: list[tuple[str, dict]] = []
    job = Job(on_progress=seen.append, on_partial=lambda kind, data: pieces.append((kind, data)))
    result = ground(assistant, video, QUERY, sampling=sampling, options=options, job=job)
    stages = [p.stage for p in seen]
    assert stages == sorted(stages, key=["encode", "answer", "scan"].index)  # in this order
    assert {"encode", "answer", "scan"} == set(stages)
    scans = [(p.done, p.total) for p in seen if p.stage == "scan"]
    assert scans == [(2, 7), (4, 7), (6, 7), (7, 7)]  # 32 frames: 7 windows, 2 per batch
    assert {kind for kind, _ in pieces} == {"curve"}  # the written answer is not a partial result
    streamed = np.concatenate([data["scores"] for _, data in pieces])
    np.testing.assert_allclose(streamed, result.curve.scores, rtol=0, atol=1e-7)
    np.testing.assert_allclose(np.concatenate([d["starts_s"] for _, d in pieces]), result.curve.starts_s)

    def cancel_in_scan(p: Progress) -> None:
        if p.stage == "scan":
            stopping.cancel()

    stopping = Job(on_progress=cancel_in_scan, on_partial=lambda kind, data: pieces.append((kind, data)))
    pieces.clear()
    with pytest.raises(Cancelled):
        ground(assistant, video, QUERY, sampling=sampling, options=options, job=stopping)
    assert len(pieces) == 1  # stopped after the first batch
