"""Models on disk: which catalog variants are here, whether every file matches what the Hub published, and
getting, repairing or removing them.

    copy = cache_copy(variant("internvideo2.5-8b"))   # its Hugging Face cache copy, or None
    verify(copy, job)                                 # raises ModelError naming the bad files and the fix
    download(variant("sam2.1-tiny"), job=job)         # fetch what is missing, verify, fetch damage again

The checksums are the Hub's own: when huggingface_hub downloads a commit it records the commit's file list
in the cache (`models--OWNER--NAME/trees/COMMIT.json`: every file's size and git blob SHA-1, and the
SHA-256 of each LFS file), so verifying needs no network. That list travels with a copied cache folder
and with a folder made by `hf download --local-dir` (`.cache/huggingface/trees/COMMIT.json`), which is
how a model folder copied by hand from another machine is recognised (by the commit) and verified.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

from engine.cache import CacheFolder
from engine.errors import ModelError
from engine.jobs import Job, job_or_new
from engine.models import hub
from engine.models.catalog import CATALOG, Variant, variant

HASH_CHUNK = 1 << 22  # bytes read per step while hashing; a progress step each
TREE_FORMAT = 1  # the format_version of huggingface_hub's cached tree listings we read


@dataclass(frozen=True)
class PublishedFile:
    """One file of a commit as the Hub lists it."""

    path: str
    size: int
    git_sha1: str  # the git blob id (for an LFS file: of its pointer, so not used)
    sha256: str | None  # the content's SHA-256, for LFS files

    def matches(self, file: Path, job: Job, done: int, total: int) -> bool:
        """Whether `file`'s bytes are the published ones; hashing reports stage "verify" to `job`."""
        if self.sha256 is not None:
            digest, expected = hashlib.sha256(), self.sha256
        else:
            digest, expected = hashlib.sha1(b"blob %d\0" % self.size), self.git_sha1
        with open(file, "rb") as f:
            while chunk := f.read(HASH_CHUNK):
                digest.update(chunk)
                done += len(chunk)
                job.progress("verify", done, total, self.path)
        return digest.hexdigest() == expected


@dataclass(frozen=True)
class ModelCopy:
    """A model folder on this machine, and what it should hold."""

    folder: Path
    variant: Variant | None  # the catalog entry it is a copy of, when recognised
    revision: str | None
    published: dict[str, PublishedFile] | None  # the data files the loader reads; None: no list beside it
    in_cache: bool  # a snapshot of the Hugging Face cache (repairable by `download`)

    @property
    def missing(self) -> list[str]:
        """Published files that are not in the folder."""
        return [name for name in self.published or {} if not (self.folder / name).is_file()]

    @property
    def size_bytes(self) -> int:
        """Bytes of the published files present (what `remove` frees, about)."""
        return sum(f.size for name, f in (self.published or {}).items() if (self.folder / name).is_file())

    def to_dict(self) -> dict[str, object]:
        return {
            "path": str(self.folder),
            "variant": self.variant.name if self.variant else None,
            "revision": self.revision,
            "in_cache": self.in_cache,
            "files": len(self.published) if self.published is not None else None,
            "missing": self.missing,
            "size_bytes": self.size_bytes,
            "verified": was_verified(self),
        }


# ----- finding copies ---------------------------------------------------------------------------------------
def hub_cache() -> Path:
    """The Hugging Face cache folder (HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub)."""
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def repo_folder(repo_id: str) -> Path:
    """The cache folder of a repo: all its revisions, blobs and file lists."""
    return hub_cache() / ("models--" + repo_id.replace("/", "--"))


def cache_copy(entry: Variant, revision: str | None = None) -> ModelCopy | None:
    """The cache's copy of a variant at its pin (or `revision`), complete or not; None if there is none."""
    commit = revision or entry.revision
    if commit is None:
        return None
    snapshot = repo_folder(entry.repo_id) / "snapshots" / commit
    listing = repo_folder(entry.repo_id) / "trees" / f"{commit}.json"
    if not snapshot.is_dir() and not listing.is_file():
        return None
    return ModelCopy(snapshot, entry, commit, _published(listing, entry.hub.files), in_cache=True)


