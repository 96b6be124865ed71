"""Getting one model onto this machine, through the worker: what is here, download (cancel, resume), or a
folder chosen by hand and verified. `ModelSetupDialog` draws it.

    setup = ModelSetup(window.worker, "internvideo")   # or "sam2"
    setup.changed.connect(redraw)
    setup.refresh()                                    # models_list
    setup.download() / setup.cancel() / setup.use_folder(path)
    setup.folder_chosen -> (which, path): the window stores it as the model to load
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Signal

from app.worker_client import Call, WorkerClient
from engine.jobs import Progress
from engine.models.catalog import DEFAULTS

NO_CHECKSUM_LIST = "has no list of the files the Hub published"


@dataclass(frozen=True)
class Step:
    """What the setup is doing now, for the dialog."""

    state: str  # "loading", "missing", "incomplete", "ready", "downloading", "verifying"
    progress: Progress | None = None
    error: str = ""  # the last failure, one line
    unverifiable_folder: str = ""  # a folder that can be used, but has no checksums to verify against


class ModelSetup(QObject):
    changed = Signal()
    folder_chosen = Signal(str, str)  # which ("internvideo" | "sam2"), folder

    def __init__(self, worker: WorkerClient, which: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.worker, self.which = worker, which
        self.name = DEFAULTS[which]
        self.listing: dict[str, Any] = {}
        self.model: dict[str, Any] = {}  # the catalog entry and its copy, from models_list
        self.step = Step("loading")
        self._call: Call | None = None

    # ----- what is here -------------------------------------------------------------------------------------
    @property
    def offline(self) -> bool:
        return bool(self.listing.get("offline"))

    @property
    def target(self) -> str:
        """The folder the download goes to (its Hugging Face cache folder)."""
        repo = str(self.model.get("repo_id", "")).replace("/", "--")
        return f"{self.listing.get('cache', '')}/models--{repo}"

    def refresh(self, error: str = "") -> None:
        call = self.worker.request("models_list")
        call.finished.connect(lambda data: self._listed(data, error))
        call.failed.connect(lambda failure: self._set(Step("missing", error=failure["message"])))

    def _listed(self, data: dict[str, Any], error: str) -> None:
        self.listing = data
        self.model = next(m for m in data["models"] if m["name"] == self.name)
        self._set(Step(self._here(), error=error))

    def _here(self) -> str:
        """ "missing", "incomplete" or "ready": what the last listing found on disk."""
        copy = self.model.get("copy")
        return "missing" if copy is None else "incomplete" if copy["missing"] else "ready"

    # ----- getting it ---------------------------------------------------------------------------------------
    def download(self) -> None:
        """Fetch what is missing (a stopped download resumes with the files it finished), then verify."""
        call = self.worker.request("models_download", name=self.name)
        self._start(call, "downloading", self._failed)
        call.finished.connect(lambda data: self.refresh())

    def use_folder(self, folder: str) -> None:
        """Verify a folder copied by hand; when it passes, it becomes the model to load."""
        call = self.worker.request("models_verify", name=folder)
        self._start(call, "verifying", lambda failure: self._folder_failed(folder, failure))
        call.finished.connect(lambda data: self._chosen(folder))

    def use_unverified(self) -> None:
        """Take a folder that has no checksum list anyway (the user vouches for it)."""
        if self.step.unverifiable_folder:
            self._chosen(self.step.unverifiable_folder)

    def cancel(self) -> None:
        if self._call is not None:
            self.worker.cancel(self._call)

    @property
    def busy(self) -> bool:
        return self._call is not None

    def _start(self, call: Call, state: str, failed: Callable[[dict[str, Any]], None]) -> None:
        self._call = call
        call.progress.connect(lambda progress: self._set(Step(state, progress)))
        call.finished.connect(self._ended)
        call.failed.connect(self._ended)
        call.failed.connect(failed)
        self._set(Step(state))

    def _ended(self, data: dict[str, Any]) -> None:
        self._call = None

    def _failed(self, failure: dict[str, Any]) -> None:
        if failure.get("code") == "cancelled":
            message = "Download stopped. The files already complete are kept: Resume fetches the rest."
        else:
            message = failure.get("message", "") + (f" {failure['hint']}" if failure.get("hint") else "")
        self.refresh(message)

    def _chosen(self, folder: str) -> None:
        self._set(Step(self._here()))
        self.folder_chosen.emit(self.which, folder)

    def _folder_failed(self, folder: str, failure: dict[str, Any]) -> None:
        if NO_CHECKSUM_LIST not in failure.get("message", ""):
            return self._failed(failure)
        return self._set(Step(self._here(), error=failure["message"], unverifiable_folder=folder))

    def _set(self, step: Step) -> None:
        self.step = step
        self.changed.emit()
