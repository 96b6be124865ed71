"""Atomic file writes: a reader sees the old file or the new one, never half of either.

Write to a temporary file in the destination's folder, flush it to disk, then rename over the
destination (rename is atomic within one file system). A crash mid-write leaves the old file intact
and at most a stray `.tmp-*` file, which the next write of the same name removes.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


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
    fd, tmp_name = tempfile.mkstemp(prefix=f".tmp-{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with tmp.open("rb+") as f:
            os.fsync(f.fileno())
        if not overwrite and path.exists():
            raise FileExistsError(f"{path} already exists")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


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


def write_bytes_atomic(path: str | os.PathLike, data: bytes, *, overwrite: bool = True) -> None:
    with atomic_open(path, "wb", overwrite=overwrite) as f:
        f.write(data)


def write_text_atomic(path: str | os.PathLike, text: str, *, overwrite: bool = True) -> None:
    with atomic_open(path, "w", overwrite=overwrite) as f:
        f.write(text)
