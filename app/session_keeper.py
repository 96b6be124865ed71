"""Autosave of the open session, and crash recovery.

    keeper = SessionKeeper(window)
    keeper.open(session, path)       # also leaves a "running" marker in the data folder
    ...; keeper.mark_dirty()         # after every change
    keeper.close()                   # on close: saves what is left, removes the marker

A change is saved once things are quiet for `quiet_ms` (1 s), and at the latest `every_ms` (5 s) after
the first unsaved change, so a stream of changes (the playhead moving during playback) cannot put saving
off for ever. Those saves take the file's text on the GUI thread (a snapshot: ~8 ms for an hour's session)
and write it on a thread of their own, so a slow disk's fsync never holds the window; one write at a time,
in order. `flush()` and `close()` save at once and wait for the disk.

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
import weakref
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from app.session import (
    Session,
    SessionError,
    data_root,
    load_session,
    save_session,
    session_text,
    write_session_text,
)
from engine.atomic import nobody_holds_lock

try:
    import fcntl
except ImportError:  # Windows: no flock; crash recovery is not offered there
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

QUIET_MS = 1000
EVERY_MS = 5000
WAIT_S = 10.0  # a flush waits this long at most for the write in flight (a disk that hangs)


@dataclass
class _Write:
    path: Path
    text: str
    error: str = ""
    future: Future | None = None


class SessionKeeper(QObject):
    """Holds the open session and saves it: after changes, periodically while changed, and on close."""

    saved = Signal(str)  # the session file, now on disk
    save_failed = Signal(str)  # a one-line message for the banner; the session stays unsaved and is retried
    _written = Signal(object)  # from the writing thread: its _Write

    def __init__(
        self, parent: QObject | None = None, quiet_ms: int = QUIET_MS, every_ms: int = EVERY_MS
    ) -> None:
        super().__init__(parent)
        self.session: Session | None = None
        self.path: Path | None = None
        self._changed = False  # changes in no text taken yet
        self._writing: _Write | None = None
        self._marker: _Marker | None = None
        self._quiet = QTimer(self, singleShot=True, interval=quiet_ms)
        self._deadline = QTimer(self, singleShot=True, interval=every_ms)
        self._quiet.timeout.connect(self._autosave)
        self._deadline.timeout.connect(self._autosave)
        self._written.connect(self._write_ended)
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="save-session")
        self._pool.submit(int)  # start the thread now: starting one waits until it holds the interpreter lock

    @property
    def dirty(self) -> bool:
        """Changes that are not on disk yet (not saved, or being written)."""
        return self._changed or self._writing is not None

    def open(self, session: Session, path: str | os.PathLike) -> None:
        """Keep `session`, saved to `path`; the session open before is saved and closed first."""
        self.close()
        self.session, self.path, self._changed = session, Path(path), False
        self._marker = _Marker.create(self.path)

    def mark_dirty(self) -> None:
        """The session changed: save it soon."""
        if self.session is None:
            return
        if not self._changed:
            self._changed = True
            if not self._deadline.isActive():
                self._deadline.start()
        self._quiet.start()  # restarts: saved once changes pause

    def flush(self) -> bool:
        """Save now and wait for the disk; False if saving failed (`save_failed` says why)."""
        self._quiet.stop()
        self._deadline.stop()
        if not self._wait_for_write():
            return False
        if not self._changed or self.session is None or self.path is None:
            return True
        try:
            save_session(self.session, self.path)
        except SessionError as e:
            self._failed(str(e))
            return False
        self._changed = False
        self.saved.emit(str(self.path))
        return True

    def close(self) -> bool:
        """Save what is unsaved and let the session go (a clean close: the crash marker is removed).

        If the last save fails, the marker stays, so the next start offers the last saved state.
        """
        saved = self.flush()
        if self._marker is not None:
            self._marker.close(remove=saved)
        self.session, self.path, self._marker, self._changed = None, None, None, False
        return saved

    def _autosave(self) -> None:
        self._quiet.stop()
        self._deadline.stop()
        if self._writing is not None:  # one write at a time: this one follows when that ends
            return
        if not self._changed or self.session is None or self.path is None:
            return
        job = _Write(self.path, session_text(self.session))
        self._changed = False
        self._writing = job
        job.future = self._pool.submit(_write, job, weakref.ref(self))

    def _write_ended(self, job: _Write) -> None:
        if job is not self._writing:  # a flush waited for it and handled it
            return
        self._writing = None
        if job.error:
            self._failed(job.error)
        else:
            self.saved.emit(str(job.path))
        if self._changed and not self._quiet.isActive() and not self._deadline.isActive():
            self._quiet.start()  # what changed while it was written

    def _wait_for_write(self) -> bool:
        """Let the write in flight end (False: the disk has not answered for `WAIT_S`)."""
        job = self._writing
        if job is None:
            return True
        assert job.future is not None
        try:
            job.future.result(timeout=WAIT_S)
        except FutureTimeout:
            self._failed(
                f"cannot save the session to {job.path} (the disk has not answered for {WAIT_S:g} s): "
                "check the disk; the changes stay in memory and are saved again"
            )
            return False
        self._write_ended(job)
        return job.error == ""

    def _failed(self, message: str) -> None:
        log.warning("%s", message)
        self._changed = True  # the changes stay in memory, and are tried again later
        if not self._deadline.isActive():
            self._deadline.start()
        self.save_failed.emit(message)


def _write(job: _Write, keeper: weakref.ref[SessionKeeper]) -> None:
    """On the writing thread. It holds the keeper weakly: a keeper let go during a write must be destroyed
    on the GUI thread, where its timers are."""
    try:
        write_session_text(job.text, job.path)
    except SessionError as e:
        job.error = str(e)
    except Exception as e:  # a bug must not leave every later save waiting on this one
        job.error = f"cannot save the session to {job.path} ({type(e).__name__}: {e})"
    if (alive := keeper()) is not None:
        alive._written.emit(job)


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
