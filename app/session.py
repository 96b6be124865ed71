"""The `.scenescope` session file: which video, where the analyst was, and what they found in it.

    session, path = open_video_session("harbour.mp4")   # the video's own session, or a fresh one
    session.view.position_s = 83.5
    save_session(session, path)                          # atomic

A session is a versioned JSON document (docs/formats.md, "Session"). The video is named by its path, size
and content hash (`engine.cache.file_identity`), so a renamed or moved copy of the same video finds its
session again, and a different file is never taken for it (`relink`). Each video's session lives in the
user data folder as `sessions/<content hash>.scenescope`; "Save session as…" writes a copy anywhere, and a
`.scenescope` file can be opened directly. Large data (track masks) lives in files beside the session, in
the folder `<name>.scenescope.d/`; the session names them by relative path.

Keys this version does not know (written by a later Scenescope of the same format version) are kept as
they are and written back on save, at the top level and inside `video` and `view`.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import re
import shutil
import time
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

import platformdirs

from app.chat_turn import ChatTurn
from app.moment import Moment
from app.relevance import Relevance
from engine.atomic import atomic_path, write_text_atomic
from engine.cache import file_identity
from engine.errors import ScenescopeError

FORMAT = "scenescope-session"
VERSION = 1
SUFFIX = ".scenescope"
DATA_DIR_ENV = "SCENESCOPE_DATA_DIR"
_HASH = re.compile(r"[0-9a-f]{8,128}")
LINED_LEVELS = 2  # a key of the document, of `video` or `view`, a moment, a chat turn: a line each


class SessionError(ScenescopeError):
    """A session file that cannot be read or written, or a video that is not the session's."""


class DamagedSession(SessionError):
    """A session file that is not JSON, or whose fields are wrong (`reason` says which and how)."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path} is damaged ({reason}): fix it, or delete it to start a fresh session")
        self.path, self.reason = path, reason


@dataclass
class VideoRef:
    """The session's video: where it was last seen, and what identifies its content wherever it is."""

    path: Path
    size: int
    content_hash: str
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, path: str | os.PathLike) -> VideoRef:
        path = Path(path).resolve()
        try:
            size = path.stat().st_size
            digest = file_identity(path)
        except OSError as e:
            raise SessionError(f"cannot read the video {path} ({e.strerror}): check that it exists") from None
        return cls(path, size, digest)


@dataclass
class ViewState:
    """Where the analyst was: the playhead, the timeline's visible range, the picture's zoom."""

    position_s: float = 0.0
    start_s: float | None = None  # the timeline's visible range; None: the whole video
    end_s: float | None = None
    zoom: float = 1.0  # the video picture's zoom, 1 = fit to the view
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Session:
    video: VideoRef
    view: ViewState = field(default_factory=ViewState)
    chat: list[dict[str, Any]] = field(default_factory=list)  # conversation turns, oldest first
    moments: list[Moment] = field(default_factory=list)  # in time order (app/moment.py)
    relevance: Relevance | None = None  # the relevance curve of the last find (app/relevance.py)
    tracks: dict[str, str] = field(default_factory=dict)  # tracker name -> tracks JSON in the data folder
    settings: dict[str, Any] = field(default_factory=dict)  # this video's overrides of the app settings
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.extra,
            "format": FORMAT,
            "version": VERSION,
            "video": {
                **self.video.extra,
                "path": str(self.video.path),
                "size": self.video.size,
                "content_hash": self.video.content_hash,
            },
            "view": {
                **self.view.extra,
                "position_s": self.view.position_s,
                "start_s": self.view.start_s,
                "end_s": self.view.end_s,
                "zoom": self.view.zoom,
            },
            "chat": self.chat,
            "moments": [moment.to_dict() for moment in self.moments],
            "relevance": None if self.relevance is None else self.relevance.to_dict(),
            "tracks": self.tracks,
            "settings": self.settings,
        }

    @classmethod
    def from_dict(cls, data: Any) -> Session:
        """Read a session document; raises ValueError saying which field is wrong and how."""
        _check_header(data)
        video, view = _object(data.get("video"), "video"), _object(data.get("view", {}), "view")
        end_s = _seconds(view.get("end_s"), "view.end_s", optional=True)
        start_s = _seconds(view.get("start_s"), "view.start_s", optional=True)
        if (start_s is None) != (end_s is None) or (start_s is not None and end_s <= start_s):
            raise ValueError(
                f"'view.start_s' and 'view.end_s' must both be null or start < end, not {start_s}, {end_s}"
            )
        zoom = _number(view.get("zoom", 1.0), "view.zoom")
        if zoom <= 0:
            raise ValueError(f"'view.zoom' must be more than 0, not {zoom}")
        moments = []
        for i, item in enumerate(_list(data.get("moments", []), "moments")):
            try:
                moments.append(Moment.from_dict(item))
            except ValueError as e:
                raise ValueError(f"moment {i + 1}: {e}") from None
        if len({m.id for m in moments}) < len(moments):
            raise ValueError("two moments have the same 'id'")
        return cls(
            video=VideoRef(
                path=Path(_text(video.get("path"), "video.path")),
                size=_count(video.get("size"), "video.size"),
                content_hash=_content_hash(video.get("content_hash")),
                extra=_unknown(video, ("path", "size", "content_hash")),
            ),
            view=ViewState(
                position_s=_seconds(view.get("position_s", 0.0), "view.position_s"),
                start_s=start_s,
                end_s=end_s,
                zoom=zoom,
                extra=_unknown(view, ("position_s", "start_s", "end_s", "zoom")),
            ),
            chat=[_chat_turn(turn, i) for i, turn in enumerate(_list(data.get("chat", []), "chat"))],
            moments=moments,
            relevance=None if data.get("relevance") is None else Relevance.from_dict(data["relevance"]),
            tracks=_tracks(data.get("tracks", {})),
            settings=_object(data.get("settings", {}), "settings"),
            extra=_unknown(
                data,
                ("format", "version", "video", "view", "chat", "moments", "relevance", "tracks", "settings"),
            ),
        )


