"""What the timeline's lanes hold and how they become rectangles: span lanes and heat strips.

A span lane keeps its spans in numpy arrays sorted by start, so the spans of a visible range are two
binary searches away (with the longest span's length as the look-back). Drawn one by one they would cost
one rectangle each; when more are visible than a quarter of the lane's width in pixels they are merged
per pixel column: each column shows the most prominent span covering it (highest score, then the later
colour), found with two bincounts over (style, column), and runs of equal columns become one rectangle,
so the cost is bounded by the width. A heat strip is a 1-row image over the whole video; zooming only
changes the source rectangle it is drawn from.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from PySide6.QtGui import QColor, QImage

SCORE_LEVELS = 8  # scores are shown as this many shades of a span's colour
MIN_SCORE_SHADE = 0.4  # a score of 0 is drawn at this fraction of the colour (over the lane background)
HEAT_MAX_COLUMNS = 1 << 16
# The heat ramp: low relevance is near the background, high is hot and bright ("magma"-like).
HEAT_STOPS = ("#1a1c22", "#3b1f5e", "#8c2981", "#de4968", "#fe9f6d", "#fcfdbf")


class Runs(NamedTuple):
    """Rectangles to paint, as arrays: pixel columns [x0, x1) of the lane in a style; `span` is the span's
    index when spans are drawn one by one, -1 where a rectangle stands for merged columns."""

    x0: np.ndarray
    x1: np.ndarray
    style: np.ndarray
    span: np.ndarray


def _runs(x0, x1, style, span) -> Runs:
    return Runs(
        np.asarray(x0, np.float64),
        np.asarray(x1, np.float64),
        np.asarray(style, np.int64),
        np.asarray(span, np.int64),
    )


class SpanLane:
    """Spans of one lane: moments of a query, or the frames where one tracked object is visible."""

    def __init__(
        self,
        name: str,
        starts: Sequence[float] | np.ndarray,
        ends: Sequence[float] | np.ndarray,
        colors: QColor | str | Sequence[QColor | str] | None,
        scores: Sequence[float] | np.ndarray | None,
        labels: Sequence[str] | None,
        default_color: QColor,
        background: QColor,
    ) -> None:
        starts = np.asarray(starts, dtype=np.float64).ravel()
        ends = np.asarray(ends, dtype=np.float64).ravel()
        n = len(starts)
        if len(ends) != n:
            raise ValueError(f"lane {name!r}: {n} starts but {len(ends)} ends")
        if n and not (np.all(np.isfinite(starts)) and np.all(ends >= starts)):
            raise ValueError(f"lane {name!r}: every span needs finite times with end >= start")
        order = np.argsort(starts, kind="stable")
        self.name = name
        self.order = order  # a span's index as the caller gave it, by its index here (sorted by start)
        self.starts, self.ends = starts[order], ends[order]
        self.max_length = float((ends - starts).max()) if n else 0.0
        _check_count(name, "scores", scores, n)
        _check_count(name, "labels", labels, n)
        self.scores = None if scores is None else np.asarray(scores, np.float64).ravel()[order]
        self.labels = None if labels is None else [str(labels[i]) for i in order]
        palette, color_ids = _color_ids(colors, n, default_color, name)
        color_ids = color_ids[order]
        levels = (
            np.full(n, SCORE_LEVELS - 1)
            if self.scores is None
            else np.clip((self.scores * SCORE_LEVELS).astype(np.int64), 0, SCORE_LEVELS - 1)
        )
        # Style = shade level major, colour minor: a larger style wins a pixel column.
        self.style = levels * len(palette) + color_ids
        self.style_colors = [
            _shade(palette[c], background, MIN_SCORE_SHADE + (1 - MIN_SCORE_SHADE) * lv / (SCORE_LEVELS - 1))
            for lv in range(SCORE_LEVELS)
            for c in range(len(palette))
        ]
        self.color = palette[0]

    def __len__(self) -> int:
        return len(self.starts)

    def visible(self, start_s: float, end_s: float) -> np.ndarray:
        """Indices of the spans that overlap [start_s, end_s)."""
        lo = np.searchsorted(self.starts, start_s - self.max_length, side="left")
        hi = np.searchsorted(self.starts, end_s, side="left")
        index = np.arange(lo, hi)
        return index[self.ends[lo:hi] >= start_s]

    def runs(self, start_s: float, px_per_s: float, width: int) -> Runs:
        """Rectangles for the lane's columns [0, width) showing [start_s, start_s + width / px_per_s)."""
        index = self.visible(start_s, start_s + width / px_per_s)
        x0 = (self.starts[index] - start_s) * px_per_s
        x1 = np.maximum((self.ends[index] - start_s) * px_per_s, x0 + 1.0)  # a span is at least 1 px wide
        if len(index) * 4 <= width:  # few enough to draw one by one
            return _runs(x0, x1, self.style[index], index)
        return _merged_runs(x0, x1, self.style[index], width)

    def span_at(self, time_s: float, slack_s: float) -> int | None:
        """The most prominent span within `slack_s` of `time_s` (highest style, then the latest start)."""
        index = self.visible(time_s - slack_s, time_s + slack_s)
        if len(index) == 0:
            return None
        return int(index[np.lexsort((self.starts[index], self.style[index]))[-1]])

    def edge_at(self, time_s: float, slack_s: float) -> tuple[int, str] | None:
        """The span edge nearest `time_s` within `slack_s`: (index here, "start" or "end"), or None."""
        index = self.visible(time_s - slack_s, time_s + slack_s)
        if len(index) == 0:
            return None
        gaps = np.concatenate([np.abs(self.starts[index] - time_s), np.abs(self.ends[index] - time_s)])
        best = int(np.argmin(gaps))
        if gaps[best] > slack_s:
            return None
        return int(index[best % len(index)]), "start" if best < len(index) else "end"


