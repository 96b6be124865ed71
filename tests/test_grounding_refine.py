"""Zoom-in refinement: edge logic on synthetic curves whose scores are how much of each window a known event
covers, then the real path (dense re-sampling, vision passes, cache) on the tiny model end to end."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from engine.assistant import VideoAssistant
from engine.grounding import GroundingOptions, RelevanceCurve, ScoredSpan, combine_spans, ground, refine_spans
from engine.grounding.refine import fine_runs, refine_span
from engine.grounding.spans import TEXT_WEIGHT
from engine.models.internvideo import VisualTokenCache, load_internvideo
from engine.video import Sampling, probe
from tests.test_assistant import VisionPasses

TRUTH = (21.3, 33.7)  # the event, in seconds of a 60 s video


def coverage_curve(starts: np.ndarray, ends: np.ndarray, events: list[tuple[float, float]]) -> RelevanceCurve:
    """Windows scored by the share of them the events cover: what a perfect judge of each window says."""
    covered = sum(np.clip(np.minimum(ends, b) - np.maximum(starts, a), 0, None) for a, b in events)
    return RelevanceCurve(starts_s=starts, ends_s=ends, scores=covered / (ends - starts))


def windows(start: float, end: float, count: int, width: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """`count` frames evenly over [start, end); windows of `width` frames moving by one frame."""
    step = (end - start) / count
    first = start + step * np.arange(count - width + 1)
    return first, first + step * width


def zoom_into(events: list[tuple[float, float]], frames: int, calls: list) -> Callable:
    def score_range(start: float, end: float) -> RelevanceCurve:
        calls.append((start, end))
        return coverage_curve(*windows(start, end, frames), events)

    return score_range


def test_refinement_moves_edges_onto_the_event() -> None:
    coarse = coverage_curve(*windows(0.0, 60.0, 15, width=2), [TRUTH])  # 4 s steps, 8 s windows
    (span,) = combine_spans([], coarse, moment_halfwidth_s=2.0)
    coarse_error = max(abs(span.start_s - TRUTH[0]), abs(span.end_s - TRUTH[1]))
    assert coarse_error > 2.0  # the coarse run reaches beyond the event by part of a window
    calls: list = []
    (refined,) = refine_spans([span], zoom_into([TRUTH], 16, calls), margin_s=4.0, duration_s=60.0)
    assert calls == [(span.start_s - 4.0, span.end_s + 4.0)]
    fine_step = (calls[0][1] - calls[0][0]) / 16
    assert abs(refined.start_s - TRUTH[0]) <= fine_step / 2
    assert abs(refined.end_s - TRUTH[1]) <= fine_step / 2
    assert max(abs(refined.start_s - TRUTH[0]), abs(refined.end_s - TRUTH[1])) < coarse_error / 2
    assert refined.source == "curve" and 0.9 * (1 - TEXT_WEIGHT) < refined.score <= 1 - TEXT_WEIGHT


def test_edges_are_exact_where_the_curve_is_linear_between_window_centres() -> None:
    starts, ends = windows(10.0, 50.0, 40, width=4)  # 1 s steps, 4 s windows: ramps 4 s long
    fine = coverage_curve(starts, ends, [TRUTH])
    assert fine_runs(fine, 0.5) == [pytest.approx(TRUTH, abs=1e-9)]


def test_a_text_span_is_sharpened_and_keeps_its_source() -> None:
    text_span = ScoredSpan(start_s=18.0, end_s=30.0, score=0.5, source="text")  # written a bit early
    (refined,) = refine_spans([text_span], zoom_into([TRUTH], 32, []), margin_s=6.0, duration_s=60.0)
    assert refined.source == "text"
    assert refined.start_s == pytest.approx(TRUTH[0], abs=0.5) and refined.end_s == pytest.approx(
        TRUTH[1], abs=0.5
    )
    assert refined.score > TEXT_WEIGHT


def test_an_unsupported_span_stays_put_and_is_rescored() -> None:
    span = ScoredSpan(start_s=40.0, end_s=44.0, score=0.6, source="both")
    quiet = coverage_curve(*windows(36.0, 48.0, 12), [TRUTH])  # the event is elsewhere: all zero
    (kept,) = refine_span(span, quiet)
    assert (kept.start_s, kept.end_s, kept.source) == (40.0, 44.0, "both")
    assert kept.score == pytest.approx(TEXT_WEIGHT)  # named in the answer, no curve support
    flat = RelevanceCurve(
        quiet.starts_s, quiet.ends_s, np.full(12, 0.9)
    )  # everything matches: no edge to find
    (kept,) = refine_span(span, flat)
    assert (kept.start_s, kept.end_s) == (40.0, 44.0) and kept.score == pytest.approx(TEXT_WEIGHT + 0.7 * 0.9)


def test_two_moments_inside_one_span_come_apart() -> None:
    events = [(20.0, 24.0), (30.0, 34.0)]
    span = ScoredSpan(start_s=18.0, end_s=36.0, score=0.8, source="curve")
    parts = refine_span(span, coverage_curve(*windows(14.0, 40.0, 52), events))
    assert [(round(p.start_s, 3), round(p.end_s, 3)) for p in parts] == events


def test_a_run_reaching_the_zoomed_range_ends_there() -> None:
    span = ScoredSpan(start_s=30.0, end_s=40.0, score=0.8, source="curve")
    fine = coverage_curve(*windows(26.0, 44.0, 18), [(33.0, 80.0)])  # the event goes on past the range
    (refined,) = refine_span(span, fine)
    assert refined.start_s == pytest.approx(33.0) and refined.end_s == 44.0


def test_only_the_best_spans_are_refined() -> None:
    spans = [ScoredSpan(10.0 * k, 10.0 * k + 4.0, score=0.5 + 0.1 * k, source="curve") for k in range(4)]
    calls: list = []
    out = refine_spans(spans, zoom_into([], 8, calls), margin_s=1.0, duration_s=60.0, max_spans=2)
    assert sorted(calls) == [(19.0, 25.0), (29.0, 35.0)]  # the two best, widened by the margin
    assert spans[0] in out and spans[1] in out  # the others pass unchanged
    assert len(out) == 4


def test_refinement_end_to_end_on_the_tiny_model(leaning_model_dir: Path, media, tmp_path: Path) -> None:
    model = load_internvideo(leaning_model_dir, device="cpu", precision="fp32")
    video = media("ground_refine.mp4", frames=150, fps=25.0, gop=25, bframes=2)
    assistant = VideoAssistant(model, VisualTokenCache(tmp_path))
    sampling = Sampling("frames", 16)
    options = GroundingOptions(max_new_tokens=4, refine_frames=16)
    coarse = ground(
        assistant, video, "a boat docks", sampling=sampling, options=GroundingOptions(refine=False)
    )
    passes = VisionPasses(model)
    try:
        first = ground(assistant, video, "a boat docks", sampling=sampling, options=options)
        assert first.vision_passes == passes.count > 0  # the zoomed frames are new
        passes.count = 0
        again = ground(assistant, video, "a boat docks", sampling=sampling, options=options)
        assert passes.count == again.vision_passes == 0  # and cached
    finally:
        passes.close()
    assert again.spans == first.spans
    assert coarse.curve.scores.max() > 0.5 and coarse.spans and first.spans  # this model does say yes
    duration = probe(video).duration_s
    for result in (coarse, first):
        starts = [s.start_s for s in result.spans]
        assert starts == sorted(starts)
        for span in result.spans:
            assert 0 <= span.start_s < span.end_s <= duration
            assert 0 <= span.score <= 1 and span.source in ("text", "curve", "both")
            assert span.query == "a boat docks"
    assert [(s.start_s, s.end_s) for s in first.spans] != [(s.start_s, s.end_s) for s in coarse.spans]
    assert "refine_s" in first.timings_s and "refine_s" not in coarse.timings_s
