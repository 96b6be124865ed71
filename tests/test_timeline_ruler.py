"""The ruler's arithmetic on its own: label formats, and labels that never overlap whatever the font."""

from __future__ import annotations

import numpy as np
import pytest

from app.timeline_ruler import LABEL_PAD_PX, format_tick, ruler_ticks


def odd_font(text: str) -> float:
    """A font whose "1" is far wider than its "8" (proportional digits exist; this exaggerates them)."""
    return sum(14.0 if c == "1" else 6.0 for c in text)


@pytest.mark.parametrize(
    ("time_s", "step_s", "duration_s", "text"),
    [
        (3725.0, 5.0, 7200.0, "01:02:05"),
        (3725.25, 0.05, 7200.0, "01:02:05.25"),
        (125.0, 10.0, 600.0, "02:05"),
        (125.0333, 0.001, 600.0, "02:05.033"),
        (12.5, 0.5, 30.0, "12.5"),
        (12.0, 1.0, 30.0, "00:12"),
        (59.999, 0.001, 59.0, "59.999"),
    ],
)
def test_labels_read_as_clock_times_as_fine_as_the_step(time_s, step_s, duration_s, text):
    assert format_tick(time_s, step_s, duration_s) == text


@pytest.mark.parametrize("duration", [86_400.0, 7200.0, 600.0, 20.0])
def test_labels_never_overlap_whatever_the_digit_widths(duration):
    width = 1200
    for span in duration / np.geomspace(1, 50_000, 60):
        start = duration * 0.41 - span / 3
        start = min(max(start, 0.0), duration - span)
        ticks = ruler_ticks(start, start + span, 0, width, duration, odd_font)
        lefts = [x + LABEL_PAD_PX for x in ticks.major_x]
        rights = [left + odd_font(label) for left, label in zip(lefts, ticks.labels, strict=True)]
        for right, left in zip(rights[:-1], lefts[1:], strict=True):
            assert left > right, (start, span, ticks.labels)
        assert len(ticks.major_x) >= 2 or span > duration / 2


def test_majors_are_nice_steps_and_minors_divide_them():
    ticks = ruler_ticks(0, 600, 0, 1200, 600.0, lambda text: 6.0 * len(text))
    assert ticks.step_s in (30.0, 60.0)
    minor_steps = np.diff(sorted({*ticks.minor_x, *ticks.major_x}))
    assert np.allclose(minor_steps, minor_steps[0]) and 2 <= ticks.step_s * 2 / minor_steps[0] <= 20


def test_zoomed_to_frames_majors_fall_on_frames_of_a_variable_rate_file():
    times = np.cumsum(np.r_[0.0, np.tile([0.04, 0.1, 0.02], 100)])
    ticks = ruler_ticks(2.0, 2.6, 0, 1200, float(times[-1]), lambda text: 6.0 * len(text), times)
    visible = times[(times >= 2.0) & (times < 2.6)]
    assert ticks.frame_x == pytest.approx((visible - 2.0) * 2000)
    on_frames = [np.min(np.abs(times - (2.0 + x / 2000))) for x in ticks.major_x]
    assert max(on_frames) < 1e-9
    assert ticks.minor_x == []
