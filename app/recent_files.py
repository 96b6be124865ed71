"""File ▸ Open Recent: the last files opened (videos or sessions), most recent first, kept in QSettings."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu

from app.settings import read_list

KEY = "recent/files"
LIMIT = 10


@dataclass(frozen=True)
class RecentFile:
    path: Path
    exists: bool  # missing files stay listed (a disk may be unplugged) but are shown as missing


class RecentFiles:
    def __init__(self, settings: QSettings | None = None, limit: int = LIMIT) -> None:
        self.settings = settings if settings is not None else QSettings()
        self.limit = limit

    def entries(self) -> list[RecentFile]:
        return [RecentFile(Path(p), Path(p).exists()) for p in read_list(self.settings, KEY)[: self.limit]]

    def add(self, path: str | os.PathLike) -> None:
        """Put `path` first (once, as an absolute path), dropping the oldest beyond the limit."""
        path = str(Path(path).resolve())
        self._write([path, *(p for p in read_list(self.settings, KEY) if p != path)])

    def remove(self, path: str | os.PathLike) -> None:
        path = str(Path(path).resolve())
        self._write([p for p in read_list(self.settings, KEY) if p != path])

    def clear(self) -> None:
        self._write([])

    def fill_menu(self, menu: QMenu, open_file: Callable[[Path], None]) -> None:
        """Rebuild `menu`: one numbered action per file (missing ones marked and disabled), then Clear."""
        menu.clear()
        entries = self.entries()
        for number, entry in enumerate(entries, start=1):
            name = entry.path.name.replace("&", "&&")  # a literal "&", not a mnemonic
            action = QAction(f"&{number % 10} {name}" + ("" if entry.exists else "  (missing)"), menu)
            action.setToolTip(str(entry.path))
            action.setStatusTip(str(entry.path))
            action.setEnabled(entry.exists)
            action.triggered.connect(lambda _=False, path=entry.path: open_file(path))
            menu.addAction(action)
        if entries:
            menu.addSeparator()
        clear = menu.addAction("&Clear Recent Files")
        clear.setEnabled(bool(entries))
        clear.triggered.connect(self.clear)

    def _write(self, paths: list[str]) -> None:
        self.settings.setValue(
            KEY, paths[: self.limit] or ""
        )  # "" not []: an empty list reads back as nothing
        self.settings.sync()
