"""From two signals to scored spans: the model's text answer and its relevance curve.

The curve is the model's probability of answering "yes" to "does this part show <query>?" for windows of
consecutive sampled frames. Runs of windows above a threshold are candidate spans; so are the spans the
model wrote in its answer. Every candidate is scored by how strongly the curve supports it and whether
the other signal agrees; overlapping candidates are then reduced by non-maximum suppression.

Scores are in [0, 1]: `TEXT_WEIGHT` for being named in the answer, the rest for curve support (the
overlap-weighted mean of the curve over the span), so a span both signals agree on scores highest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TEXT_WEIGHT = 0.3  # share of the score for a span the model named in its answer
MIN_THRESHOLD = 0.5  # the curve must at least favour "yes" for a window to count
NMS_IOU = 0.5  # candidates overlapping a better one by more than this are dropped


@dataclass(frozen=True)
class RelevanceCurve:
    """Relevance of windows of the video to a query, in video time."""

    starts_s: np.ndarray  # [W] float64, window start (time of its first frame)
    ends_s: np.ndarray  # [W] float64, window end (end of its last frame)
    scores: np.ndarray  # [W] float64 in [0, 1], P(yes)

    @property
    def centers_s(self) -> np.ndarray:
        return (self.starts_s + self.ends_s) / 2

    def support(self, start_s: float, end_s: float) -> float:
        """Overlap-weighted mean score of the windows that overlap [start_s, end_s] (0 if none)."""
        overlap = np.minimum(self.ends_s, end_s) - np.maximum(self.starts_s, start_s)
        if end_s <= start_s:  # a moment: the windows that contain it
            overlap = ((self.starts_s <= start_s) & (start_s <= self.ends_s)).astype(np.float64)
        weights = np.clip(overlap, 0.0, None)
        total = weights.sum()
        return float((weights * self.scores).sum() / total) if total > 0 else 0.0


@dataclass(frozen=True)
class ScoredSpan:
    start_s: float
    end_s: float
    score: float  # [0, 1]
    source: str  # "text", "curve" or "both"


def adaptive_threshold(scores: np.ndarray) -> float:
    """Halfway from the median to the peak, and never below `MIN_THRESHOLD`.

    Relative to the curve itself, because a model's "yes" probabilities are often uniformly high or low
    for a given query; absolute, so a curve that never favours "yes" yields no spans.
    """
    median, peak = float(np.median(scores)), float(np.max(scores))
    return max(MIN_THRESHOLD, median + (peak - median) / 2)


def curve_segments(
    curve: RelevanceCurve, threshold: float, merge_gap_s: float = 0.0
) -> list[tuple[float, float]]:
    """Runs of windows scoring at least `threshold`, merged across gaps up to `merge_gap_s`."""
    above = curve.scores >= threshold
    segments: list[tuple[float, float]] = []
    for i in np.flatnonzero(above):
        start, end = float(curve.starts_s[i]), float(curve.ends_s[i])
        if segments and start - segments[-1][1] <= merge_gap_s:
            segments[-1] = (segments[-1][0], max(segments[-1][1], end))
        else:
            segments.append((start, end))
    return segments


def iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union > 0 else float(a == b)


def combine_spans(
    text_spans: list[tuple[float, float]],
    curve: RelevanceCurve,
    *,
    moment_halfwidth_s: float,
    merge_gap_s: float = 0.0,
    threshold: float | None = None,
) -> list[ScoredSpan]:
    """Scored spans from the answer's spans and the curve, best first, overlaps suppressed.

    Moments in the answer (start == end) become spans of `moment_halfwidth_s` on each side.
    """
    threshold = adaptive_threshold(curve.scores) if threshold is None else threshold
    from_text = [
        (s - moment_halfwidth_s, e + moment_halfwidth_s) if e <= s else (s, e) for s, e in text_spans
    ]
    from_curve = curve_segments(curve, threshold, merge_gap_s)
    candidates: list[ScoredSpan] = []
    for span in from_text:
        agrees = any(_overlaps(span, other) for other in from_curve)
        candidates.append(score_span(span, curve, named=True, source="both" if agrees else "text"))
    for span in from_curve:
        named = any(_overlaps(span, other) for other in from_text)
        candidates.append(score_span(span, curve, named=named, source="both" if named else "curve"))
    return non_maximum_suppression(candidates)


def non_maximum_suppression(spans: list[ScoredSpan], max_iou: float = NMS_IOU) -> list[ScoredSpan]:
    """Keep spans best first, dropping any that overlaps a kept one by more than `max_iou`."""
    kept: list[ScoredSpan] = []
    for span in sorted(spans, key=lambda s: (-s.score, s.start_s)):
        if all(iou((span.start_s, span.end_s), (k.start_s, k.end_s)) <= max_iou for k in kept):
            kept.append(span)
    return kept


def score_span(span: tuple[float, float], curve: RelevanceCurve, named: bool, source: str) -> ScoredSpan:
    """The span scored: `TEXT_WEIGHT` if the answer named it, plus the rest times the curve's support."""
    start, end = max(0.0, span[0]), span[1]
    score = TEXT_WEIGHT * named + (1 - TEXT_WEIGHT) * curve.support(start, end)
    return ScoredSpan(start_s=start, end_s=end, score=round(min(1.0, score), 6), source=source)


def _overlaps(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return min(a[1], b[1]) > max(a[0], b[0])
