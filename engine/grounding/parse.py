"""Read time spans out of what video LLMs actually write.

    "The event happens in 12.3 - 20.1 seconds."        -> [(12.3, 20.1)]
    "from 0:45 to 1:10, and again 2:05-2:30"           -> [(45, 70), (125, 150)]
    "It starts at 01:02:03.5."                          -> [(3723.5, 3723.5)]   a moment, not a span
    "between frame 3 and frame 5"                       -> times of the 3rd and 5th sampled frames

Rules, in order: times are clock times (`1:02`, `01:02:03.5`), numbers with a unit (`90s`, `1.5 min`,
`2 minutes 10 seconds`, `1h2m`), or bare numbers (seconds, or the unit written after the second number
of a range: "12 - 20 seconds"). Two times joined by a dash, "to", "until", "till", "through" or
"between ... and ..." form a span; a time standing alone is a moment. Reversed spans are turned around;
values beyond the video are clamped, and spans wholly outside it dropped. Words that merely contain
"to" ("bottom", "tomato") are never read as ranges, unlike the reference evaluation script.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

_UNIT_SECONDS = {
    "h": 3600.0, "hr": 3600.0, "hrs": 3600.0, "hour": 3600.0, "hours": 3600.0,
    "m": 60.0, "min": 60.0, "mins": 60.0, "minute": 60.0, "minutes": 60.0,
    "s": 1.0, "sec": 1.0, "secs": 1.0, "second": 1.0, "seconds": 1.0, "seonds": 1.0,
    "ms": 0.001, "millisecond": 0.001, "milliseconds": 0.001,
}  # fmt: skip
_UNIT = r"(?:hours?|hrs?|h|minutes?|mins?|m|milliseconds?|ms|seconds?|seonds|secs?|s)(?![a-z])"
_NUM = r"(?:\d+(?:\.\d+)?|\.\d+)(?!\d|\.\d|\s*%)"
# One time expression. Alternatives are tried left to right: clock, compound units, frame, number+unit.
_TIME = (
    rf"(?P<clock>\d{{1,3}}:\d{{1,2}}(?::\d{{1,2}})?(?:\.\d+)?)"
    rf"|(?P<compound>(?:{_NUM}\s*{_UNIT}\s*){{2,3}})"
    rf"|frames?\s*#?\s*(?P<frame>\d+)"
    rf"|(?P<num>{_NUM})(?:\s*(?P<unit>{_UNIT}))?"
)
_RANGE_JOIN = (
    r"\s*(?:-+>|-|–|—|~|\bto\b|\buntil\b|\btill\b|\bthrough\b|\bthru\b)\s*"
    r"(?:(?:about|around|approximately|roughly|~)\s*)?"
)
# "between A and B" is a range; a plain "A and B" names two moments.
_BETWEEN = re.compile(r"\bbetween\s+((?:[^.;!?]|\.(?=\d)){1,40}?)\s+and\s+")
_FROM_START = re.compile(r"\bfrom\s+the\s+(?:very\s+)?(?:beginning|start)(?:\s+of\s+the\s+(?:video|clip))?")
_TO_END = re.compile(r"\b(?:to|until|till|through)\s+the\s+(?:very\s+)?end(?:\s+of\s+the\s+(?:video|clip))?")
# A moment said to start, then one said to end, make one span: "starts at 12.5 s and ends at 18 s".
_START_WORD = re.compile(r"\b(?:start\w*|begin\w*|from)\b[^.;]{0,20}$")
_TIME_CONTEXT = re.compile(
    r"(?:\b(?:at|around|about|from|after|since|by|approximately|time|timestamp|start\w*|begin\w*|end\w*)"
    r"|~)\s*:?\s*$"
)
_END_WORD = re.compile(r"\b(?:end\w*|finish\w*|stop\w*|until|till)\b[^.;]{0,20}$")
_TIME_RE = re.compile(_TIME)
# Two time expressions joined into a range: the same pattern twice, its groups renamed a_* and b_*.
_RANGE_RE = re.compile(
    rf"(?P<a>{_TIME.replace('?P<', '?P<a_')}){_RANGE_JOIN}(?P<b>{_TIME.replace('?P<', '?P<b_')})"
)
_COMPOUND_PART = re.compile(rf"({_NUM})\s*({_UNIT})")


@dataclass(frozen=True)
class TimeMention:
    """A time or span written in a text: where (`text[start:end]`) and what (seconds; a moment has
    start_s == end_s)."""

    start: int
    end: int
    start_s: float
    end_s: float


def parse_time_spans(
    text: str, duration_s: float, frame_times_s: Sequence[float] | None = None
) -> list[tuple[float, float]]:
    """Every span or moment named in `text`, as (start_s, end_s) in order of appearance, deduplicated.

    A moment comes back as (t, t). `frame_times_s` maps "frame k" (1-based, as the prompt numbers the
    sampled frames) to seconds; without it frame references are ignored.
    """
    spans: list[tuple[float, float]] = []
    for mention in time_mentions(text, duration_s, frame_times_s):
        if (span := (mention.start_s, mention.end_s)) not in spans:
            spans.append(span)
    return spans


def time_mentions(
    text: str, duration_s: float, frame_times_s: Sequence[float] | None = None
) -> list[TimeMention]:
    """Every time or span written in `text` with its place there (for links), ranges first, then lone
    times, each in order of appearance; clamped to the video like `parse_time_spans`, not deduplicated."""
    # Rewrites change lengths, so `origin[i]` remembers which character of `text` made lowered[i].
    # Lowered one character at a time: a few ("İ") lower to two, which would shift every place after.
    lowered = "".join(" " if c == "," else c.lower() if len(c.lower()) == 1 else c for c in text)
    origin = _Origin(list(range(len(text))), list(range(len(text))))
    lowered, origin = _rewrite(_BETWEEN, lambda m: f"{m.group(1)} to ", lowered, origin)
    lowered, origin = _rewrite(_FROM_START, lambda m: "from 0", lowered, origin)
    lowered, origin = _rewrite(_TO_END, lambda m: f"to {duration_s:.3f}", lowered, origin)
    found: list[tuple[int, int, float, float]] = []  # lowered start, end, start_s, end_s
    taken = [False] * len(lowered)
    for match in _RANGE_RE.finditer(lowered):
        a, b = _range_ends(match, frame_times_s)
        if a is None or b is None:
            continue
        found.append((match.start(), match.end(), a, b))
        taken[match.start() : match.end()] = [True] * (match.end() - match.start())
    pending_start: float | None = None  # a moment said to be a start, waiting for its end
    for match in _TIME_RE.finditer(lowered):
        if any(taken[match.start() : match.end()]) or not _looks_like_a_time(match, lowered):
            continue
        t = _seconds(match.groupdict(), frame_times_s, default_unit=1.0)
        if t is None:
            continue
        before = lowered[: match.start()]
        if pending_start is not None and _END_WORD.search(before):
            found[-1] = (found[-1][0], match.end(), pending_start, t)
            pending_start = None
            continue
        found.append((match.start(), match.end(), t, t))
        pending_start = t if _START_WORD.search(before) else None
    mentions = []
    for start, end, a, b in found:
        a, b = min(a, b), max(a, b)
        if a > duration_s:
            continue
        first, last = origin.firsts[start], origin.lasts[end - 1] + 1
        mentions.append(TimeMention(first, max(last, first + 1), max(0.0, a), min(duration_s, b)))
    return mentions


def _rewrite(
    pattern: re.Pattern, replace: Callable[[re.Match], str], text: str, origin: _Origin
) -> tuple[str, _Origin]:
    """`pattern.sub(replace, text)`, and where each character of the result came from: a character of a
    replacement starts where its match started and ends where it ended, so a mention touching it covers
    the whole phrase rewritten."""
    parts, firsts, lasts, at = [], [], [], 0
    for match in pattern.finditer(text):
        piece = replace(match)
        parts += [text[at : match.start()], piece]
        firsts += origin.firsts[at : match.start()] + [origin.firsts[match.start()]] * len(piece)
        lasts += origin.lasts[at : match.start()] + [origin.lasts[match.end() - 1]] * len(piece)
        at = match.end()
    parts.append(text[at:])
    return "".join(parts), _Origin(firsts + origin.firsts[at:], lasts + origin.lasts[at:])


@dataclass
class _Origin:
    """For each character of a rewritten text, the first and last character of the original it stands for."""

    firsts: list[int]
    lasts: list[int]


def _range_ends(match: re.Match, frame_times_s) -> tuple[float | None, float | None]:
    groups = match.groupdict()
    a = {k[2:]: v for k, v in groups.items() if k.startswith("a_")}
    b = {k[2:]: v for k, v in groups.items() if k.startswith("b_")}
    if a.get("frame") and b.get("num") and not b.get("unit"):
        b = {"frame": b["num"]}  # "frames 3-5"
    # "12 - 20 seconds", "from 1 to 2 minutes": a unit after the second number covers both.
    unit_b = _UNIT_SECONDS[b["unit"]] if b.get("unit") else 1.0
    unit_a = _UNIT_SECONDS[a["unit"]] if a.get("unit") else unit_b
    return _seconds(a, frame_times_s, unit_a), _seconds(b, frame_times_s, unit_b)


def _seconds(parts: dict, frame_times_s, default_unit: float) -> float | None:
    if parts.get("clock"):
        fields = [float(x) for x in parts["clock"].split(":")]
        if any(f >= 60 for f in fields[1:]):
            return None
        value = 0.0
        for f in fields:
            value = value * 60 + f
        return value
    if parts.get("compound"):
        return sum(float(n) * _UNIT_SECONDS[u] for n, u in _COMPOUND_PART.findall(parts["compound"]))
    if parts.get("frame"):
        k = int(parts["frame"])
        if frame_times_s is None or not 1 <= k <= len(frame_times_s):
            return None
        return float(frame_times_s[k - 1])
    if parts.get("num"):
        unit = _UNIT_SECONDS[parts["unit"]] if parts.get("unit") else default_unit
        return float(parts["num"]) * unit
    return None


def _looks_like_a_time(match: re.Match, text: str) -> bool:
    """A lone bare number is a time only when the words around it say so ("at 12.5", "12.5 s")."""
    groups = match.groupdict()
    if groups["clock"] or groups["compound"] or groups["frame"] or groups["unit"]:
        return True
    before = text[max(0, match.start() - 12) : match.start()]
    return bool(_TIME_CONTEXT.search(before))
