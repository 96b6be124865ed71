"""The worker's model requests (models_list, models_download, models_verify) in a real worker process,
against the fake Hub on 127.0.0.1: progress, cancel mid-download, resume, a damaged file named."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.models.catalog import variant
from engine.worker.client import WorkerError, WorkerProcess
from tests.conftest import checkout_env
from tests.fake_hub import FakeHub

SAM2 = variant("sam2.1-tiny")


@pytest.fixture
def hub(sam2_folder: Path):
    with FakeHub({(SAM2.repo_id, SAM2.revision): sam2_folder}, delay_s=0.01) as served:
        yield served


@pytest.fixture
def worker(hub: FakeHub, tmp_path: Path):
    env = checkout_env(HF_ENDPOINT=hub.url, HF_HUB_CACHE=str(tmp_path / "hf"), HF_HUB_DISABLE_TELEMETRY="1")
    env.pop("HF_HUB_OFFLINE", None)
    with WorkerProcess(["--device", "cpu"], env=env) as w:
        yield w


def test_list_download_with_progress_cancel_resume_and_verify(worker, hub, sam2_folder: Path) -> None:
    listed = worker.call("models_list")
    tiny = next(m for m in listed["models"] if m["name"] == "sam2.1-tiny")
    assert tiny["copy"] is None and listed["endpoint"] == hub.url and listed["offline"] is False

    rid = worker.request("models_download", name="sam2.1-tiny")
    for event in worker.events(rid):  # cancel inside the weights
        assert event["event"] == "progress", event
        if event["message"] == "model.safetensors" and event["done"] > 0:
            worker.request("cancel", target=rid)
            break
    ended = [e for e in worker.events(rid) if e["event"] != "progress"]
    assert ended[-1]["event"] == "error" and ended[-1]["code"] == "cancelled"
    partial = next(m for m in worker.call("models_list")["models"] if m["name"] == "sam2.1-tiny")
    missing = partial["copy"]["missing"]
    assert "model.safetensors" in missing and "config.json" not in missing  # what finished stays

    hub.delay_s = 0.0
    hub.requests.clear()
    events = list(worker.stream("models_download", name="sam2.1-tiny"))
    result = events[-1]["data"]
    assert result["verified"] and result["copy"]["missing"] == [] and result["copy"]["verified"]
    stages = [e["stage"] for e in events if e["event"] == "progress"]
    assert "download" in stages and "verify" in stages and stages.index("download") < stages.index("verify")
    fetched = {path.rsplit("/", 1)[-1] for method, path in hub.requests if method == "GET"}
    assert fetched == set(missing)  # resumed: only the rest

    assert worker.call("models_verify", name="sam2.1-tiny")["verified"]
    weights = (Path(result["copy"]["path"]) / "model.safetensors").resolve()
    with open(weights, "r+b") as f:
        f.seek(os.path.getsize(weights) // 2)
        chunk = f.read(8)
        f.seek(-8, os.SEEK_CUR)
        f.write(bytes(b ^ 0xFF for b in chunk))
    with pytest.raises(WorkerError) as caught:
        worker.call("models_verify", name="sam2.1-tiny")
    assert caught.value.event["code"] == "model_error"
    assert "model.safetensors does not match its published checksum" in caught.value.event["message"]


def test_bad_model_requests_say_what_is_wrong(worker) -> None:
    with pytest.raises(WorkerError, match="no model called 'gpt'"):
        worker.call("models_download", name="gpt")
    with pytest.raises(WorkerError, match="is not on disk"):
        worker.call("models_verify", name="sam2.1-tiny")
