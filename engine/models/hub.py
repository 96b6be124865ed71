"""Where a model's files come from: a folder on this machine, or a Hugging Face Hub repo at a pinned commit.

    folder = model_folder("facebook/sam2.1-hiera-tiny", SAM2_HUB, job=job)   # or a folder path
    with folder.explain_damage():       # a cut shard, a garbage tokenizer, a config that is not JSON:
        config = read_json(folder.path / "config.json")   # one line naming the file and how to get it again

A value that looks like a path (starts with `.`, `/` or `~`, has more than one `/`, a backslash or a
Windows drive, or its first part is a folder here) is a folder and must exist; it is never taken for a
Hub id. A Hub id ("owner/name", optionally "owner/name@COMMIT") is served from the local Hugging Face cache
without any network call when the cache holds it; otherwise, after one quick request shows that the Hub
answers at all (an offline machine fails at once, with instructions, instead of retrying for half a
minute), its data files are downloaded, never code. Download progress reaches the job as stage
"download" (bytes done of all the files, the file's name as message); cancelling stops the transfer, and
huggingface_hub removes its partial file.
"""

from __future__ import annotations

import errno
import logging
import re
import shutil
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine import user_files
from engine.errors import ModelError
from engine.jobs import Job, job_or_new

logger = logging.getLogger("engine.models")

# Never fetched, whatever a repo lists and whatever a loader allows: code and pickles.
NOT_DATA = ("*.py", "*.pyc", "*.so", "*.dll", "*.dylib", "*.sh", "*.bat", "*.exe", "*.ipynb", "*.pkl",
            "*.pickle", "*.bin", "*.pt", "*.pth", "*.ckpt")  # fmt: skip
HUB_CHECK_TIMEOUT_S = 5.0  # how long a download waits for the Hub to answer at all
POLL_S = 0.1  # how often a download's progress is passed on and its cancellation checked
STOP_GRACE_S = 2.0  # how long a stopped download may take to remove its partial file
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*")
_COMMIT = re.compile(r"[0-9a-f]{40}")
_WINDOWS_DRIVE = re.compile(r"[A-Za-z]:[\\/]")


@dataclass(frozen=True)
class HubModel:
    """What a loader takes from the Hub: its default id, the commits it is pinned to, the files it reads."""

    name: str  # for messages: "InternVideo2.5", "SAM2"
    default_id: str
    pins: Mapping[str, str]  # Hub id -> the commit loaded when none is given
    files: tuple[str, ...]  # glob patterns of the data files the loader reads


class DamagedModelFile(ModelError):
    """A file of a model folder is missing, cut short, garbage, or does not fit the rest of the model.

    `path` is the file, or the folder itself when the damage is not in one file. `ModelFolder.explain_damage`
    turns it into a message that says how to get the file again.
    """

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path} {problem}")
        self.path = Path(path)
        self.problem = problem


@dataclass(frozen=True)
class ModelFolder:
    """A folder of model files, and the Hub repo and commit it is a cache copy of (None: a plain folder)."""

    path: Path
    repo_id: str | None = None
    revision: str | None = None
    files: tuple[str, ...] = field(default=(), repr=False)  # the loader's patterns, for the fetch command

    def describe(self, file: Path) -> str:
        """How to name one of its files (or itself) in a message."""
        if self.repo_id is None:
            return str(file)
        what = f"{self.repo_id}@{self.revision[:12]}"
        if file == self.path:
            return f"the Hugging Face cache copy of {what}"
        return f"{self._name(file)} of {what} (Hugging Face cache)"

    def fetch_again(self, file: Path) -> str:
        """What to do about a damaged file (or a damaged folder): the exact command for a Hub copy."""
        if self.repo_id is None:
            return f"copy the model folder {self.path} again from where it came from"
        if file == self.path:
            include = " ".join(f'--include "{p}"' for p in self.files)
            target, it = f"{include} ", "the model"
        else:
            target, it = f"{self._name(file)} ", "it"
        command = f"hf download {self.repo_id} {target}--revision {self.revision} --force-download"
        return f"fetch {it} again: {command}"

    def _name(self, file: Path) -> str:
        """A file's path inside the repo."""
        return file.relative_to(self.path).as_posix()

    @contextmanager
    def explain_damage(self) -> Iterator[None]:
        """Turn a `DamagedModelFile` raised inside into one line: which file, what is wrong, how to fix it."""
        try:
            yield
        except DamagedModelFile as e:
            raise ModelError(f"{self.describe(e.path)} {e.problem}; {self.fetch_again(e.path)}") from None


