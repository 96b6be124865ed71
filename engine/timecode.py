"""Times as people write them: "83.5", "1:23.5", "01:01:23.500"."""

from __future__ import annotations

import math
import re

_CLOCK = re.compile(r"^\s*(?:(\d+):)?(?:(\d+):)?(\d+(?:\.\d*)?|\.\d+)\s*$")


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
    """Seconds from "SS.s", "MM:SS.s" or "HH:MM:SS.s". Raises ValueError for anything else."""
    match = _CLOCK.match(text)
    if not match:
        raise ValueError(f"not a time: {text!r} (write seconds, MM:SS or HH:MM:SS)")
    first, second, secs = match.groups()
    hours, minutes = (first, second) if second is not None else (None, first)
    if minutes is not None and hours is not None and int(minutes) >= 60:
        raise ValueError(f"not a time: {text!r} (minutes must be below 60)")
    if minutes is not None and float(secs) >= 60:
        raise ValueError(f"not a time: {text!r} (seconds must be below 60)")
    return int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(secs)
