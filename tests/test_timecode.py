"""Times as people type them: every field of a clock time is checked, and formatting reads back."""

from __future__ import annotations

import pytest

from engine.timecode import format_timecode, parse_timecode


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("83.5", 83.5),
        ("1:23.5", 83.5),
        ("0:59.999", 59.999),
        ("75:00", 4500.0),  # minutes may pass 59 when no hours are written
        ("01:01:23.5", 3683.5),
        ("1:59:59", 7199.0),
    ],
)
def test_clock_times(text, seconds):
    assert parse_timecode(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        # M:SS, where the seconds are the only field to check: "1:75" is not 135 s
        ("1:75", "seconds must be below 60"),
        ("0:60", "seconds must be below 60"),
        ("0:75", "seconds must be below 60"),
        ("1:99", "seconds must be below 60"),
        ("2:60.5", "seconds must be below 60"),
        # H:MM:SS, where both fields after the hours are checked
        ("1:00:60", "seconds must be below 60"),
        ("1:60:00", "minutes must be below 60"),
        ("0:75:30", "minutes must be below 60"),
    ],
)
def test_out_of_range_fields_are_refused_with_the_reason(text, reason):
    with pytest.raises(ValueError, match=f"not a time: '{text}' \\({reason}\\)"):
        parse_timecode(text)


@pytest.mark.parametrize("seconds", [0.0, 0.5, 59.999, 60.0, 83.5, 3599.999, 3683.25, 360_000.0])
def test_formatted_times_parse_back(seconds):
    assert parse_timecode(format_timecode(seconds)) == pytest.approx(seconds)