def first_line(error: BaseException) -> str:
    """What an exception says, on one line (libraries write whole reports), or its type."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


@contextmanager
def reading(path: Path) -> Iterator[None]:
    """Report what goes wrong while reading `path` (I/O, a parser's complaint) as a `DamagedModelFile`.

    Keep the block to the read itself: anything it raises is blamed on the file.
    """
    from safetensors import SafetensorError

    try:
        yield
    except FileNotFoundError:
        raise DamagedModelFile(path, "is missing") from None
    except (OSError, ValueError, RuntimeError, SafetensorError) as e:
        raise DamagedModelFile(path, f"is damaged ({first_line(e)})") from None


def read_json(path: Path) -> dict[str, Any]:
    """A JSON file of a model folder that must hold an object."""
    if Path(path).exists():
        user_files.regular_file(path, "model file", ModelError)  # a pipe would block the read below forever
    with reading(path):
        data = user_files.loads_strict(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise DamagedModelFile(path, "is damaged (it holds no JSON object)")
    return data


def safetensors_files(folder: Path) -> list[Path]:
    """The safetensors shards of a folder: those its index names, else `model.safetensors`."""
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        weight_map = read_json(index).get("weight_map")
        if not isinstance(weight_map, dict) or not weight_map:
            raise DamagedModelFile(index, "is damaged (it has no weight_map)")
        names = sorted({str(name) for name in weight_map.values()})
        if any(Path(name).is_absolute() or ".." in Path(name).parts for name in names):
            raise DamagedModelFile(index, "is damaged (it names files outside the model folder)")
        shards = [folder / name for name in names]
        for shard in shards:
            if not shard.is_file():
                raise DamagedModelFile(shard, f"is missing ({index.name} lists it)")
        return shards
    if (folder / "model.safetensors").is_file():
        return [folder / "model.safetensors"]
    raise ModelError(
        f"no safetensors weights (model.safetensors or model.safetensors.index.json) in model folder "
        f"{folder}; only safetensors weights are loaded"
    )


def safetensors_keys(path: Path) -> list[str]:
    """The tensor names of a shard, from its header; a cut or garbage file fails here, before any loading."""
    from safetensors import safe_open

    with reading(path), safe_open(str(path), framework="pt", device="cpu") as f:
        return list(f.keys())


def safetensors_tensors(path: Path) -> Iterator[tuple[str, Any]]:
    """(name, tensor) of every tensor of a shard, on the CPU, one at a time."""
    from safetensors import safe_open

    with reading(path):
        handle = safe_open(str(path), framework="pt", device="cpu")
    with handle:
        for key in handle.keys():  # noqa: SIM118 - safe_open is not a mapping
            with reading(path):
                tensor = handle.get_tensor(key)
            yield key, tensor


# ----- resolving a source ----------------------------------------------------------------------------------
def looks_like_path(text: str) -> bool:
    """True for values meant as a folder: `./m`, `/m`, `~/m`, `a/b/c`, `C:\\m`, `models/x` if `models/` is
    a folder here."""
    if text.startswith((".", "/", "~")) or text.count("/") > 1 or "\\" in text or _WINDOWS_DRIVE.match(text):
        return True
    return "/" in text and Path(text.split("/", 1)[0]).is_dir()


def model_folder(
    source: str | Path, model: HubModel, revision: str | None = None, job: Job | None = None
) -> ModelFolder:
    """The folder of `source`: a local folder as it is, or a Hub id from the cache (downloaded if missing).

    `revision` pins the commit of a Hub id; "owner/name@COMMIT" does too; without either only ids with a
    known pin (`model.pins`) are accepted. Raises `ModelError` with what to do.
    """
    text = str(source)
    path = Path(text).expanduser()
    if path.is_dir():
        return ModelFolder(path.resolve())
    if path.exists():
        user_files.folder(path, "model folder", ModelError)  # it is not one: say what it is instead
    if looks_like_path(text):
        raise ModelError(
            f"model folder {text} does not exist ({path.absolute()}); give the folder that holds the "
            f"{model.name} files, or a Hub id such as {model.default_id}"
        )
    repo_id, _, pinned = text.partition("@")
    if not _HUB_ID.fullmatch(repo_id):
        raise ModelError(
            f"{model.name} model {text!r} is neither a model folder nor a Hub id (like {model.default_id})"
        )
    commit = revision or pinned or model.pins.get(repo_id)
    if not commit:
        raise ModelError(
            f"there is no folder {text} here, and a Hub id is loaded only at a pinned commit: give "
            f"{repo_id}@COMMIT (the 40-character commit hash), or the folder that holds the model"
        )
    if not _COMMIT.fullmatch(commit):
        raise ModelError(f"{commit!r} is not a commit hash; pin {repo_id} to a full 40-character commit")
    folder = _cached_snapshot(repo_id, commit, model.files) or _download(repo_id, commit, model, job)
    return ModelFolder(folder, repo_id, commit, model.files)


def _cached_snapshot(repo_id: str, commit: str, files: tuple[str, ...]) -> Path | None:
    """The cache's complete copy of repo_id@commit, or None; never touches the network."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(
            snapshot_download(
                repo_id, revision=commit, allow_patterns=list(files), ignore_patterns=list(NOT_DATA),
                local_files_only=True,
            )
        )  # fmt: skip
    except LocalEntryNotFoundError:  # not there, or a download stopped half way (IncompleteSnapshotError)
        return None