# ----- files ------------------------------------------------------------------------------------------------
def load_session(path: str | os.PathLike) -> Session:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SessionError(f"the session {path} does not exist: choose another file") from None
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) else "not UTF-8 text"
        raise SessionError(
            f"cannot read the session {path} ({reason}): check the file and its permissions"
        ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:  # its msg may end in "at" ("Unterminated string starting at")
        where = f"{e.msg.removesuffix(' at')} at line {e.lineno}, column {e.colno}"
        raise DamagedSession(path, f"not JSON: {where}") from None
    except (ValueError, RecursionError) as e:  # a 5,000-digit number; lists nested thousands deep
        raise DamagedSession(path, f"not a session's JSON: {e}") from None
    try:
        return Session.from_dict(data)
    except _NotASession as e:
        raise SessionError(f"{path} {e}") from None
    except ValueError as e:
        raise DamagedSession(path, str(e)) from None


def save_session(session: Session, path: str | os.PathLike) -> None:
    """Write `session` to `path` atomically: a reader (or a crash) sees the old file or the new one."""
    write_session_text(session_text(session), path)


def session_text(session: Session) -> str:
    """The session file's text: a snapshot, for writing on another thread (`write_session_text`)."""
    return _lined(session.to_dict()) + "\n"


def write_session_text(text: str, path: str | os.PathLike) -> None:
    """Write a `session_text` atomically (and durably: this waits for the disk)."""
    try:
        write_text_atomic(path, text)
    except OSError as e:
        raise SessionError(
            f"cannot save the session to {path} ({e.strerror}): "
            "free some disk space or choose a folder you can write to"
        ) from None


def save_session_copy(session: Session, source: str | os.PathLike, target: str | os.PathLike) -> None:
    """ "Save session as…": the session and the files it names in its data folder, copied to `target`."""
    source_data, target_data = data_folder(source), data_folder(target)
    if Path(source).resolve() == Path(target).resolve():
        save_session(session, target)
        return
    try:
        for name in session.tracks.values():
            if (source_data / name).is_file():
                with atomic_path(target_data / name) as tmp:
                    shutil.copyfile(source_data / name, tmp)
    except OSError as e:
        raise SessionError(
            f"cannot copy the session's files to {target_data} ({e.strerror}): "
            "choose a folder you can write to"
        ) from None
    save_session(session, target)


# ----- where sessions live ----------------------------------------------------------------------------------
def data_root() -> Path:
    """The app's data folder: `$SCENESCOPE_DATA_DIR`, else the platform's user data folder."""
    root = os.environ.get(DATA_DIR_ENV)
    return Path(root) if root else Path(platformdirs.user_data_dir("scenescope", appauthor=False))


def video_session_path(video: VideoRef) -> Path:
    """Where the session of this video's content lives, whatever the video's name or folder."""
    return data_root() / "sessions" / f"{video.content_hash}{SUFFIX}"


def data_folder(session_path: str | os.PathLike) -> Path:
    """The folder of the files a session names (`harbour.scenescope` -> `harbour.scenescope.d/`)."""
    path = Path(session_path)
    return path.with_name(path.name + ".d")


def open_video_session(video_path: str | os.PathLike) -> tuple[Session, Path]:
    """The session of this video (found by content, so also for a renamed or moved copy), or a fresh one.

    The session's video path is set to `video_path`: that is where the video is now.
    """
    video = VideoRef.of(video_path)
    path = video_session_path(video)
    if not path.exists():
        return Session(video), path
    session = load_session(path)
    return replace(session, video=replace(video, extra=session.video.extra)), path


def set_aside(path: Path) -> Path:
    """Rename a damaged session and its data folder out of the way, kept for the analyst to fix:
    `<name>.damaged-<date>-<time>.scenescope`. Raises OSError when the folder refuses the rename."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for n in itertools.count(1):
        aside = path.with_name(f"{path.stem}.damaged-{stamp}{f'-{n}' if n > 1 else ''}{path.suffix}")
        if not aside.exists() and not data_folder(aside).exists():
            break
    os.rename(path, aside)
    if data_folder(path).is_dir():  # the files the damaged session names go with it
        os.rename(data_folder(path), data_folder(aside))
    return aside


# ----- the video of a session -------------------------------------------------------------------------------
def video_problem(session: Session) -> str | None:
    """Why the session's video cannot be shown from its path (gone, or other content there), or None."""
    path = session.video.path
    if not path.is_file():
        return f"The video of this session, {path}, is no longer there (moved, renamed or deleted)."
    try:
        relink(session, path)
    except SessionError:
        return f"The file at {path} is no longer the video of this session (its content changed)."
    return None


def relink(session: Session, new_path: str | os.PathLike) -> Session:
    """The session with its video found at `new_path`; refused unless the file there has the same content.

    A file of another size is refused without reading it; one of the same size is hashed.
    """
    new_path, old = Path(new_path).resolve(), session.video
    try:
        size = new_path.stat().st_size
    except OSError as e:
        raise SessionError(f"cannot read {new_path} ({e.strerror}): choose the video file itself") from None
    if not new_path.is_file():
        raise SessionError(f"{new_path} is not a file: choose the video file itself")
    if size != old.size:
        raise SessionError(
            f"{new_path} is not the video of this session: it has {size:,} bytes, "
            f"{old.path} had {old.size:,}; choose the original video or a copy of it"
        )
    try:
        digest = file_identity(new_path)
    except OSError as e:
        raise SessionError(f"cannot read {new_path} ({e.strerror}): choose the video file itself") from None
    if digest != old.content_hash:
        raise SessionError(
            f"{new_path} is not the video of this session: its content differs from {old.path} "
            "(same size, different content); choose the original video or a copy of it"
        )
    return replace(session, video=replace(old, path=new_path))


# ----- checking a document ----------------------------------------------------------------------------------
class _NotASession(ValueError):
    """The document is not a session of a format and version this Scenescope reads."""


def _check_header(data: Any) -> None:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise _NotASession(
            f'is not a Scenescope session (no "format": "{FORMAT}"): open a {SUFFIX} file saved by Scenescope'
        )
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise _NotASession(
            f"has no valid session version ({version!r}): open a {SUFFIX} file saved by Scenescope"
        )
    if version > VERSION:
        raise _NotASession(
            f"was made by a newer Scenescope (session version {version}; this one reads version {VERSION}): "
            "update Scenescope to open it"
        )


def _object(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{name!r} must be an object, not {_kind(value)}")
    return value


def _list(value: Any, name: str) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError(f"{name!r} must be a list, not {_kind(value)}")
    return value


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name!r} must be a non-empty string, not {_kind(value)}")
    return value


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name!r} must be a number, not {_kind(value)}")
    return float(value)


