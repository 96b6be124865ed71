"""Paths the user names (videos, spans and tracks files, model folders), checked before anything opens them.

Opening a named pipe blocks until something writes into it and a device can be endless (/dev/zero), so
only regular files are opened as files and only folders used as folders; anything else is refused with
a message that says what the path is. JSON the user hands over is read here as well, so that the
reader's limits (nesting depth, NaN and Infinity, numbers too large for a float, encoding) end in that
same kind of message instead of an internal error.
"""

from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path
from typing import Any

from engine.errors import ScenescopeError

_SPECIAL = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISREG, "a file"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def regular_file(path: str | os.PathLike, what: str, error: type[ScenescopeError] = ScenescopeError) -> Path:
    """`path` if it is a regular file this process can read (links followed); else `error` saying what it is.

    `what` names the role, e.g. "video file" or "spans file": "No such spans file: ...".
    """
    path = Path(path)
    mode = _mode(path, what, error)
    if stat.S_ISDIR(mode):
        raise error(f"{path} is a folder, not a {what}. Choose a file inside it.")
    if not stat.S_ISREG(mode):
        raise error(f"{path} is {_kind(mode)}, not a {what}. Give the path of a regular file.")
    try:
        with path.open("rb"):  # a regular file opens at once
            pass
    except PermissionError:
        raise error(f"Cannot read {path}: permission denied. Check the file's permissions.") from None
    except OSError as e:
        raise error(f"Cannot read {path}: {e.strerror or e}. Check the file and the drive.") from None
    return path


def folder(path: str | os.PathLike, what: str, error: type[ScenescopeError] = ScenescopeError) -> Path:
    """`path` if it is a folder (links followed); else `error` saying what it is."""
    path = Path(path)
    mode = _mode(path, what, error)
    if not stat.S_ISDIR(mode):
        raise error(f"{path} is {_kind(mode)}, not a {what}. Give the path of a folder.")
    return path


def read_json(
    path: str | os.PathLike, what: str, fix: str, error: type[ScenescopeError] = ScenescopeError
) -> Any:
    """Parse a JSON file the user gave; any problem is an `error` naming the file and ending with `fix`.

    Stricter than `json.loads` in what a reader should never see: NaN, Infinity and numbers that overflow a
    float are refused, and nesting too deep for the parser is a message rather than a RecursionError.
    """
    path = regular_file(path, what, error)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise error(f"{path} is not a {what}: it is not UTF-8 text. {fix}") from None
    except OSError as e:
        raise error(f"Cannot read {path}: {e.strerror or e}. {fix}") from None
    try:
        return loads_strict(text)
    except json.JSONDecodeError as e:
        raise error(f"{path} is not valid JSON (line {e.lineno}, column {e.colno}): {e.msg}. {fix}") from None
    except RecursionError:
        raise error(f"{path} nests lists or objects too deeply to be a {what}. {fix}") from None
    except ValueError as e:  # from the two hooks, or an integer of thousands of digits
        raise error(f"{path} is not a {what}: {e}. {fix}") from None


def loads_strict(text: str) -> Any:
    """`json.loads` that refuses NaN, Infinity and numbers that overflow a float (ValueError)."""
    return json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)


def _mode(path: Path, what: str, error: type[ScenescopeError]) -> int:
    try:
        return path.stat().st_mode
    except FileNotFoundError:
        raise error(f"No such {what}: {path}. Check the path and that the drive is connected.") from None
    except PermissionError:
        raise error(f"Cannot reach {path}: permission denied. Check its folders' permissions.") from None
    except (OSError, ValueError) as e:  # a name too long, a loop of links, a NUL byte in the name
        reason = getattr(e, "strerror", None) or e
        raise error(f"Cannot use {path!s:.200} as the {what}: {reason}. Check the path.") from None


def _kind(mode: int) -> str:
    return next((name for test, name in _SPECIAL if test(mode)), "not a regular file")


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number (write a finite number, or null)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is too large a number")
    return value
