"""The open video's session: found when a video opens, kept up to date while the analyst works, saved by
the SessionKeeper (after changes, every few seconds, on close), and offered back after a crash.

    controller.begin(path)          # a video or a .scenescope file -> (session, video path) or None
    controller.restore_view(...)    # once the video is shown: playhead and timeline range as they were
    controller.position_changed(t)  # the view changed: the session is saved soon

Opening a session whose video moved asks the user to locate it; a file with other content is refused
(app/relink_dialog.py). The session lives with the video's content hash, so a renamed copy finds it.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtWidgets import QWidget

from app.recent_files import RecentFiles
from app.relink_dialog import ask_relink
from app.session import (
    SUFFIX,
    DamagedSession,
    Session,
    SessionError,
    load_session,
    open_video_session,
    save_session,
    save_session_copy,
    set_aside,
    video_problem,
)
from app.session_keeper import Recoverable, SessionKeeper, recoverable


class SessionController(QObject):
    failed = Signal(str)  # a one-line message for the banner

    def __init__(self, parent_widget: QWidget, store: QSettings) -> None:
        super().__init__(parent_widget)
        self._parent = parent_widget
        self.keeper = SessionKeeper(self)
        self.keeper.save_failed.connect(self.failed)
        self.recent = RecentFiles(store)

    @property
    def session(self) -> Session | None:
        return self.keeper.session

    def begin(self, path: str | os.PathLike) -> Path | None:
        """Open the session of a video, or a session file; returns the video to open (None: nothing to open,
        the reason went to `failed`, or the user cancelled the relink)."""
        path = Path(path)
        self.keeper.flush()  # reopening the same video (an engine restart) must read what was changed
        try:
            if path.suffix == SUFFIX:
                session, session_path = load_session(path), path
                if video_problem(session) is not None:
                    session = ask_relink(self._parent, session)
                    if session is None:
                        return None
                    save_session(session, session_path)
            else:
                session, session_path = self._video_session(path)
        except SessionError as e:
            self.failed.emit(str(e))
            return None
        self.keeper.open(session, session_path)
        self.recent.add(session.video.path)
        return session.video.path

    def _video_session(self, video: Path) -> tuple[Session, Path]:
        """The video's own session. A damaged one is set aside (renamed, kept) and a fresh one started: a
        broken file must not keep the analyst from the video."""
        try:
            return open_video_session(video)
        except DamagedSession as e:
            try:
                aside = set_aside(e.path)
            except OSError:
                raise e from None
            self.failed.emit(
                f"The session of this video was damaged ({e.reason}), so a fresh one was started. The old "
                f"one is kept as {aside}: fix it, then open it with File ▸ Open Video… (All files)."
            )
            return open_video_session(video)

    def position_changed(self, time_s: float) -> None:
        if self.session is not None and abs(self.session.view.position_s - time_s) > 1e-6:
            self.session.view.position_s = time_s
            self.keeper.mark_dirty()

    def view_changed(self, start_s: float, end_s: float) -> None:
        if self.session is not None:
            self.session.view.start_s, self.session.view.end_s = start_s, end_s
            self.keeper.mark_dirty()

    def save_copy(self, target: str | os.PathLike) -> None:
        if self.session is None or self.keeper.path is None:
            return
        self.keeper.flush()
        try:
            save_session_copy(self.session, self.keeper.path, target)
        except SessionError as e:
            self.failed.emit(str(e))

    def crashed_sessions(self) -> list[Recoverable]:
        return recoverable()

    def close(self) -> None:
        self.keeper.close()