def folder_copy(folder: str | os.PathLike) -> ModelCopy:
    """A folder given by path: recognised by the file list that came with it, if one did."""
    path = Path(folder).expanduser()
    if not path.is_dir():
        raise ModelError(f"model folder {path} does not exist; give the folder that holds the model's files")
    path = path.resolve()
    lists = [*path.parent.parent.glob(f"trees/{path.name}.json")] if path.parent.name == "snapshots" else []
    lists = lists or sorted((path / ".cache" / "huggingface" / "trees").glob("*.json"))
    if not lists:
        return ModelCopy(path, None, None, None, in_cache=False)
    listing = lists[0]
    commit = listing.stem
    entry = next((v for v in CATALOG if v.revision == commit), None)
    patterns = entry.hub.files if entry else ("*.json", "*.safetensors", "*.model")
    in_cache = path.parent.name == "snapshots" and path.parent.parent.parent == hub_cache().resolve()
    return ModelCopy(path, entry, commit, _published(listing, patterns), in_cache=in_cache)


def find_copy(name: str) -> ModelCopy | None:
    """A catalog name or Hub id (its cache copy), or a folder."""
    if hub.looks_like_path(name) or Path(name).expanduser().is_dir():
        return folder_copy(name)
    return cache_copy(variant(name))


def on_disk(family: str) -> list[Variant]:
    """The catalog variants of `family` ("sam2", "internvideo") whose cache copy at the pin holds every
    published file (verified or not yet), in catalog order."""
    found = []
    for entry in CATALOG:
        copy = cache_copy(entry) if entry.family == family else None
        if copy is not None and copy.published is not None and not copy.missing:
            found.append(entry)
    return found


def listing() -> dict[str, object]:
    """Every catalog variant and its copy here, the cache folder, whether downloads are off, the Hub
    (what `scenescope models list --json` prints and the worker's `models_list` answers)."""
    from huggingface_hub import constants

    models = []
    for entry in CATALOG:
        copy = cache_copy(entry)
        models.append({**entry.to_dict(), "copy": copy.to_dict() if copy else None})
    return {
        "cache": str(hub_cache()),
        "offline": bool(constants.is_offline_mode()),
        "endpoint": constants.ENDPOINT,
        "models": models,
    }


