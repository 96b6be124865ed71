"""The timeline's ruler: which ticks and labels to draw for a visible time range, as pixel positions.

Pure arithmetic (no painting), so the rules can be tested on their own: major steps are "nice" (1, 2, 5
x 10^k seconds up to 10 s, then clock steps: 15 s, 30 s, 1, 2, 5, 10, 15, 30 min, 1, 2, 3, 6, 12 h,
since 100 s ticks read badly as 01:40, 03:20); the step is the finest whose widest label fits between
two ticks with a gap, so labels never overlap. Frame ticks, at the true times of a variable-frame-rate
file, replace the minor ticks once frames are far enough apart to be told apart.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

STEPS_S = (
    *(m * 10.0**e for e in range(-3, 1) for m in (1, 2, 5)),
    10.0,
    15.0,
    30.0,
    60.0,
    120.0,
    300.0,
    600.0,
    900.0,
    1800.0,
    3600.0,
    7200.0,
    10800.0,
    21600.0,
    43200.0,
    86400.0,
)
LABEL_PAD_PX = 4  # a label starts this far right of its tick
LABEL_GAP_PX = 14  # free space between one label's end and the next tick
MIN_MAJOR_PX = 56  # majors closer than this look like a comb even with short labels
MIN_MINOR_PX = 7
MAX_MINOR_PER_MAJOR = 10
FRAME_STEPS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)  # frames between majors when zoomed to frames
MIN_FRAME_TICK_PX = 6  # frames closer than this on average are not drawn one by one


@dataclass(frozen=True)
class Ticks:
    step_s: float  # between two major ticks
    major_x: list[float]  # pixel x of each major tick (may lie a little left of the area: its label shows)
    labels: list[str]  # one per major tick, drawn LABEL_PAD_PX right of it
    minor_x: list[float]  # minor ticks (empty when frame ticks are drawn)
    frame_x: list[float]  # one per frame, when frames are at least MIN_FRAME_TICK_PX apart on average


def label_decimals(step_s: float) -> int:
    """Digits after the second a label at this step needs: 0.5 -> 1, 0.05 -> 2, 0.001 -> 3."""
    return 0 if step_s >= 1 else math.ceil(-math.log10(step_s) - 1e-9)


def format_tick(time_s: float, step_s: float, duration_s: float) -> str:
    """HH:MM:SS for an hour or more of video, MM:SS below, SS.mmm for sub-second steps under a minute;
    sub-second steps add as many decimals as the step needs."""
    decimals = label_decimals(step_s)
    millis = round(time_s * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    fraction = f".{millis:03d}"[: decimals + 1] if decimals else ""
    if duration_s >= 3600:
        return f"{hours:02d}:{minutes:02d}:{seconds:02d}{fraction}"
    if duration_s >= 60 or not decimals:
        return f"{minutes + 60 * hours:02d}:{seconds:02d}{fraction}"
    return f"{seconds + 60 * minutes:02d}{fraction}"


def ruler_ticks(
    start_s: float,
    end_s: float,
    x0: float,
    width_px: float,
    duration_s: float,
    text_width: Callable[[str], float],
    frame_times: np.ndarray | None = None,
) -> Ticks:
    """Ticks for the time range [start_s, end_s) drawn over `width_px` pixels starting at x `x0`.

    `text_width(text)` measures a label in pixels (the painter's font metrics). Zoomed in to frames,
    majors fall on every k-th frame and are labelled with its time to the millisecond.
    """
    px_per_s = width_px / (end_s - start_s)
    frame_x: list[float] = []
    if frame_times is not None and len(frame_times):
        lo, hi = np.searchsorted(frame_times, [start_s, end_s])
        if 0 < hi - lo <= width_px / MIN_FRAME_TICK_PX:
            frame_x = (x0 + (frame_times[lo:hi] - start_s) * px_per_s).tolist()
    if frame_x:
        step, major_t = _frame_majors(frame_times, lo, hi, px_per_s, duration_s, text_width)
        minor_x = []
    else:
        step = next(
            (c for c in STEPS_S if c * px_per_s >= _needed_px(c, duration_s, text_width)), STEPS_S[-1]
        )
        first, last = math.floor(start_s / step), math.ceil(end_s / step)
        major_t = [k * step for k in range(first, last + 1) if k * step <= duration_s]
        minor_x = _minor_ticks(step, start_s, end_s, x0, px_per_s, duration_s)
    major_x = [x0 + (t - start_s) * px_per_s for t in major_t]
    labels = [format_tick(t, step, duration_s) for t in major_t]
    return Ticks(step, major_x, labels, minor_x, frame_x)


def _needed_px(step_s: float, duration_s: float, text_width: Callable[[str], float]) -> float:
    """Room a major tick needs: its widest label and a gap (and never less than MIN_MAJOR_PX)."""
    digit = _widest_digit(text_width)
    widest = "".join(digit if c.isdigit() else c for c in _template(step_s, duration_s))
    return max(MIN_MAJOR_PX, text_width(widest) + LABEL_GAP_PX)


def _frame_majors(
    times: np.ndarray, lo: int, hi: int, px_per_s: float, duration_s: float, text_width
) -> tuple[float, list[float]]:
    """The frames whose index is a multiple of k (k = 1, 2, 5, 10, ...), from the last one before the view,
    with k the smallest whose labels fit at the closest spacing of two such frames (so VFR too)."""
    step = 0.001  # labels to the millisecond: frame times are not multiples of a round step
    needed = _needed_px(step, duration_s, text_width)
    for k in FRAME_STEPS:
        first = max(lo - 1, 0) // k * k
        picked = times[first : hi + k : k]
        closest = float(np.min(np.diff(picked))) if len(picked) > 1 else math.inf
        if closest * px_per_s >= needed:
            break
    return step, times[first:hi:k].tolist()


@functools.lru_cache(maxsize=8)
def _widest_digit(text_width: Callable[[str], float]) -> str:
    """Digits are not equally wide in every font: room is made for the widest."""
    return max("0123456789", key=text_width)


def _template(step_s: float, duration_s: float) -> str:
    """The longest label a step gives in this video (the hour field grows past 99 only beyond 4 days)."""
    return format_tick(max(duration_s, step_s), step_s, duration_s)


def _minor_ticks(
    step_s: float, start_s: float, end_s: float, x0: float, px_per_s: float, duration_s: float
) -> list[float]:
    minor = _minor_step(step_s, px_per_s)
    if minor is None:
        return []
    per_major = round(step_s / minor)
    k0, k1 = math.floor(start_s / minor), math.ceil(end_s / minor)
    return [
        x0 + (k * minor - start_s) * px_per_s
        for k in range(k0, k1 + 1)
        if k % per_major and 0 <= k * minor <= duration_s
    ]


def _minor_step(step_s: float, px_per_s: float) -> float | None:
    """The finest nice step that divides the major one into at most MAX_MINOR_PER_MAJOR parts, each at
    least MIN_MINOR_PX wide."""
    for candidate in STEPS_S:
        if candidate >= step_s:
            return None
        parts = step_s / candidate
        if (
            abs(parts - round(parts)) < 1e-6
            and parts <= MAX_MINOR_PER_MAJOR
            and candidate * px_per_s >= MIN_MINOR_PX
        ):
            return candidate
    return None