# ----- downloading -----------------------------------------------------------------------------------------
class _Stopped(Exception):
    """Raised inside huggingface_hub's download loop to end a cancelled transfer."""


@dataclass
class _Transfer:
    """What the download thread has done so far; read by the caller's thread."""

    done: int = 0
    total: int | None = None
    file: str = ""
    error: BaseException | None = None


def _download(repo_id: str, commit: str, model: HubModel, job: Job | None) -> Path:
    """Download the data files of repo_id@commit into the Hugging Face cache, reporting to `job`."""
    from huggingface_hub import constants
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError
    from huggingface_hub.utils import get_session

    job = job_or_new(job)
    cache = constants.HF_HUB_CACHE
    what = f"{model.name} model {repo_id}@{commit[:12]} is not in the Hugging Face cache ({cache})"
    how = (
        f"get it on a machine with network access (hf download {repo_id} --revision {commit} "
        + " ".join(f'--include "{p}"' for p in model.files)
        + "), then copy that cache here, or pass a folder holding the model's files instead of the id"
    )
    if constants.is_offline_mode():
        raise ModelError(f"{what} and HF_HUB_OFFLINE is set; {how}")
    endpoint = constants.ENDPOINT
    try:
        get_session().head(endpoint, timeout=HUB_CHECK_TIMEOUT_S)
    except Exception as e:  # DNS, refused, timeout, proxy: the Hub cannot be reached from here
        raise ModelError(f"{what} and {endpoint} cannot be reached ({type(e).__name__}); {how}") from None
    logger.warning(
        "downloading the data files of %s@%s into %s", repo_id, commit[:12], constants.HF_HUB_CACHE
    )
    transfer, stop = _Transfer(), threading.Event()
    thread = threading.Thread(
        target=_fetch,
        args=(repo_id, commit, model.files, endpoint, transfer, stop),
        name=f"download {repo_id}",
        daemon=True,
    )
    thread.start()
    shown = None
    try:
        while thread.is_alive():
            thread.join(POLL_S)
            now = (transfer.done, transfer.total, transfer.file)
            if now != shown:
                job.progress("download", *now)
                shown = now
            else:
                job.check()
    finally:
        if thread.is_alive():  # cancelled or interrupted: end the transfer, let it remove its partial file
            stop.set()
            thread.join(STOP_GRACE_S)
    error = transfer.error
    if isinstance(error, RevisionNotFoundError):
        raise ModelError(
            f"{repo_id} has no commit {commit} on {endpoint}; check the pinned revision"
        ) from None
    if isinstance(error, RepositoryNotFoundError):
        raise ModelError(
            f"{endpoint} has no model {repo_id} (or it is private or gated: log in with `hf auth login`); "
            "check the id, or pass a folder holding the model's files"
        ) from None
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        raise ModelError(
            f"the disk holding the Hugging Face cache ({cache}) is full ({first_line(error)}); free space "
            "or set HF_HOME to a folder on a larger disk, then download again: the files already complete "
            "are kept, the cut one was removed"
        ) from None
    if error is not None:
        raise ModelError(
            f"cannot download {repo_id}@{commit[:12]} from {endpoint}: {first_line(error)}; {how}"
        ) from None
    cached = _cached_snapshot(repo_id, commit, model.files)
    if cached is None:
        raise ModelError(f"the download of {repo_id}@{commit[:12]} left an incomplete copy; {how}")
    return cached