def _merged_runs(x0: np.ndarray, x1: np.ndarray, style: np.ndarray, width: int) -> Runs:
    first = np.clip(np.floor(x0), 0, width).astype(np.int64)
    stop = np.clip(np.ceil(x1), 0, width).astype(np.int64)
    # Coverage of every column by every style present, from one bincount of starts and one of stops.
    present = np.flatnonzero(np.bincount(style))
    rank = np.searchsorted(present, style)
    size = width + 1
    cells = len(present) * size
    edges = np.bincount(rank * size + first, minlength=cells) - np.bincount(
        rank * size + stop, minlength=cells
    )
    covered = np.cumsum(edges.reshape(len(present), size), axis=1)[:, :width] > 0
    best = len(present) - 1 - np.argmax(covered[::-1], axis=0)  # the highest style covering each column
    winner = np.where(covered.any(axis=0), present[best], -1)
    bounds = np.concatenate(([0], np.flatnonzero(np.diff(winner)) + 1, [width]))
    first, stop = bounds[:-1], bounds[1:]
    painted = winner[first] >= 0
    return _runs(
        first[painted], stop[painted], winner[first[painted]], np.full(np.count_nonzero(painted), -1)
    )


class HeatLane:
    """A relevance curve as a strip of colour: values in [0, 1] over time bins, drawn as a 1-row image."""

    def __init__(
        self,
        name: str,
        starts: Sequence[float] | np.ndarray,
        ends: Sequence[float] | np.ndarray,
        values: Sequence[float] | np.ndarray,
    ) -> None:
        self.name = name
        self.starts = np.asarray(starts, dtype=np.float64).ravel()
        self.ends = np.asarray(ends, dtype=np.float64).ravel()
        self.values = np.asarray(values, dtype=np.float64).ravel()
        if not len(self.starts) == len(self.ends) == len(self.values):
            raise ValueError(f"heat lane {name!r}: starts, ends and values must have the same length")
        order = np.argsort(self.starts, kind="stable")
        self.starts, self.ends, self.values = self.starts[order], self.ends[order], self.values[order]
        self.image: QImage | None = None
        self.columns_per_s = 0.0

    def build(self, duration_s: float) -> None:
        """Render the strip over [0, duration_s): one column per finest bin, at most HEAT_MAX_COLUMNS."""
        self.image = None
        if duration_s <= 0 or len(self.starts) == 0:
            return
        finest = float(np.min(self.ends - self.starts, initial=duration_s, where=self.ends > self.starts))
        columns = int(min(HEAT_MAX_COLUMNS, max(1, np.ceil(duration_s / max(finest, 1e-9)))))
        self.columns_per_s = columns / duration_s
        centers = (np.arange(columns) + 0.5) / self.columns_per_s
        bin_index = np.searchsorted(self.starts, centers, side="right") - 1
        inside = (bin_index >= 0) & (centers < self.ends[np.maximum(bin_index, 0)])
        level = np.clip(self.values[np.maximum(bin_index, 0)], 0.0, 1.0)
        row = np.where(inside, 1 + np.round(level * 254), 0).astype(np.uint8).tobytes()
        image = QImage(row, columns, 1, columns, QImage.Format.Format_Indexed8)
        image.setColorTable(HEAT_TABLE)
        self.image = image.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)

    def value_color(self, value: float) -> QColor:
        """The colour a value is painted in (what the strip shows for a bin of this value)."""
        return QColor.fromRgba(HEAT_TABLE[1 + round(min(max(value, 0.0), 1.0) * 254)])


def _heat_table() -> list[int]:
    stops = [QColor(c) for c in HEAT_STOPS]
    table = [QColor(HEAT_STOPS[0]).rgba() & 0x00FFFFFF]  # index 0: no data, transparent
    for i in range(255):
        pos = i / 254 * (len(stops) - 1)
        k = min(int(pos), len(stops) - 2)
        table.append(_mix(stops[k], stops[k + 1], pos - k).rgba())
    return table


def _mix(a: QColor, b: QColor, t: float) -> QColor:
    return QColor(
        round(a.red() + (b.red() - a.red()) * t),
        round(a.green() + (b.green() - a.green()) * t),
        round(a.blue() + (b.blue() - a.blue()) * t),
    )


def _shade(color: QColor, background: QColor, strength: float) -> QColor:
    """`color` at `strength` over `background`, as an opaque colour (so pixels are exact)."""
    return _mix(background, color, strength)


HEAT_TABLE = _heat_table()


def _check_count(lane: str, what: str, values: Sequence | np.ndarray | None, n: int) -> None:
    if values is not None and len(values) != n:
        raise ValueError(f"lane {lane!r}: {n} spans but {len(values)} {what}")


def _color_ids(
    colors: QColor | str | Sequence[QColor | str] | None, n: int, default: QColor, lane: str
) -> tuple[list[QColor], np.ndarray]:
    """The lane's distinct colours and each span's index among them."""
    if colors is None or isinstance(colors, QColor | str):
        return [default if colors is None else QColor(colors)], np.zeros(n, dtype=np.int64)
    _check_count(lane, "colours", colors, n)
    names = [QColor(c).name() for c in colors]
    palette = sorted(set(names)) or [default.name()]
    lookup = {name: i for i, name in enumerate(palette)}
    return [QColor(p) for p in palette], np.array([lookup[name] for name in names], dtype=np.int64)
