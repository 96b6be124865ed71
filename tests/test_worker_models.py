"""The worker's model rule: load on first use, one at a time; on out-of-memory with the other model loaded,
unload it (saying so), close what lived on it, and try once more; never hide any other failure."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from engine.jobs import Job, Progress
from engine.worker import state
from engine.worker.state import Handles, Models, Settings, Tracking

ASSISTANT = SimpleNamespace(model=SimpleNamespace(name="tiny", device="cuda:0"))  # what describe() reads


def test_out_of_memory_unloads_the_other_model_and_retries(monkeypatch) -> None:
    loads: list[str] = []
    room = {"free": False}

    def internvideo(settings, plan, job):
        loads.append("internvideo")
        if not room["free"]:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return ASSISTANT

    def sam2(settings, plan, job):
        loads.append("sam2")
        return "the sam2"

    monkeypatch.setattr(state, "LOADERS", {"internvideo": internvideo, "sam2": sam2})
    monkeypatch.setattr(state, "_free_device_memory", lambda: room.update(free=True))
    handles = Handles()
    models = Models(Settings(device="cuda"), handles)
    seen: list[Progress] = []
    job = Job(on_progress=seen.append)
    with models.using("sam2", job) as model:
        assert model == "the sam2"
    tracker = handles.add("tracker", Tracking("video-1", object()))
    with models.using("internvideo", job) as model:
        assert model is ASSISTANT
    assert loads == ["sam2", "internvideo", "internvideo"]
    assert any("unloading SAM 2.1 to make room for InternVideo2.5" in p.message for p in seen)
    assert models.describe()["sam2"] is None and handles.counts() == {}  # its trackers are gone
    with pytest.raises(Exception, match="no open tracker"):
        handles.get("tracker", tracker)


def test_other_failures_and_out_of_memory_alone_are_not_hidden(monkeypatch) -> None:
    def broken(settings, plan, job):
        raise torch.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(state, "LOADERS", {"internvideo": broken, "sam2": broken})
    models = Models(Settings(), Handles())
    with pytest.raises(torch.OutOfMemoryError), models.using("internvideo", Job()):
        pass  # nothing else loaded: nothing to unload, the error reaches the client as out_of_memory


def test_changed_settings_unload_only_the_model_they_concern(monkeypatch) -> None:
    loaders = {"internvideo": lambda s, p, j: ASSISTANT, "sam2": lambda s, p, j: "sam"}
    monkeypatch.setattr(state, "LOADERS", loaders)
    models = Models(Settings(), Handles())
    for name in ("internvideo", "sam2"):
        with models.using(name, Job()):
            pass
    assert models.configure(Settings(precision="nf4")) == ["internvideo"]
    assert models.configure(Settings(precision="nf4", sam2="other/sam")) == ["sam2"]
    assert models.configure(Settings(precision="nf4", sam2="other/sam")) == []
