"""Atomic writes: a reader sees the old file (or folder) or the new one, never half of either.

Write to a temporary next to the destination, flush it to disk, then rename it over the destination
(rename is atomic within one file system). A folder (a PNG sequence) is staged the same way.

A writer killed mid-write (SIGKILL, a power cut) leaves its temporary behind, so temporaries carry
their writer: `.tmp-<name>.<pid>-<random><extension>`, held under an advisory lock (flock) while
written. The next write of the same name removes that name's temporaries whose writer is gone: its
pid is not a live process here and nobody holds the lock (a writer on another machine or in another
pid namespace sharing the folder still does). A live concurrent writer's temporary is never touched.

Files get the permissions a plain `open()` would give them: 0666 less the umask, or the mode of the
file they replace; folders 0777 less the umask.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO

try:
    import fcntl
except ImportError:  # Windows: no flock, and no way to tell a dead writer's file from a live one's
    fcntl = None  # type: ignore[assignment]

_PREFIX = ".tmp-"


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, overwrite: bool = True) -> Iterator[Path]:
    """A temporary path next to `path` that replaces `path` when the block exits without an exception.

    For writers that need a file name rather than a file object (FFmpeg muxers, which also reopen
    the file to move the MP4 index to the front). The temporary name keeps `path`'s extension, so
    tools that pick a format by extension still work. The block must have closed the file by its
    end; it is then flushed to disk and renamed. On any exception, cancellation included, the
    temporary file is removed and `path` is left as it was.

    `overwrite=False` raises FileExistsError if `path` exists when the block starts or when it ends.
    """
    path = Path(path)
    if not overwrite and path.exists():
        raise FileExistsError(f"{path} already exists")
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    tmp = temporary_name(path)
    fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        _lock(fd)
        yield tmp
        with tmp.open("rb+") as f:
            os.fsync(f.fileno())
        if path.exists():
            if not overwrite:
                raise FileExistsError(f"{path} already exists")
            # Replacing a file keeps its mode, as writing into it would (set last: it may be read-only).
            os.chmod(tmp, stat.S_IMODE(path.stat().st_mode))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb", *, overwrite: bool = True) -> Iterator[IO]:
    """Open a temporary file that replaces `path` when the block exits without an exception.

    `overwrite=False` raises FileExistsError if `path` exists when the block starts or when it ends.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open writes whole files: mode must be 'w' or 'wb', not {mode!r}")
    with (
        atomic_path(path, overwrite=overwrite) as tmp,
        tmp.open(mode, encoding="utf-8" if mode == "w" else None) as f,
    ):
        yield f


@contextlib.contextmanager
def atomic_folder(path: str | os.PathLike, *, overwrite: bool = True) -> Iterator[Path]:
    """A temporary folder next to `path` that becomes `path` when the block exits without an exception.

    On any exception the temporary folder and everything in it are removed. Replacing a folder moves
    the old one aside, renames the new one into place and then deletes the old one, so `path` is
    whole at every moment but the one between the two renames.

    `overwrite=False` raises FileExistsError if `path` exists when the block starts or when it ends.
    """
    path = Path(path)
    if not overwrite and path.exists():
        raise FileExistsError(f"{path} already exists")
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    staging = temporary_name(path)
    staging.mkdir(0o777)
    fd = os.open(staging, os.O_RDONLY)
    try:
        _lock(fd)
        yield staging
        if path.exists():
            if not overwrite:
                raise FileExistsError(f"{path} already exists")
            old = temporary_name(path)  # a temporary of `path`: removed by a later write if we die here
            path.rename(old)
            try:
                staging.rename(path)
            except BaseException:
                old.rename(path)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            staging.rename(path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        os.close(fd)


def write_bytes_atomic(path: str | os.PathLike, data: bytes, *, overwrite: bool = True) -> None:
    with atomic_open(path, "wb", overwrite=overwrite) as f:
        f.write(data)


def write_text_atomic(path: str | os.PathLike, text: str, *, overwrite: bool = True) -> None:
    with atomic_open(path, "w", overwrite=overwrite) as f:
        f.write(text)


def temporary_name(path: Path) -> Path:
    """A fresh temporary name for `path`, owned by this process (see the module's docstring)."""
    return path.with_name(f"{_PREFIX}{path.name}.{os.getpid()}-{secrets.token_hex(4)}{path.suffix}")


def remove_stale_temporaries(path: Path) -> None:
    """Remove the temporaries of `path` left by writers that are gone."""
    if fcntl is None:
        return
    pattern = re.compile(re.escape(f"{_PREFIX}{path.name}.") + r"(\d+)-[0-9a-f]{8}" + re.escape(path.suffix))
    try:
        names = os.listdir(path.parent)
    except OSError:
        return
    for name in names:
        match = pattern.fullmatch(name)
        if match is None or _process_alive(int(match[1])):
            continue
        stale = path.parent / name
        if not nobody_holds_lock(stale):
            continue
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)


def _lock(fd: int) -> None:
    """Hold an exclusive advisory lock on `fd` until it is closed (the kernel drops it if we die)."""
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX)


def nobody_holds_lock(path: Path) -> bool:
    """True when nobody holds the lock on `path` (a writer's lock dies with its process)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def _process_alive(pid: int) -> bool:
    """True when `pid` is a process here (this one included; any we may not signal count as alive)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except OSError:
        return True
    return True
