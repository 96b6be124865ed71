"""File names for exports: readable, sorted by span number, and valid on Windows, macOS and Linux.

clip_name("Harbour cam", 3, 12, 83.5, 91.25) == "Harbour cam_03_00h01m23.500-00h01m31.250.mp4"
"""

from __future__ import annotations

import re
import unicodedata

from engine.timecode import format_timecode

# Characters Windows forbids in names, and control characters (forbidden or invisible everywhere).
_FORBIDDEN = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')
# Device names Windows reserves with any extension ("CON.spans.srt" cannot be created there).
_RESERVED = {
    "CON",
    "PRN",
    "AUX",
    "NUL",
    *(f"COM{i}" for i in range(1, 10)),
    *(f"LPT{i}" for i in range(1, 10)),
}
# Linux and macOS allow 255 bytes per name; the stem leaves room for the longest suffix we add.
_STEM_BYTES = 160


def safe_stem(name: str) -> str:
    """A file-name stem from `name`: forbidden characters become "_", length bounded, never empty.

    Unicode is kept (normalized to NFC, as macOS would otherwise store a decomposed form).
    """
    stem = _FORBIDDEN.sub("_", unicodedata.normalize("NFC", name)).strip(" .")
    encoded = stem.encode("utf-8")[:_STEM_BYTES]
    stem = encoded.decode("utf-8", errors="ignore").rstrip(" .")  # drop a character cut in half
    if not stem:
        return "video"
    return f"{stem}_" if stem.split(".")[0].upper() in _RESERVED else stem


def clip_name(stem: str, number: int, count: int, start_s: float, end_s: float) -> str:
    """`<stem>_<NN>_<start>-<end>.mp4`: NN counts from 1, zero-padded to sort; times as 00h01m23.500."""
    width = max(2, len(str(count)))
    return f"{stem}_{number:0{width}d}_{_time_for_name(start_s)}-{_time_for_name(end_s)}.mp4"


def tracked_video_name(start_s: float | None = None, end_s: float | None = None) -> str:
    """`tracked.mp4` for the whole video (the name `scenescope track` gives it), else
    `tracked_<start>-<end>.mp4`."""
    if start_s is None and end_s is None:
        return "tracked.mp4"
    return f"tracked_{_time_for_name(start_s or 0.0)}-{_time_for_name(end_s or 0.0)}.mp4"


def sidecar_name(stem: str, kind: str) -> str:
    """`<stem>.spans.<kind>`; players that look for subtitles next to a video match the stem."""
    return f"{stem}.spans.{kind}"


def _time_for_name(seconds: float) -> str:
    hours, minutes, rest = format_timecode(seconds).split(":")
    return f"{hours}h{minutes}m{rest}"
