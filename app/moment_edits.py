"""The arithmetic of editing moments, without Qt: frame snapping, edges, split, merge, in time order.

Every function takes moments and returns new ones (a `Moment` is immutable), so the controller can keep
each state for undo. Edges snap to frame boundaries: a frame's presentation time, or the video's end
after the last frame; a moment always holds at least one frame.
"""

from __future__ import annotations

import numpy as np

from app.moment import Moment
from engine.spans import Span


class FrameGrid:
    """Where a moment's edges may lie: every frame's start time and the end of the last frame."""

    def __init__(self, frame_times_s: np.ndarray, duration_s: float) -> None:
        times = np.asarray(frame_times_s, dtype=np.float64)
        self.bounds = np.append(times, duration_s) if len(times) == 0 or duration_s > times[-1] else times
        self.duration_s = float(self.bounds[-1]) if len(self.bounds) else duration_s

    def nearest(self, seconds: float) -> float:
        """The boundary nearest to `seconds`."""
        b = self.bounds
        i = int(np.clip(np.searchsorted(b, seconds), 1, len(b) - 1))
        return float(b[i - 1] if seconds - b[i - 1] <= b[i] - seconds else b[i])

    def before(self, seconds: float) -> float:
        """The last boundary strictly before `seconds` (the first one if none is)."""
        i = int(np.searchsorted(self.bounds, seconds - 1e-9, side="left")) - 1
        return float(self.bounds[max(i, 0)])

    def after(self, seconds: float) -> float:
        """The first boundary strictly after `seconds` (the last one if none is)."""
        i = int(np.searchsorted(self.bounds, seconds + 1e-9, side="right"))
        return float(self.bounds[min(i, len(self.bounds) - 1)])


def in_time_order(moments: list[Moment]) -> list[Moment]:
    return sorted(moments, key=lambda m: (m.span.start_s, m.span.end_s, m.id))


def moved_edge(moment: Moment, edge: str, seconds: float, grid: FrameGrid) -> Moment:
    """The moment with its `edge` ("start" or "end") on the frame boundary nearest `seconds`, kept at
    least one frame long."""
    t = grid.nearest(seconds)
    span = moment.span
    if edge == "start":
        return moment.with_span(start_s=min(t, grid.before(span.end_s)))
    if edge == "end":
        return moment.with_span(end_s=max(t, grid.after(span.start_s)))
    raise ValueError(f"edge must be 'start' or 'end', not {edge!r}")


def split(moment: Moment, seconds: float, grid: FrameGrid) -> tuple[Moment, Moment] | None:
    """The moment cut at the frame boundary nearest `seconds` into [start, t) and [t, end) (the second a
    new moment of the same state and provenance); None when that boundary is not inside it."""
    t = grid.nearest(seconds)
    span = moment.span
    if not span.start_s < t < span.end_s:
        return None
    first = moment.with_span(end_s=t)
    second = Moment(
        span=Span(t, span.end_s, span.score, span.source, span.label, span.query),
        state=moment.state,
        provenance=moment.provenance,
    )
    return first, second


def merged(first: Moment, second: Moment) -> Moment:
    """One moment over both (and what lies between): the first's id, state, label and provenance; the
    better score; the source both share, or "both" when one came from the text and one from the curve."""
    a, b = first.span, second.span
    scores = [s for s in (a.score, b.score) if s is not None]
    found = {a.source, b.source} <= {"text", "curve", "both"}
    source = a.source if a.source == b.source else "both" if found else "user"
    return first.with_span(
        start_s=min(a.start_s, b.start_s),
        end_s=max(a.end_s, b.end_s),
        score=max(scores) if scores else None,
        source=source,
        label=a.label or b.label,
        query=a.query or b.query,
    )
