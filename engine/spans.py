"""Spans: stretches of a video that answer a query, in seconds of presentation time.

Grounding makes them, the timeline draws them, export cuts them. Times are on the clock of
`engine.video` (`FrameTable.times_s`): seconds from the start of the file.

The JSON form (documented in docs/formats.md) is a list of span objects, or an object with a "spans"
list (what `scenescope ground --json` prints, and the export sidecar); other keys are ignored, so
either file loads here. Times may be numbers of seconds or timecode strings ("01:02:03.5").
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from engine.atomic import write_bytes_atomic
from engine.errors import ScenescopeError
from engine.timecode import check_seconds, parse_timecode
from engine.user_files import read_json

_FORMAT_HINT = "See docs/formats.md for the spans format."


@dataclass(frozen=True)
class Span:
    """One stretch of video: [start_s, end_s) in seconds from the start of the file."""

    start_s: float
    end_s: float
    score: float | None = None  # relevance from the model, higher is better; None for hand-made spans
    source: str = "user"  # what made it: grounding's "text", "curve" or "both", or "user" (drawn by hand)
    label: str | None = None  # a short caption to show, e.g. the model's description of the moment
    query: str | None = None  # the question or phrase the span answers

    def __post_init__(self) -> None:
        check_seconds(self.start_s, "start_s")
        check_seconds(self.end_s, "end_s")
        if self.end_s <= self.start_s:
            raise ValueError(f"a span must end after it starts ({self.start_s} .. {self.end_s})")
        if self.score is not None and not math.isfinite(self.score):
            raise ValueError(f"a span's score must be a finite number, not {self.score!r}")

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def to_dict(self) -> dict[str, Any]:
        return {
            "start_s": self.start_s,
            "end_s": self.end_s,
            "score": self.score,
            "source": self.source,
            "label": self.label,
            "query": self.query,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Span:
        """Read one span object; raises ValueError naming the field that is wrong."""
        if not isinstance(data, dict):
            raise ValueError(f"a span must be an object with start_s and end_s, not {type(data).__name__}")
        for key in ("start_s", "end_s"):
            if key not in data:
                raise ValueError(f"the span has no {key!r}")
        score = data.get("score")
        if score is not None and (isinstance(score, bool) or not isinstance(score, int | float)):
            raise ValueError(f"'score' must be a number or null, not {score!r}")
        return cls(
            start_s=_seconds(data["start_s"], "start_s"),
            end_s=_seconds(data["end_s"], "end_s"),
            score=None if score is None else float(score),
            source=_text(data.get("source"), "source") or "user",
            label=_text(data.get("label"), "label"),
            query=_text(data.get("query"), "query"),
        )


def spans_from_json(data: Any) -> list[Span]:
    """Spans from parsed JSON: a list of span objects, or an object holding one under "spans"."""
    items = data.get("spans") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise ValueError('expected a list of spans, or an object with a "spans" list')
    spans = []
    for number, item in enumerate(items, start=1):
        try:
            spans.append(Span.from_dict(item))
        except ValueError as e:
            raise ValueError(f"span {number}: {e}") from None
    return spans


def load_spans(path: str | os.PathLike) -> list[Span]:
    """Read a spans file. Raises `ScenescopeError` with a message that says what to fix."""
    data = read_json(path, "spans file", _FORMAT_HINT)
    try:
        return spans_from_json(data)
    except ValueError as e:
        raise ScenescopeError(f"{path}: {e}. {_FORMAT_HINT}") from None


def save_spans(path: str | os.PathLike, spans: Sequence[Span], *, overwrite: bool = False) -> None:
    """Write `{"spans": [...]}` atomically; refuses to replace an existing file unless `overwrite`."""
    text = json.dumps({"spans": [s.to_dict() for s in spans]}, ensure_ascii=False, indent=2) + "\n"
    write_bytes_atomic(path, text.encode("utf-8"), overwrite=overwrite)


def _seconds(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{key!r} must be seconds or a timecode, not {value!r}")
    return parse_timecode(value) if isinstance(value, str) else float(value)


def _text(value: Any, key: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{key!r} must be text or null, not {value!r}")
    return value
