"""`check_outputs`: every file and folder a command will write can be written, checked before any work.

A command that tracks for minutes or cuts a dozen clips must not find out at the end that its output
folder is a file, read-only, or already full of earlier results. Everything that can be known up front
is checked here, with a message that says what to do; the writes themselves stay atomic.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from engine.errors import ExportError


def check_outputs(
    folder: str | os.PathLike,
    files: Iterable[Path] = (),
    folders: Iterable[Path] = (),
    *,
    overwrite: bool,
) -> None:
    """Raise `ExportError` unless `files` and `folders` (paths inside `folder`) can all be written.

    - none of them exists, unless `overwrite`, and then each is of its kind (a file is not replaced by a
      folder or the other way round);
    - the folder each goes into is a folder, or can be created: the nearest existing one above it is a
      folder that takes a new file (tried with a temporary file, the one test that is true for
      permissions, read-only mounts and ACLs alike, root included).
    Nothing is created (the writers create their folders), nothing existing is touched.
    """
    folder = Path(folder)
    outputs = [(Path(p), False) for p in files] + [(Path(p), True) for p in folders]
    existing = [path for path, _ in outputs if path.exists() or path.is_symlink()]
    if existing and not overwrite:
        shown = ", ".join(_shown(p, folder) for p in existing[:3])
        more = f" and {len(existing) - 3} more" if len(existing) > 3 else ""
        raise ExportError(
            f"{shown}{more} already exist{'s' if len(existing) == 1 else ''} in {folder}. "
            "Choose another folder, or allow overwriting (--overwrite)."
        )
    for path, is_folder in outputs:
        if path.exists() and path.is_dir() != is_folder:
            kind, other = ("a file", "a folder") if is_folder else ("a folder", "a file")
            raise ExportError(
                f"{path} is {kind}, where the export writes {other}: even --overwrite does not replace it. "
                "Move it away, or choose another folder."
            )
    tried: set[Path] = set()
    for target in [folder, *(path.parent for path, _ in outputs)]:
        nearest = _nearest_existing(target)
        if nearest not in tried:
            tried.add(nearest)
            _check_takes_files(nearest, target)


def _nearest_existing(path: Path) -> Path:
    path = Path(os.path.abspath(path))
    while not (path.exists() or path.is_symlink()) and path != path.parent:
        path = path.parent
    return path


def _check_takes_files(nearest: Path, wanted: Path) -> None:
    if not nearest.is_dir():
        raise ExportError(
            f"Cannot write into {wanted}: {nearest} is a file, not a folder. Choose another folder."
        )
    try:
        fd, probe = tempfile.mkstemp(prefix=".tmp-write-check.", dir=nearest)
    except OSError as e:
        if nearest == Path(os.path.abspath(wanted)):
            problem = f"Cannot write into the folder {wanted}: it is not writable"
        else:
            problem = f"Cannot create the folder {wanted}: {nearest} is not writable"
        raise ExportError(
            f"{problem} ({e.strerror or e}). Choose a folder you can write to, or change its permissions."
        ) from None
    os.close(fd)
    os.unlink(probe)


def _shown(path: Path, folder: Path) -> str:
    try:
        return str(path.relative_to(folder))
    except ValueError:
        return str(path)
