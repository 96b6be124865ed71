"""One exchange of the chat: the question, what it was about, the answer as it came, and how it ended.

Plain data (no Qt) with `to_dict`/`from_dict`, saved as the session's `chat` list (docs/formats.md,
"Session"). `from_dict` is strict: a damaged turn says which field is wrong. The answer is the engine's
`Answer.to_dict()` as the worker sent it (frames used with their times, sampling, vision passes,
timings), so a reopened session shows everything without running the model again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

SCOPES = ("video", "span", "view")  # the whole video, the selected span, the visible part of the timeline
STATES = ("answering", "done", "cancelled", "failed")
SAVED_STATES = STATES[1:]  # an answer still streaming when the session was saved is saved as cancelled


@dataclass(frozen=True)
class Scope:
    """What a question is about: the whole video, or the stretch [start_s, end_s)."""

    kind: str = "video"
    start_s: float | None = None
    end_s: float | None = None

    def sampling_range(self) -> dict[str, float]:
        """The `start_s`/`end_s` fields of the worker's `sampling` (none for the whole video)."""
        return {} if self.start_s is None else {"start_s": self.start_s, "end_s": self.end_s}

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "start_s": self.start_s, "end_s": self.end_s}

    @classmethod
    def from_dict(cls, data: Any) -> Scope:
        data = _object(data, "scope")
        kind = data.get("kind")
        if kind not in SCOPES:
            raise ValueError(f"'scope.kind' must be one of {', '.join(SCOPES)}, not {kind!r}")
        start, end = data.get("start_s"), data.get("end_s")
        if kind == "video":
            if start is not None or end is not None:
                raise ValueError("'scope' of the whole video must have null 'start_s' and 'end_s'")
            return cls()
        start, end = _seconds(start, "scope.start_s"), _seconds(end, "scope.end_s")
        if end <= start:
            raise ValueError(f"'scope.end_s' must be after 'scope.start_s', not {start} .. {end}")
        return cls(kind, start, end)


@dataclass
class ChatTurn:
    question: str
    scope: Scope = field(default_factory=Scope)
    text: str = ""  # the answer so far (all of it once done)
    state: str = "answering"
    answer: dict[str, Any] | None = None  # engine Answer.to_dict(), once done
    error: dict[str, Any] | None = None  # the worker's {"code", "message", "hint"}, once failed
    conversation_start: bool = True  # the first question of a conversation (a follow-up otherwise)

    @property
    def frames(self) -> list[tuple[int, float]]:
        """(frame index, time) of the frames the answer was based on."""
        if self.answer is None:
            return []
        return [(int(f["index"]), float(f["time_s"])) for f in self.answer["frames"]]

    def footer(self) -> str:
        """What the answer cost: frames seen, vision passes, time to the first token."""
        if self.answer is None:
            return ""
        passes = self.answer["cache"]["vision_passes"]
        first = self.answer["timings_s"].get("first_token_s")
        parts = [f"{len(self.answer['frames'])} frames", f"{passes} vision pass{'' if passes == 1 else 'es'}"]
        if first is not None:
            parts.append(f"first token {first:.2f} s")
        return " · ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "scope": self.scope.to_dict(),
            "text": self.text,
            "state": self.state if self.state in SAVED_STATES else "cancelled",
            "answer": self.answer,
            "error": self.error,
            "conversation_start": self.conversation_start,
        }

    @classmethod
    def from_dict(cls, data: Any) -> ChatTurn:
        """Read a saved turn; raises ValueError naming the wrong field."""
        data = _object(data, "turn")
        question, text = data.get("question"), data.get("text", "")
        if not isinstance(question, str) or not question.strip():
            raise ValueError(f"'question' must be a non-empty string, not {type(question).__name__}")
        if not isinstance(text, str):
            raise ValueError(f"'text' must be a string, not {type(text).__name__}")
        state = data.get("state")
        if state not in SAVED_STATES:
            raise ValueError(f"'state' must be one of {', '.join(SAVED_STATES)}, not {state!r}")
        answer, error = data.get("answer"), data.get("error")
        if answer is not None:
            _check_answer(_object(answer, "answer"))
        if error is not None and not isinstance(_object(error, "error").get("message"), str):
            raise ValueError("'error.message' must be a string")
        start = data.get("conversation_start", True)
        if not isinstance(start, bool):
            raise ValueError(f"'conversation_start' must be true or false, not {start!r}")
        return cls(
            question, Scope.from_dict(data.get("scope", {"kind": "video"})), text, state, answer, error, start
        )


def _check_answer(answer: dict[str, Any]) -> None:
    """What the panel reads from a saved answer is there and has the right types."""
    from engine.assistant import Answer

    try:
        Answer.from_dict(answer)
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"'answer' is not an answer of the engine ({type(e).__name__}: {e})") from None
    for i, frame in enumerate(answer["frames"]):
        index, time_s = frame.get("index"), frame.get("time_s")
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise ValueError(f"'answer.frames[{i}].index' must be a frame number, not {index!r}")
        _seconds(time_s, f"answer.frames[{i}].time_s")


def _object(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{name!r} must be an object, not {type(value).__name__}")
    return value


def _seconds(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name!r} must be a time in seconds (0 or more), not {value!r}")
    return float(value)
