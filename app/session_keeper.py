"""Autosave of the open session, and crash recovery.

    keeper = SessionKeeper(window)
    keeper.open(session, path)       # also leaves a "running" marker in the data folder
    ...; keeper.mark_dirty()         # after every change
    keeper.close()                   # on close: saves what is left, removes the marker

A change is saved once things are quiet for `quiet_ms` (1 s), and at the latest `every_ms` (5 s) after
the first unsaved change, so a stream of changes (the playhead moving during playback) cannot put saving
off for ever.

While a session is open, `running/<pid>-<random>.json` in the data folder names it, and this process holds
an advisory lock (flock) on that file. The kernel drops the lock when the process ends however it ends, so
at the next start a marker whose lock is free belongs to an app that never closed: `recoverable()` lists
those sessions so that the window can offer to restore them. A live app's marker is always locked, also
when its pid is reused later.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from app.session import Session, SessionError, data_root, load_session, save_session
from engine.atomic import nobody_holds_lock

try:
    import fcntl
except ImportError:  # Windows: no flock; crash recovery is not offered there
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

QUIET_MS = 1000
EVERY_MS = 5000


class SessionKeeper(QObject):
    """Holds the open session and saves it: after changes, periodically while changed, and on close."""

    saved = Signal(str)  # the session file
    save_failed = Signal(str)  # a one-line message for the banner; the session stays unsaved and is retried

    def __init__(
        self, parent: QObject | None = None, quiet_ms: int = QUIET_MS, every_ms: int = EVERY_MS
    ) -> None:
        super().__init__(parent)
        self.session: Session | None = None
        self.path: Path | None = None
        self.dirty = False
        self._marker: _Marker | None = None
        self._quiet = QTimer(self, singleShot=True, interval=quiet_ms)
        self._deadline = QTimer(self, singleShot=True, interval=every_ms)
        self._quiet.timeout.connect(self.flush)
        self._deadline.timeout.connect(self.flush)

    def open(self, session: Session, path: str | os.PathLike) -> None:
        """Keep `session`, saved to `path`; the session open before is saved and closed first."""
        self.close()
        self.session, self.path, self.dirty = session, Path(path), False
        self._marker = _Marker.create(self.path)

    def mark_dirty(self) -> None:
        """The session changed: save it soon."""
        if self.session is None:
            return
        if not self.dirty:
            self.dirty = True
            self._deadline.start()
        self._quiet.start()  # restarts: saved once changes pause

    def flush(self) -> bool:
        """Save now if there are unsaved changes; False if saving failed (`save_failed` says why)."""
        self._quiet.stop()
        self._deadline.stop()
        if not self.dirty or self.session is None or self.path is None:
            return True
        try:
            save_session(self.session, self.path)
        except SessionError as e:
            log.warning("%s", e)
            self._deadline.start()  # try again later; the changes stay in memory
            self.save_failed.emit(str(e))
            return False
        self.dirty = False
        self.saved.emit(str(self.path))
        return True

    def close(self) -> bool:
        """Save what is unsaved and let the session go (a clean close: the crash marker is removed).

        If the last save fails, the marker stays, so the next start offers the last saved state.
        """
        saved = self.flush()
        if self._marker is not None:
            self._marker.close(remove=saved)
        self.session, self.path, self._marker, self.dirty = None, None, None, False
        return saved


@dataclass(frozen=True)
class Recoverable:
    """A session that was open in an app that ended without closing it (a crash, a kill, a power cut)."""

    session_path: Path
    session: Session  # as last saved
    marker: Path

    def dismiss(self) -> None:
        """Forget it (after restoring it, or when the user declines): it is not offered again."""
        self.marker.unlink(missing_ok=True)


def recoverable() -> list[Recoverable]:
    """The sessions left open by apps that are gone, newest first. Unreadable ones are dropped."""
    if fcntl is None:
        return []
    found = []
    for marker in _markers_dir().glob("*.json"):
        if not nobody_holds_lock(marker):
            continue
        try:
            session_path = Path(json.loads(marker.read_text(encoding="utf-8"))["session"])
            found.append(
                (marker.stat().st_mtime, Recoverable(session_path, load_session(session_path), marker))
            )
        except (OSError, ValueError, KeyError, TypeError, SessionError) as e:
            log.warning("crash marker %s names no session that can be restored (%s); removed", marker, e)
            marker.unlink(missing_ok=True)
    return [item for _, item in sorted(found, key=lambda pair: pair[0], reverse=True)]


def _markers_dir() -> Path:
    return data_root() / "running"


class _Marker:
    """This process's marker file, locked for as long as its session is open."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path, self._fd = path, fd

    @classmethod
    def create(cls, session_path: Path) -> _Marker | None:
        folder = _markers_dir()
        name = f"{os.getpid()}-{secrets.token_hex(4)}.json"
        text = json.dumps({"pid": os.getpid(), "session": str(session_path.resolve())}) + "\n"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            # Locked before it gets its name, so no reader ever sees it unlocked while this app lives.
            staging = folder / f".{name}.tmp"
            fd = os.open(staging, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)
        except OSError as e:
            log.warning(
                "no crash marker in %s (%s): a crash will not offer to restore this session", folder, e
            )
            return None
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, text.encode())
            os.replace(staging, folder / name)
        except OSError as e:
            os.close(fd)
            staging.unlink(missing_ok=True)
            log.warning(
                "no crash marker in %s (%s): a crash will not offer to restore this session", folder, e
            )
            return None
        return cls(folder / name, fd)

    def close(self, remove: bool) -> None:
        if remove:
            with contextlib.suppress(OSError):
                self.path.unlink()
        os.close(self._fd)
