"""The relevance curve of the last "find moments", as the session keeps it (the timeline's heat strip).

Plain data (no Qt). In the session (docs/formats.md, "Session", `relevance`) it is one object of three
parallel arrays, rounded, so an hour scanned at a point per second stays a few tens of kilobytes:

    {"query": "a white van", "starts_s": [0.0, 1.0, ...], "ends_s": [4.0, 5.0, ...], "scores": [0.03, ...]}
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

TIME_DECIMALS = 3  # 1 ms: far below a pixel of the timeline, and below a frame of any video
SCORE_DECIMALS = 3  # finer than the 256 steps of the strip's colour ramp
ARRAYS = ("starts_s", "ends_s", "scores")


@dataclass(frozen=True, eq=False)
class Relevance:
    """One score per window [start, end) of the scan, for `query`."""

    query: str
    starts_s: np.ndarray
    ends_s: np.ndarray
    scores: np.ndarray

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Relevance):
            return NotImplemented
        mine, theirs = (self.starts_s, self.ends_s, self.scores), (other.starts_s, other.ends_s, other.scores)
        same = all(np.array_equal(a, b) for a, b in zip(mine, theirs, strict=True))
        return self.query == other.query and same

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "starts_s": np.round(self.starts_s, TIME_DECIMALS).tolist(),
            "ends_s": np.round(self.ends_s, TIME_DECIMALS).tolist(),
            "scores": np.round(self.scores, SCORE_DECIMALS).tolist(),
        }

    @classmethod
    def from_dict(cls, data: Any) -> Relevance:
        """Read the session's curve; raises ValueError naming the field that is wrong."""
        if not isinstance(data, dict):
            raise ValueError(f"'relevance' must be an object or null, not {type(data).__name__}")
        query = data.get("query")
        if not isinstance(query, str) or not query:
            raise ValueError(f"'relevance.query' must be a non-empty string, not {query!r}")
        starts, ends, scores = (_numbers(data.get(name), name) for name in ARRAYS)
        if not len(starts) == len(ends) == len(scores):
            raise ValueError(
                "'relevance.starts_s', 'ends_s' and 'scores' must have one number per window each, "
                f"not {len(starts)}, {len(ends)} and {len(scores)}"
            )
        bad = np.flatnonzero((starts < 0) | (ends <= starts))
        if len(bad):
            i = int(bad[0])
            raise ValueError(
                f"'relevance' window {i + 1} must have 0 <= start < end, not {starts[i]}, {ends[i]}"
            )
        bad = np.flatnonzero((scores < 0) | (scores > 1))
        if len(bad):
            raise ValueError(f"'relevance.scores' must be 0 to 1, not {scores[int(bad[0])]}")
        return cls(query, starts, ends, scores)


def _numbers(value: Any, name: str) -> np.ndarray:
    if not isinstance(value, list):
        raise ValueError(f"'relevance.{name}' must be a list of numbers, not {type(value).__name__}")
    for item in value:  # numpy would take "1" and True for numbers
        if isinstance(item, bool) or not isinstance(item, int | float) or not math.isfinite(item):
            raise ValueError(f"'relevance.{name}' must hold only numbers, not {item!r}")
    return np.asarray(value, np.float64)
