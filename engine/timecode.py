"""Times as people write them: "83.5", "1:23.5", "01:01:23.500"."""

from __future__ import annotations

import math
import re

_CLOCK = re.compile(r"^\s*(?:(\d+):)?(?:(\d+):)?(\d+(?:\.\d*)?|\.\d+)\s*$")
# Longer than any recording; keeps every time that enters (typed, or read from a file) exact to the
# millisecond in a float and formattable.
MAX_SECONDS = 100_000 * 3600.0


def check_seconds(value: float, what: str = "a time") -> float:
    """`value` as float if it is a finite time from 0 to `MAX_SECONDS`; ValueError that names the limit."""
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number of seconds, not {value!r}")
    if value < 0:
        raise ValueError(f"{what} cannot be negative ({value:g} s)")
    if value > MAX_SECONDS:
        raise ValueError(f"{what} of {value:g} s is past the limit of {MAX_SECONDS:.0f} s (100000 hours)")
    return value


def format_timecode(seconds: float) -> str:
    """HH:MM:SS.mmm (hours grow past 99 rather than wrap)."""
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"cannot format {seconds!r} as a time")
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def parse_timecode(text: str) -> float:
    """Seconds from "SS.s", "MM:SS.s" or "HH:MM:SS.s"; ValueError with the reason for anything else."""
    match = _CLOCK.match(text)
    if not match:
        negative = text.strip().startswith("-")
        reason = "a time is never negative" if negative else "write seconds, MM:SS or HH:MM:SS"
        raise _not_a_time(text, reason)
    first, second, secs = match.groups()
    hours, minutes = (first, second) if second is not None else (None, first)
    if minutes is not None and hours is not None and float(minutes) >= 60:
        raise _not_a_time(text, "minutes must be below 60")
    if minutes is not None and float(secs) >= 60:
        raise _not_a_time(text, "seconds must be below 60")
    # floats, not ints: a field of hundreds of digits becomes inf (refused below), not an OverflowError
    seconds = float(hours or 0) * 3600 + float(minutes or 0) * 60 + float(secs)
    if seconds > MAX_SECONDS:
        raise _not_a_time(text, f"past the limit of {MAX_SECONDS:.0f} s, 100000 hours")
    return seconds


def _not_a_time(text: str, reason: str) -> ValueError:
    shown = text if len(text) <= 40 else text[:37] + "..."
    return ValueError(f"not a time: {shown!r} ({reason})")
