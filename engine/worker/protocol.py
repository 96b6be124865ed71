"""The worker's wire format: JSON lines in, JSON lines out (docs/protocol.md is the reference).

    request   {"id": "7", "type": "ask", "video": "video-1", "question": "What happens?"}
    progress  {"id": "7", "event": "progress", "stage": "encode", "done": 64, "total": 128, ...}
    partial   {"id": "7", "event": "partial", "kind": "text", "data": {"text": "A boat"}}
    result    {"id": "7", "event": "result", "data": {...}}
    error     {"id": "7", "event": "error", "code": "video_error", "message": "...", "hint": null}
    pong      {"id": "8", "event": "pong"}

Every line is one JSON object. Errors about a line that has no usable id carry `"id": null`.
`Args` reads a request's fields with their types and ranges, so a wrong argument is a `bad_request`
error naming the field and what it should be, never an exception deep inside the engine.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

PROTOCOL_VERSION = 1
MAX_LINE_BYTES = 16 << 20  # a request longer than this is refused (10,000 spans take about 1.5 MB)
MAX_TEXT_CHARS = 20_000  # questions and queries; the model's context is the real limit, checked later

# Error codes (docs/protocol.md): what went wrong, in a word a client can switch on.
INVALID_JSON = "invalid_json"  # the line is not a JSON object
LINE_TOO_LONG = "line_too_long"
BAD_REQUEST = "bad_request"  # unknown type, missing or wrong arguments, a job id already running
UNKNOWN_HANDLE = "unknown_handle"  # a video, conversation or tracker that is not open (any more)
UNKNOWN_JOB = "unknown_job"  # cancel of a job that is not running
VIDEO_ERROR = "video_error"
MODEL_ERROR = "model_error"
EXPORT_ERROR = "export_error"
INPUT_ERROR = "input_error"  # any other error the user can fix, with the engine's message
CANCELLED = "cancelled"
OUT_OF_MEMORY = "out_of_memory"
INTERNAL = "internal"  # a bug: the traceback is in the worker's log


class ProtocolError(Exception):
    """A request the worker cannot take, with the error event's fields (and the request's id, when a
    line is refused before its request is known)."""

    def __init__(
        self, code: str, message: str, hint: str | None = None, request_id: str | None = None
    ) -> None:
        super().__init__(message)
        self.code, self.message, self.hint, self.request_id = code, message, hint, request_id


@dataclass(frozen=True)
class Request:
    id: str | None
    type: str
    fields: dict[str, Any]


def parse_request(line: bytes) -> Request:
    """One line -> Request. Raises ProtocolError (with the id when one could be read)."""
    try:
        message = json.loads(line)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise ProtocolError(INVALID_JSON, f"the line is not JSON ({_short(e)})") from None
    if not isinstance(message, dict):
        raise ProtocolError(INVALID_JSON, f"a request must be a JSON object, not {type(message).__name__}")
    raw_id = message.get("id")
    request_id = raw_id if isinstance(raw_id, str) and raw_id else None
    kind = message.get("type")
    if raw_id is not None and request_id is None:
        raise ProtocolError(BAD_REQUEST, "'id' must be a non-empty string")
    if not isinstance(kind, str) or not kind:
        raise ProtocolError(BAD_REQUEST, "the request has no 'type' (a string)", request_id=request_id)
    fields = {k: v for k, v in message.items() if k not in ("id", "type")}
    return Request(request_id, kind, fields)


def encode(message: dict[str, Any]) -> bytes:
    """One protocol line. NaN and infinity are not JSON: they are refused here, as a bug."""
    return json.dumps(message, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode() + b"\n"


def error_event(request_id: str | None, code: str, message: str, hint: str | None = None) -> dict[str, Any]:
    return {"id": request_id, "event": "error", "code": code, "message": message, "hint": hint}


class Args:
    """Typed access to a request's fields; every refusal names the field (`bad_request`)."""

    def __init__(self, fields: dict[str, Any], where: str) -> None:
        self._fields = fields
        self.where = where  # for messages: "a ground request", "'sampling' of a ground request"

    @classmethod
    def of(cls, request: Request) -> Args:
        return cls(request.fields, f"a {request.type} request")

    def sub(self, name: str) -> Args:
        """The object in field `name` (empty when absent), read with the same rules."""
        return Args(self.obj(name), f"'{name}' of {self.where}")

    def _fail(self, name: str, wanted: str) -> ProtocolError:
        got = self._fields.get(name)
        shown = json.dumps(got)[:60] if _json_safe(got) else type(got).__name__
        return ProtocolError(BAD_REQUEST, f"'{name}' of {self.where} must be {wanted}, not {shown}")

    def has(self, name: str) -> bool:
        return self._fields.get(name) is not None

    def text(self, name: str, *, optional: bool = False, max_chars: int = MAX_TEXT_CHARS) -> str | None:
        value = self._fields.get(name)
        if value is None and optional:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self._fail(name, "a non-empty string")
        if len(value) > max_chars:
            raise ProtocolError(BAD_REQUEST, f"'{name}' is {len(value):,} characters; at most {max_chars:,}")
        return value

    def number(
        self, name: str, *, optional: bool = False, low: float | None = None, high: float | None = None
    ) -> float | None:
        value = self._fields.get(name)
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise self._fail(name, "a finite number")
        if (low is not None and value < low) or (high is not None and value > high):
            raise self._fail(name, _range_text(low, high))
        return float(value)

    def integer(
        self, name: str, *, optional: bool = False, low: int | None = None, high: int | None = None
    ) -> int | None:
        value = self._fields.get(name)
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._fail(name, "a whole number")
        if (low is not None and value < low) or (high is not None and value > high):
            raise self._fail(name, _range_text(low, high))
        return value

    def flag(self, name: str, default: bool = False) -> bool:
        value = self._fields.get(name, default)
        if not isinstance(value, bool):
            raise self._fail(name, "true or false")
        return value

    def choice(self, name: str, options: Sequence[str], default: str) -> str:
        value = self._fields.get(name, default)
        if value not in options:
            raise self._fail(name, "one of " + ", ".join(options))
        return value

    def some_of(self, name: str, options: Sequence[str]) -> list[str]:
        """true or absent: all of `options`; false: none; or a list of some of them (in `options`' order)."""
        value = self._fields.get(name, True)
        if isinstance(value, bool):
            return list(options) if value else []
        if not isinstance(value, list) or not set(value) <= set(options):
            raise self._fail(name, "true, false or a list of some of " + ", ".join(options))
        return [option for option in options if option in value]

    def obj(self, name: str, *, optional: bool = True) -> dict[str, Any]:
        value = self._fields.get(name)
        if value is None and optional:
            return {}
        if not isinstance(value, dict):
            raise self._fail(name, "an object")
        return value

    def items(self, name: str, *, optional: bool = False, most: int = 100_000) -> list[Any]:
        value = self._fields.get(name)
        if value is None and optional:
            return []
        if not isinstance(value, list):
            raise self._fail(name, "a list")
        if len(value) > most:
            raise ProtocolError(BAD_REQUEST, f"'{name}' holds {len(value):,} items; at most {most:,}")
        return value

    def points(self, name: str) -> list[tuple[float, float]]:
        """[[x, y], ...] of finite numbers (video pixels)."""
        points = []
        for p in self.items(name, optional=True, most=1000):
            if not (isinstance(p, list) and len(p) == 2 and all(_finite(v) for v in p)):
                raise self._fail(name, "a list of [x, y] pairs of finite numbers")
            points.append((float(p[0]), float(p[1])))
        return points

    def box(self, name: str) -> tuple[float, float, float, float] | None:
        value = self._fields.get(name)
        if value is None:
            return None
        if not (isinstance(value, list) and len(value) == 4 and all(_finite(v) for v in value)):
            raise self._fail(name, "[x0, y0, x1, y1] of finite numbers")
        x0, y0, x1, y1 = (float(v) for v in value)
        return x0, y0, x1, y1


def _finite(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)


def _json_safe(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        return False
    return True


def _range_text(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"between {low:g} and {high:g}"
    return f"at least {low:g}" if low is not None else f"at most {high:g}"


def _short(error: Exception) -> str:
    return str(error).split("\n")[0][:120]
