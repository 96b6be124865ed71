"""Where the engine keeps what it computed once: frame tables, visual tokens, file digests.

The cache lives in the platform's user cache folder (`platformdirs`), or in `$SCENESCOPE_CACHE_DIR`
when set (tests point it at a temporary folder). Entries are keyed by content (`file_identity`,
`content_digests`), not by name, so a renamed or copied file still hits its cache.

Every kind of entry goes through `CacheFolder`, which makes two promises:
- a damaged entry never breaks a run: `read` hands the entry's bytes to a parser that checks
  everything it relies on; whatever the parser raises, the entry is deleted, one warning is logged,
  and the caller computes the value again (and writes a good entry);
- a cache that cannot be used never breaks a run: a folder that cannot be created, read or written
  (read-only, a file in its place, permission denied, disk full) means running without it, with one
  warning per cache folder per process.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import stat
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import platformdirs

from engine.atomic import write_bytes_atomic

log = logging.getLogger(__name__)

T = TypeVar("T")
CACHE_DIR_ENV = "SCENESCOPE_CACHE_DIR"
_SAMPLE_BYTES = 1 << 20
_DIGEST_FORMAT = "scenescope-file-digest/1"
_SAY_HASHING_BYTES = 1 << 30  # hashing more than this takes seconds: say so
_unusable_reported: set[Path] = set()  # cache folders already warned about in this process


class BadEntry(ValueError):
    """A cache entry's bytes are not a valid entry; the message says what is wrong with them."""


def cache_root() -> Path:
    """The folder all cache entries live under (not created here: `CacheFolder` does that)."""
    root = os.environ.get(CACHE_DIR_ENV)
    return Path(root) if root else Path(platformdirs.user_cache_dir("scenescope", appauthor=False))


class CacheFolder:
    """One kind of cache entry: files `<folder>/<name>`, read through a validating parser, written atomically.

    `CacheFolder("frame_tables")` lives under `cache_root()`; `folder=` puts it elsewhere. Nothing here
    raises for a damaged entry or an unusable folder (see the module docstring).
    """

    def __init__(self, kind: str, folder: str | os.PathLike | None = None) -> None:
        self.root = Path(folder) if folder is not None else cache_root()  # what one warning covers
        self.folder = self.root if folder is not None else self.root / kind
        self.label = kind.replace("_", " ")  # for messages: "frame tables", "visual tokens"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self.usable = True
        except OSError as e:
            self.usable = False
            self._report_unusable("cannot be created", e)

    def path(self, name: str) -> Path:
        return self.folder / name

    def read(self, name: str, parse: Callable[[bytes], T | None]) -> T | None:
        """`parse(bytes of the entry)`, or None when there is no usable entry.

        `parse` returns None for an entry that is sound but stale (the caller recomputes it quietly) and
        raises for a damaged or foreign one: then the entry is deleted and one warning logged.
        """
        if not self.usable:
            return None
        path = self.path(name)
        try:
            data = _read_regular_file(path)
        except FileNotFoundError:  # a miss, or evicted by another process a moment ago
            return None
        except OSError as e:
            self._report_unusable("cannot be read", e)
            return None
        try:
            if data is None:
                raise BadEntry("not a regular file")
            return parse(data)
        except Exception as e:  # readers of damaged bytes raise anything: zip, JSON, safetensors errors
            reason = str(e) if isinstance(e, BadEntry) else f"unreadable ({type(e).__name__}: {e})"
            log.warning("%s cache entry %s is damaged: %s; computing it again", self.label, path, reason)
            self.remove(path)
            return None

    def write(self, name: str, data: bytes) -> Path | None:
        """Write the entry atomically; None (after one warning per folder) when the folder refuses it."""
        if not self.usable:
            return None
        path = self.path(name)
        try:
            write_bytes_atomic(path, data)
        except OSError as e:
            self._report_unusable("cannot be written", e)
            return None
        return path

    def entries(self, suffix: str) -> list[Path]:
        """Entry files ending in `suffix`, least recently used (oldest modification time) first."""
        if not self.usable:
            return []
        found = []
        try:
            for path in self.folder.glob(f"*{suffix}"):
                try:
                    found.append((path.stat().st_mtime, path))
                except FileNotFoundError:
                    continue
        except OSError as e:
            self._report_unusable("cannot be read", e)
        return [p for _, p in sorted(found)]

    def remove(self, path: Path) -> None:
        """Delete an entry. A folder that refuses is not reported here: the write that follows is."""
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)

    def touch(self, path: Path) -> None:
        """Mark an entry as just used (for least-recently-used eviction), where the folder allows it: a
        read-only cache still serves its entries, quietly."""
        with contextlib.suppress(OSError):
            os.utime(path)

    def _report_unusable(self, what: str, error: OSError) -> None:
        if self.root in _unusable_reported:
            return
        _unusable_reported.add(self.root)
        log.warning(
            "the cache folder %s %s (%s); running without it, so nothing computed now is kept for "
            "the next run. Make it a writable folder, or set %s to one",
            self.folder,
            what,
            error.strerror or error,
            CACHE_DIR_ENV,
        )