def _seconds(value: Any, name: str, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    seconds = _number(value, name)
    if seconds < 0:
        raise ValueError(f"{name!r} must be 0 s or later, not {seconds}")
    return seconds


def _count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name!r} must be a whole number of bytes, not {_kind(value)}")
    return value


def _content_hash(value: Any) -> str:
    if not isinstance(value, str) or not _HASH.fullmatch(value):
        raise ValueError(f"'video.content_hash' must be a hex digest, not {_kind(value)}")
    return value


def _chat_turn(value: Any, i: int) -> dict[str, Any]:
    try:
        ChatTurn.from_dict(value)
    except ValueError as e:
        raise ValueError(f"chat turn {i + 1}: {e}") from None
    return value


def _tracks(value: Any) -> dict[str, str]:
    tracks = _object(value, "tracks")
    for name, file in tracks.items():
        relative = PurePosixPath(file) if isinstance(file, str) else None
        if relative is None or not file or relative.is_absolute() or ".." in relative.parts or "\\" in file:
            raise ValueError(
                f"track {name!r} must name a file inside the session's data folder, not {_kind(file)}"
            )
    return dict(tracks)


def _lined(value: Any, depth: int = 0) -> str:
    """JSON with the first `LINED_LEVELS` levels of nesting an item per line and anything deeper on one.

    Readable and diffable (a moment per line, the relevance curve in three lines), and quick: json's C
    encoder writes only unindented JSON; its indenting encoder is Python, 30 ms for an hour's session,
    on the GUI thread at every autosave.
    """
    if depth == LINED_LEVELS or not isinstance(value, dict | list) or not value:
        return json.dumps(value, ensure_ascii=False, allow_nan=False)
    inner, outer = "\n" + " " * (depth + 1), "\n" + " " * depth
    if isinstance(value, dict):
        items = [
            f"{json.dumps(str(key), ensure_ascii=False)}: {_lined(item, depth + 1)}"
            for key, item in value.items()
        ]
        return "{" + inner + ("," + inner).join(items) + outer + "}"
    return "[" + inner + ("," + inner).join(_lined(v, depth + 1) for v in value) + outer + "]"


def _unknown(data: dict[str, Any], known: tuple[str, ...]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if key not in known}


def _kind(value: Any) -> str:
    return (
        repr(value) if isinstance(value, str | int | float | bool) or value is None else type(value).__name__
    )
