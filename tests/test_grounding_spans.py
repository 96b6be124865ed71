"""Span arithmetic of grounding: thresholds, merging, combining text and curve, suppression."""

from __future__ import annotations

import numpy as np
import pytest

from engine.grounding.spans import (
    TEXT_WEIGHT,
    RelevanceCurve,
    ScoredSpan,
    adaptive_threshold,
    combine_spans,
    curve_segments,
    iou,
    non_maximum_suppression,
)


def curve_of(scores, window_s=2.0) -> RelevanceCurve:
    scores = np.asarray(scores, dtype=np.float64)
    starts = np.arange(len(scores)) * window_s
    return RelevanceCurve(starts_s=starts, ends_s=starts + window_s, scores=scores)


def test_support_is_the_overlap_weighted_mean():
    curve = curve_of([0.0, 1.0, 0.5, 0.0])  # windows [0,2) [2,4) [4,6) [6,8)
    assert curve.support(2.0, 4.0) == pytest.approx(1.0)
    assert curve.support(3.0, 5.0) == pytest.approx(0.75)  # half of [2,4) at 1.0, half of [4,6) at 0.5
    assert curve.support(3.0, 6.0) == pytest.approx(2 / 3)  # 1 s at 1.0, 2 s at 0.5; a plain mean: 0.75
    assert curve.support(1.0, 8.0) == pytest.approx((1 * 0.0 + 2 * 1.0 + 2 * 0.5 + 2 * 0.0) / 7)
    assert curve.support(4.5, 4.5) == pytest.approx(0.5)  # a moment
    assert curve.support(100.0, 120.0) == 0.0


def test_threshold_is_relative_but_never_below_a_half():
    assert adaptive_threshold(np.array([0.1, 0.1, 0.9, 0.1])) == pytest.approx(0.5)
    assert adaptive_threshold(np.array([0.6, 0.6, 1.0, 0.6])) == pytest.approx(0.8)
    assert adaptive_threshold(np.array([0.1, 0.2, 0.3])) == pytest.approx(0.5)


def test_segments_merge_across_small_gaps():
    curve = curve_of([0.1, 0.9, 0.8, 0.1, 0.9, 0.1, 0.1, 0.95])
    assert curve_segments(curve, 0.5) == [(2.0, 6.0), (8.0, 10.0), (14.0, 16.0)]
    assert curve_segments(curve, 0.5, merge_gap_s=2.0) == [(2.0, 10.0), (14.0, 16.0)]


def test_text_and_curve_agreeing_score_highest():
    curve = curve_of(
        [0.05] * 5 + [0.95] * 3 + [0.05] * 5 + [0.9] + [0.05] * 6
    )  # peaks at 10-16 s and 26-28 s
    spans = combine_spans([(10.5, 15.0), (34.0, 36.0)], curve, moment_halfwidth_s=1.0)
    assert [s.source for s in spans] == ["both", "curve", "text"]
    best, curve_only, text_only = spans
    assert best.score > curve_only.score > text_only.score
    assert best.score == pytest.approx(TEXT_WEIGHT + (1 - TEXT_WEIGHT) * curve.support(10.5, 15.0))
    assert (curve_only.start_s, curve_only.end_s) == (26.0, 28.0)
    assert text_only.score == pytest.approx(TEXT_WEIGHT + (1 - TEXT_WEIGHT) * 0.05)
    assert all(0.0 <= s.score <= 1.0 for s in spans)


def test_moments_become_spans_around_them():
    curve = curve_of([0.0] * 10)
    (span,) = combine_spans([(7.0, 7.0)], curve, moment_halfwidth_s=1.5)
    assert (span.start_s, span.end_s, span.source) == (5.5, 8.5, "text")


def test_a_curve_that_never_says_yes_gives_no_curve_spans():
    curve = curve_of([0.2, 0.3, 0.45, 0.3])
    assert combine_spans([], curve, moment_halfwidth_s=1.0) == []


def test_nms_drops_heavy_overlaps_only():
    spans = [
        ScoredSpan(0.0, 10.0, 0.9, "both"),
        ScoredSpan(1.0, 10.0, 0.8, "text"),  # IoU 0.9 with the first: dropped
        ScoredSpan(8.0, 20.0, 0.7, "curve"),  # IoU 0.1: kept
    ]
    assert non_maximum_suppression(spans) == [spans[0], spans[2]]
    assert iou((0, 10), (5, 15)) == pytest.approx(1 / 3)