def _fetch(
    repo_id: str,
    commit: str,
    files: tuple[str, ...],
    endpoint: str,
    transfer: _Transfer,
    stop: threading.Event,
) -> None:
    """The download thread: config.json first, then every other data file, one at a time.

    Fetching config.json with `snapshot_download` also records the repo's file list (with sizes) in the
    cache; that list gives the byte total, and lets a later cache lookup tell a complete copy from one a
    stopped download left half done. The rest goes through `hf_hub_download`, whose progress bar names
    the file. Errors are handed to the caller in `transfer.error`.
    """
    from huggingface_hub import get_cached_repo_tree, hf_hub_download, snapshot_download
    from huggingface_hub.utils import filter_repo_objects

    try:
        quiet = _byte_counter(_Transfer(), stop)  # its bytes count into a record nobody reads
        folder = Path(
            snapshot_download(
                repo_id, revision=commit, allow_patterns=["config.json"], endpoint=endpoint, tqdm_class=quiet
            )
        )
        listed = list(
            filter_repo_objects(
                get_cached_repo_tree(repo_id, revision=commit),
                allow_patterns=list(files),
                ignore_patterns=list(NOT_DATA),
                key=lambda entry: entry.path,
            )
        )
        missing = [entry for entry in listed if not (folder / entry.path).is_file()]
        transfer.total = sum(entry.size for entry in listed)
        transfer.done = transfer.total - sum(entry.size for entry in missing)
        _check_free_space(folder, sum(entry.size for entry in missing))
        bar = _byte_counter(transfer, stop)
        for entry in missing:
            if stop.is_set():
                return
            transfer.file, before = entry.path, transfer.done
            hf_hub_download(repo_id, entry.path, revision=commit, endpoint=endpoint, tqdm_class=bar)
            transfer.done = before + entry.size
        transfer.file = ""
    except _Stopped:
        pass
    except BaseException as e:  # handed to the caller's thread, which raises it as a ModelError
        transfer.error = e


def _check_free_space(folder: Path, needed: int) -> None:
    """Fail before a byte is fetched when the disk cannot hold the files still missing."""
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise OSError(
            errno.ENOSPC, f"{needed / 1e9:.2f} GB still to download, {free / 1e9:.2f} GB free on that disk"
        )


def _byte_counter(transfer: _Transfer, stop: threading.Event) -> type:
    """A stand-in for the tqdm bar huggingface_hub draws for one file: adds the bytes written to `transfer`.

    When the download is stopped it raises once: that ends a plain HTTP transfer at its next chunk (and
    huggingface_hub deletes the partial file). An Xet transfer ignores exceptions from its progress
    thread and finishes the file; the download thread then stops before the next one.
    """

    class FileBytes:
        format_dict: dict[str, Any] = {}  # noqa: RUF012 - read, never written, by huggingface_hub

        def __init__(self, *args: Any, total: int | None = None, initial: int = 0, **kwargs: Any) -> None:
            self.total, self.n, self._raised = total, initial, False

        def update(self, n: float | None = 1) -> None:
            if stop.is_set() and not self._raised:
                self._raised = True
                raise _Stopped
            self.n += int(n or 0)
            transfer.done += int(n or 0)

        def update_transfer(self, n: float | None = 1) -> None:
            pass  # network bytes; the bytes written are what is counted

        def set_postfix_str(self, *args: Any, **kwargs: Any) -> None:
            pass

        set_transfer_postfix_str = set_description = set_description_str = set_postfix_str

        def refresh(self) -> None:
            pass

        def close(self) -> None:
            pass

        def __enter__(self) -> FileBytes:
            return self

        def __exit__(self, *exc: object) -> None:
            pass

    return FileBytes
