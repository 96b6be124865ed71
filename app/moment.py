"""A moment in the window: a span of the video with what the analyst decided about it and where it came from.

Plain data (no Qt), stored in the session (docs/formats.md, "Session", `moments`): each moment is a span
object (engine/spans.py) with three more keys, so a session's moments also load as a spans file:

    {"start_s": 12.0, "end_s": 15.5, "score": 0.8, "source": "both", "label": null, "query": "a van",
     "id": "3f2a9c01d4e7", "state": "accepted",
     "provenance": {"query": "a van", "model": "OpenGVLab/...@6dd8f38...", "sampling": {...}}}

Moments of an older session (span objects only) read as undecided, with a new id and no provenance.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from typing import Any

from engine.spans import Span

STATES = ("undecided", "accepted", "rejected")
PROVENANCE_KEYS = ("query", "model", "sampling", "refined")


def new_id() -> str:
    return uuid.uuid4().hex[:12]


@dataclass(frozen=True)
class Moment:
    """A span with a stable id (edits keep it; a split gives the second half a new one), the analyst's
    decision, and how it was found (`provenance`: query, model and sampling of the search; empty for a
    moment made by hand; `refined` once the dense second look moved its edges)."""

    span: Span
    id: str = field(default_factory=new_id)
    state: str = "undecided"
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.state not in STATES:
            raise ValueError(f"'state' must be one of {', '.join(STATES)}, not {self.state!r}")

    def with_span(self, **changes: Any) -> Moment:
        """The same moment with span fields changed (start_s, end_s, label, ...)."""
        return replace(self, span=replace(self.span, **changes))

    def to_dict(self) -> dict[str, Any]:
        return {**self.span.to_dict(), "id": self.id, "state": self.state, "provenance": self.provenance}

    @classmethod
    def from_dict(cls, data: Any) -> Moment:
        """Read one moment; raises ValueError naming the field that is wrong."""
        span = Span.from_dict(data)
        moment_id = data.get("id", new_id())
        if not isinstance(moment_id, str) or not moment_id:
            raise ValueError(f"'id' must be a non-empty string, not {moment_id!r}")
        state = data.get("state", "undecided")
        if state not in STATES:
            raise ValueError(f"'state' must be one of {', '.join(STATES)}, not {state!r}")
        provenance = data.get("provenance", {})
        if not isinstance(provenance, dict):
            raise ValueError(f"'provenance' must be an object, not {type(provenance).__name__}")
        return cls(span=span, id=moment_id, state=state, provenance=dict(provenance))