def _read_regular_file(path: Path) -> bytes | None:
    """The file's bytes; None for anything else (a FIFO would block `read_bytes` forever, so it is opened
    without waiting and looked at before reading)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read()
    finally:
        os.close(fd)


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


def content_digests(paths: Iterable[str | os.PathLike]) -> dict[Path, str]:
    """The SHA-256 of every byte of each file, hashed once and then remembered by the file's signature.

    Model weights are too large to hash on every load (about 1 s per GiB) and too important to key by
    size alone: a fine-tune has the same layout and other values. So each file's digest is kept in the
    cache under its signature (resolved path, device, inode, size, modification and change times, as
    git's index does): any write to the file changes the change time, which no tool can set back, and
    the file is hashed again. Files to hash are read in parallel, one thread each (hashlib releases
    the GIL), and a log line says so when it takes seconds.
    """
    files = [Path(p) for p in paths]
    cache = CacheFolder("file_digests")
    signatures = {path: _signature(path) for path in files}
    digests: dict[Path, str] = {}
    for path, signature in signatures.items():
        found = cache.read(_digest_entry_name(signature), lambda data, s=signature: _parse_digest(data, s))
        if found is not None:
            digests[path] = found
    missing = [p for p in files if p not in digests]
    total = sum(signatures[p]["size"] for p in missing)
    if total >= _SAY_HASHING_BYTES:
        log.warning(
            "hashing %d file(s), %.1f GB, once so that cached results follow their content "
            "(about a second per GB; later runs reuse the digests)",
            len(missing),
            total / 1e9,
        )
    with ThreadPoolExecutor(max_workers=max(1, min(len(missing), os.cpu_count() or 1))) as pool:
        for path, digest in zip(missing, pool.map(_sha256_of_file, missing), strict=True):
            digests[path] = digest
            entry = {"format": _DIGEST_FORMAT, **signatures[path], "sha256": digest}
            cache.write(_digest_entry_name(signatures[path]), json.dumps(entry).encode())
    return digests


def _signature(path: Path) -> dict:
    st = path.stat()
    return {
        "path": str(path.resolve()),
        "device": st.st_dev,
        "inode": st.st_ino,
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "ctime_ns": st.st_ctime_ns,
    }


def _digest_entry_name(signature: dict) -> str:
    return hashlib.sha256(signature["path"].encode()).hexdigest()[:32] + ".json"


def _parse_digest(data: bytes, signature: dict) -> str | None:
    entry = json.loads(data)
    if not isinstance(entry, dict) or entry.get("format") != _DIGEST_FORMAT:
        raise BadEntry("not a file-digest entry")
    digest = entry.get("sha256")
    if not (isinstance(digest, str) and len(digest) == 64 and all(c in "0123456789abcdef" for c in digest)):
        raise BadEntry(f"its digest {digest!r} is not a SHA-256")
    if {k: entry.get(k) for k in signature} != signature:
        return None  # the file changed (or moved) since it was hashed: stale, not damaged
    return digest


def _sha256_of_file(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
