"""Asking the user where a session's video went (File ▸ Relink Video…, or when it is missing on open)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from app.session import Session, SessionError, relink

# (parent, caption, start folder, filter) -> the file chosen, or "" when cancelled
FileChooser = Callable[[QWidget | None, str, str, str], str]
Warner = Callable[[QWidget | None, str], None]


def choose_file(parent: QWidget | None, caption: str, folder: str, name_filter: str) -> str:
    return QFileDialog.getOpenFileName(parent, caption, folder, name_filter)[0]


def warn(parent: QWidget | None, message: str) -> None:
    QMessageBox.warning(parent, "Not the video of this session", message)


def ask_relink(
    parent: QWidget | None, session: Session, choose: FileChooser = choose_file, refused: Warner = warn
) -> Session | None:
    """Let the user locate the session's video until they pick one with its content, or cancel (None).

    A file with other content is refused with a message naming both files, and the user chooses again.
    """
    old = session.video.path
    folder = next((p for p in old.parents if p.is_dir()), Path.home())
    name_filter = (
        f"{old.suffix[1:].upper()} videos (*{old.suffix});;All files (*)" if old.suffix else "All files (*)"
    )
    while True:
        name = choose(parent, f"Locate {old.name}", str(folder), name_filter)
        if not name:
            return None
        try:
            return relink(session, name)
        except SessionError as e:
            refused(parent, str(e))
            folder = Path(name).parent
