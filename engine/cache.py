"""Where the engine keeps what it computed once: frame tables, visual tokens, downloads.

The cache lives in the platform's user cache folder (`platformdirs`), or in `$SCENESCOPE_CACHE_DIR`
when set (tests point it at a temporary folder). Entries are keyed by `file_identity`, which follows
the file's content rather than its name, so a renamed or copied video still hits its cache.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import platformdirs

_SAMPLE_BYTES = 1 << 20


def cache_root() -> Path:
    """The folder all cache entries live under (created on first use)."""
    root = os.environ.get("SCENESCOPE_CACHE_DIR")
    path = Path(root) if root else Path(platformdirs.user_cache_dir("scenescope", appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_dir(kind: str) -> Path:
    """A sub-folder of the cache for one kind of entry, e.g. `cache_dir("frame_tables")`."""
    path = cache_root() / kind
    path.mkdir(parents=True, exist_ok=True)
    return path


def file_identity(path: str | os.PathLike) -> str:
    """A hex digest that changes when the file's content changes and survives renames and copies.

    Hashes the size and three 1 MiB samples (start, middle, end): reading a few MiB keeps this
    instant on hour-long files, and no two different recordings share size and all three samples.
    """
    path = Path(path)
    size = path.stat().st_size
    h = hashlib.sha256(f"scenescope-file-v1:{size}:".encode())
    with path.open("rb") as f:
        for offset in sorted({0, max(0, size // 2 - _SAMPLE_BYTES // 2), max(0, size - _SAMPLE_BYTES)}):
            f.seek(offset)
            h.update(f.read(_SAMPLE_BYTES))
    return h.hexdigest()[:32]