def _published(listing: Path, patterns: Iterable[str]) -> dict[str, PublishedFile] | None:
    """The data files (those `patterns` allow, never code) of a cached tree listing; None if unreadable."""
    try:
        data = json.loads(listing.read_text(encoding="utf-8"))
        if data.get("format_version") != TREE_FORMAT:
            return None
        files = {
            name: PublishedFile(name, int(info["size"]), str(info["blob_id"]), info.get("lfs_sha256"))
            for name, info in data["files"].items()
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    patterns = tuple(patterns)
    return {
        name: f
        for name, f in sorted(files.items())
        if any(fnmatch(name, p) for p in patterns) and not any(fnmatch(name, p) for p in hub.NOT_DATA)
    }


# ----- verifying --------------------------------------------------------------------------------------------
def verify(copy: ModelCopy, job: Job | None = None) -> None:
    """Check every published file of `copy`: present, of its size, of its checksum. Raises a one-line
    `ModelError` naming what is wrong and how to fix it; returns when every file matches."""
    found = problems(copy, job)
    if found:
        listed = "; ".join(f"{name} {problem}" for name, problem in found.items())
        raise ModelError(f"{_name(copy)} failed verification: {listed}; {_repair(copy)}")


def was_verified(copy: ModelCopy) -> bool:
    """Whether `copy` passed `verify` and no file of it changed since (a stat per file, no hashing)."""
    record = _verified_records().read(_record_name(copy), lambda data: json.loads(data))
    return record is not None and record == _signatures(copy)


def _verified_records() -> CacheFolder:
    return CacheFolder("verified_models")


def _record_name(copy: ModelCopy) -> str:
    return hashlib.sha256(str(copy.folder).encode()).hexdigest()[:32] + ".json"


def _signatures(copy: ModelCopy) -> dict[str, list[int]]:
    """Each file's size, inode and modification and change times: any write changes the change time."""
    signatures = {}
    for name in copy.published or {}:
        try:
            st = (copy.folder / name).stat()
        except OSError:
            continue
        signatures[name] = [st.st_size, st.st_ino, st.st_mtime_ns, st.st_ctime_ns]
    return signatures


def problems(copy: ModelCopy, job: Job | None = None) -> dict[str, str]:
    """What is wrong with each bad published file of `copy` ("is missing", ...); hashing reports stage
    "verify" (bytes of all the files). Raises `ModelError` when there is no file list to check against.
    A clean pass is recorded in the cache, for `was_verified`."""
    job = job_or_new(job)
    if copy.published is None:
        raise ModelError(
            f"{copy.folder} has no list of the files the Hub published (trees/COMMIT.json), so it cannot "
            "be verified; copy the whole models--OWNER--NAME folder of a Hugging Face cache, or a folder "
            "made by `hf download --local-dir`, which carry that list"
        )
    if not copy.published:
        raise ModelError(f"the file list of {_name(copy)} names none of the model's data files")
    total = sum(f.size for f in copy.published.values())
    done, found = 0, {}
    for name, published in copy.published.items():
        file = copy.folder / name
        if not file.is_file():
            found[name] = "is missing"
        elif (size := file.stat().st_size) != published.size:
            found[name] = f"has {size} bytes, not the published {published.size}"
        elif not published.matches(file, job, done, total):
            found[name] = "does not match its published checksum (damaged)"
        done += published.size
        job.progress("verify", done, total, name)
    if not found:  # a pass is remembered until a file changes (`was_verified`)
        _verified_records().write(_record_name(copy), json.dumps(_signatures(copy)).encode())
    return found


def _name(copy: ModelCopy) -> str:
    if copy.variant is None:
        return f"model folder {copy.folder}"
    return f"{copy.variant.name} ({copy.variant.repo_id}@{(copy.revision or '')[:12]}, {copy.folder})"


def _repair(copy: ModelCopy) -> str:
    if copy.in_cache and copy.variant is not None:
        return f"run `scenescope models download {copy.variant.name}` to fetch them again"
    return "copy those files again from where the folder came from"


# ----- downloading, removing --------------------------------------------------------------------------------
def download(entry: Variant, revision: str | None = None, job: Job | None = None) -> ModelCopy:
    """Fetch what the cache lacks of a variant, verify it, and fetch damaged files once more.

    A download cut off (the network, the process) keeps every file it finished; the next call fetches
    only the rest. Offline (HF_HUB_OFFLINE), it says which files are missing.
    """
    job = job_or_new(job)
    commit = revision or entry.revision
    found = cache_copy(entry, commit)
    try:
        hub.model_folder(f"{entry.repo_id}@{commit}", entry.hub, job=job)
    except ModelError as e:
        if found is not None and found.missing:
            raise ModelError(f"{e}; missing here: {', '.join(found.missing)}") from None
        raise
    copy = cache_copy(entry, commit)
    assert copy is not None  # the download recorded the file list and made the snapshot
    damaged = problems(copy, job)
    if damaged:
        _forget(copy, damaged)
        hub.model_folder(f"{entry.repo_id}@{commit}", entry.hub, job=job)
        verify(copy, job)
    return copy


def _forget(copy: ModelCopy, names: Iterable[str]) -> None:
    """Delete files of a cache copy (link and blob), so that the next download fetches them again."""
    for name in names:
        link = copy.folder / name
        blob = link.resolve()
        link.unlink(missing_ok=True)
        if blob != link:
            blob.unlink(missing_ok=True)


def remove(entry: Variant, revision: str | None = None) -> int:
    """Delete a variant's cache copy (its snapshot, the blobs no other revision uses, its file list).

    Returns the bytes freed; 0 when there was nothing.
    """
    from huggingface_hub import scan_cache_dir

    copy = cache_copy(entry, revision)
    if copy is None:
        return 0
    repo = repo_folder(entry.repo_id)
    others = [p for p in (repo / "snapshots").glob("*") if p.name != copy.revision]
    if not others:  # the only revision: the whole repo folder goes, half-done downloads included
        freed = sum(p.stat().st_size for p in repo.rglob("*") if p.is_file() and not p.is_symlink())
        shutil.rmtree(repo)
        return freed
    strategy = scan_cache_dir(hub_cache()).delete_revisions(str(copy.revision))
    strategy.execute()
    (repo / "trees" / f"{copy.revision}.json").unlink(missing_ok=True)
    return strategy.expected_freed_size
