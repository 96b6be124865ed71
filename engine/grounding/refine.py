"""Zoom-in refinement: sharpen the edges of candidate spans with a dense look around each of them.

The whole-video curve moves in steps of one group of sampled frames (minutes apart on an hour of video
at 128 frames), and its windows are two groups wide, so a span's edges are only known to about a window.
For each of the best few spans, the range [start - margin, end + margin] is sampled again densely, its
relevance scanned with windows of one group, and each edge moved to where this fine curve crosses the
level halfway between its lowest and highest score. When a window's score follows how much of it the
event covers, that level is crossed where a window's centre sits on the event's edge, so the crossing,
interpolated between window centres, estimates the edge itself.

A span keeps its place (with its score taken from the fine curve) when the fine curve does not support
it: its best window does not favour "yes", or the curve is flat (nothing to locate). A fine run that
reaches the end of the zoomed range keeps going beyond it; the edge then stops at the range's end.
Several separate runs inside one span become several spans.

Costs vision-tower passes (the zoomed frames are new), bounded by `max_spans` and the frames per span;
`ground` reads them through the visual-token cache, so asking the same query again costs none.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from engine.grounding.spans import (
    MIN_THRESHOLD,
    RelevanceCurve,
    ScoredSpan,
    iou,
    non_maximum_suppression,
    score_span,
)

MIN_CONTRAST = 0.1  # a fine curve flatter than this locates nothing
DEFAULT_MAX_SPANS = 3
DEFAULT_FRAMES_PER_SPAN = 32

ScoreRange = Callable[[float, float], RelevanceCurve]  # (start_s, end_s) -> fine curve over that range


def refine_spans(
    spans: list[ScoredSpan],
    score_range: ScoreRange,
    *,
    margin_s: float,
    duration_s: float,
    max_spans: int = DEFAULT_MAX_SPANS,
) -> list[ScoredSpan]:
    """Refine the `max_spans` best spans with `score_range` over each widened by `margin_s` (clamped to
    [0, duration_s]); the others stay as they are. Best first, overlaps suppressed again."""
    ranked = sorted(spans, key=lambda s: (-s.score, s.start_s))
    refined: list[ScoredSpan] = []
    for span in ranked[:max_spans]:
        zoom_start, zoom_end = max(0.0, span.start_s - margin_s), min(duration_s, span.end_s + margin_s)
        refined += refine_span(span, score_range(zoom_start, zoom_end))
    return non_maximum_suppression(refined + ranked[max_spans:])


def refine_span(span: ScoredSpan, fine: RelevanceCurve) -> list[ScoredSpan]:
    """The span with its edges moved to the fine curve's crossings (see the module docstring)."""
    scores = fine.scores
    high, low = float(scores.max()), float(scores.min())
    if high < MIN_THRESHOLD or high - low < MIN_CONTRAST:
        return [_rescored(span, span.start_s, span.end_s, fine)]
    level = (high + low) / 2
    out = []
    for start, end in fine_runs(fine, level):
        if iou((start, end), (span.start_s, span.end_s)) > 0:
            out.append(_rescored(span, start, end, fine))
    return out or [_rescored(span, span.start_s, span.end_s, fine)]


def fine_runs(fine: RelevanceCurve, level: float) -> list[tuple[float, float]]:
    """(start, end) of each run of windows scoring at least `level`: edges interpolated between window
    centres where the curve crosses `level`, or the curve's own ends where a run reaches them."""
    centers, scores = fine.centers_s, fine.scores
    above = scores >= level
    runs = []
    i, n = 0, len(scores)
    while i < n:
        if not above[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and above[j + 1]:
            j += 1
        start = fine.starts_s[0] if i == 0 else _crossing(centers, scores, i - 1, i, level)
        end = fine.ends_s[-1] if j == n - 1 else _crossing(centers, scores, j, j + 1, level)
        if end <= start:  # the curve touches the level at a single centre
            start, end = fine.starts_s[i], fine.ends_s[j]
        runs.append((float(start), float(end)))
        i = j + 1
    return runs


def _crossing(centers: np.ndarray, scores: np.ndarray, a: int, b: int, level: float) -> float:
    """Where the straight line between (centers[a], scores[a]) and (centers[b], scores[b]) meets `level`."""
    return float(centers[a] + (level - scores[a]) / (scores[b] - scores[a]) * (centers[b] - centers[a]))


def _rescored(span: ScoredSpan, start: float, end: float, fine: RelevanceCurve) -> ScoredSpan:
    """[start, end] scored on the fine curve, named in the answer if the span was."""
    return score_span((start, end), fine, named=span.source != "curve", source=span.source)
