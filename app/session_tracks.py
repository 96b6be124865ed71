"""The tracked objects beside the open session: read when a video opens, written off the GUI thread, named
in the session once on disk.

    files = SessionTracks(window.sessions)
    found = files.load()                               # (TrackStore, [TrackedObject]) or None
    files.save(store, objects, unanswered, then=...)   # returns at once; False: no session to save into
    files.failed.connect(banner)                       # a failing save is said once, until one succeeds

The session names the file (`session.tracks`) only after a save of it succeeded, so it never names a file
that is not there; a damaged file is reported and the objects start empty.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from app.session import data_folder
from app.tracks_file import FILE_NAME, SESSION_KEY, TrackedObject, load_objects
from app.tracks_saver import TracksSaver
from engine.errors import ScenescopeError
from engine.tracking import Prompt, TrackStore


class SessionTracks(QObject):
    failed = Signal(str)  # for the banner

    def __init__(self, sessions=None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.sessions = sessions
        self.saved_at = 0.0  # time.monotonic() of the last save asked for
        self._saver = TracksSaver(self)
        self._saver.saved.connect(self._saved)
        self._saver.failed.connect(self._failed)
        self._error = ""  # the failure said last

    @property
    def last_s(self) -> float:
        """How long the last save took on its thread."""
        return self._saver.last_s

    def load(self) -> tuple[TrackStore, list[TrackedObject]] | None:
        """The session's objects and their masks, if it has any (None also when the file is damaged)."""
        keeper = self._keeper()
        name = keeper.session.tracks.get(SESSION_KEY) if keeper is not None else None
        if name is None:
            return None
        try:
            return load_objects(data_folder(keeper.path) / name)
        except ScenescopeError as e:
            self.failed.emit(str(e))
            return None

    def save(
        self,
        store: TrackStore,
        objects: list[TrackedObject],
        unanswered: dict[tuple[int, int], Prompt | None],
        then: Callable[[Path | None], None] | None = None,
    ) -> bool:
        """Save beside the session (answered clicks only: `unanswered` gives what each shown click replaced);
        `then` gets the file once it is on disk (None: the save failed). False: no session to save into."""
        keeper = self._keeper()
        if keeper is None:
            return False
        self._saver.save(data_folder(keeper.path) / FILE_NAME, store, objects, unanswered, then)
        self.saved_at = time.monotonic()
        return True

    def wait(self) -> None:
        """Until every save asked for is on disk (closing: bounded by TracksSaver's WAIT_S)."""
        self._saver.wait()

    def _keeper(self):
        keeper = getattr(self.sessions, "keeper", None)
        return None if keeper is None or keeper.session is None or keeper.path is None else keeper

    def _saved(self, path: Path) -> None:
        self._error = ""
        keeper = self._keeper()
        if keeper is None or data_folder(keeper.path) / FILE_NAME != path:
            return  # a save of the session before (another video opened meanwhile)
        if keeper.session.tracks.get(SESSION_KEY) != FILE_NAME:
            keeper.session.tracks[SESSION_KEY] = FILE_NAME
            keeper.mark_dirty()

    def _failed(self, line: str) -> None:
        if line != self._error:  # every few seconds while masks stream: said once
            self._error = line
            self.failed.emit(line)
