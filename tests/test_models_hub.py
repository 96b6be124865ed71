"""engine.models.hub against a real HTTP Hub on 127.0.0.1 (tests/fake_hub.py): downloads with progress,
the local cache first (no request at all), fast failure offline, cancellation mid-file, data files only,
and the rule that a value that looks like a path is a folder.

huggingface_hub reads HF_ENDPOINT and HF_HUB_CACHE once, when it is imported; these in-process tests set
the constants those variables become (`fake_hub.point_at`). tests/test_hostile_models.py and the track
test below set the variables themselves, for a subprocess.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from engine.errors import ModelError
from engine.jobs import Cancelled, Job, Progress
from engine.models import hub as model_hub
from engine.models.hub import HubModel, model_folder
from engine.models.internvideo import DEFAULT_REPO, DEFAULT_REVISION, load_internvideo
from engine.tracking import DEFAULT_SAM_MODEL, load_sam2
from engine.tracking.model import HUB as SAM2_HUB
from tests.conftest import REPO_ROOT
from tests.fake_hub import FakeHub, point_at
from tests.fixtures import internvideo_fixture

SAM2_COMMIT = SAM2_HUB.pins[DEFAULT_SAM_MODEL]
CODE_AND_PICKLES = ("modeling_sam2.py", "sam2.1_hiera_tiny.pt", "setup.sh")


@pytest.fixture
def sam2_repo(sam2_folder: Path, tmp_path: Path) -> Path:
    """The tiny SAM2 as its Hub repo lists it: data files, and code and a pickle never to be fetched."""
    repo = Path(shutil.copytree(sam2_folder, tmp_path / "repo"))
    (repo / "modeling_sam2.py").write_text("raise SystemExit('model code ran')\n")
    (repo / "sam2.1_hiera_tiny.pt").write_bytes(b"\x80\x04pickle")
    (repo / "setup.sh").write_text("exit 1\n")
    return repo


@pytest.fixture
def hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Hugging Face cache, and a Hub where nothing listens until a test starts one."""
    cache = tmp_path / "hf-cache"
    point_at(closed_port_url(), cache, monkeypatch)
    return cache


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"  # closed again: nothing listens there


def data_files(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in folder.iterdir() if p.suffix in (".json", ".safetensors")}


# ----- download, progress, cache first ---------------------------------------------------------------------
def test_download_reports_bytes_fetches_data_only_and_the_cache_serves_the_next_load(
    sam2_repo: Path, hf_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[Progress] = []
    # 64 KiB every 10 ms: the few MB of weights take several of the loader's 0.1 s progress steps
    with FakeHub({(DEFAULT_SAM_MODEL, SAM2_COMMIT): sam2_repo}, delay_s=0.01) as hub:
        point_at(hub.url, hf_cache, monkeypatch)
        model = load_sam2(device="cpu", job=Job(on_progress=events.append))
        assert model.image_size == 256

        downloads = [e for e in events if e.stage == "download"]
        sizes = data_files(sam2_repo)
        assert {e.total for e in downloads if e.total is not None} == {sum(sizes.values())}
        done = [e.done for e in downloads]
        assert done == sorted(done) and done[-1] == sum(sizes.values())
        # the weights (a few MB) arrive in several steps, each naming the file
        weights = [e.done for e in downloads if e.message == "model.safetensors"]
        assert len(set(weights)) >= 3
        assert {e.message for e in downloads} <= {*sizes, ""}
        loads = [e for e in events if e.stage == "load"]
        assert [(e.done, e.total) for e in loads] == [(0, 1), (1, 1)]
        assert events.index(downloads[-1]) < events.index(loads[0])

        asked = {path.rsplit("/", 1)[-1] for _, path in hub.requests}
        assert not asked & set(CODE_AND_PICKLES)
        cached = {p.name for p in hf_cache.rglob("*") if p.is_file()}
        assert not cached & set(CODE_AND_PICKLES)

        hub.requests.clear()
        load_sam2(device="cpu")
        assert hub.requests == []  # served from the cache: not one request
    load_sam2(device="cpu")  # and with no Hub at all


def test_internvideo_downloads_with_progress_and_never_its_python_files(
    hf_cache: Path, monkeypatch: pytest.MonkeyPatch, one_torch_thread: None
) -> None:
    checkpoint = internvideo_fixture() / "checkpoint"  # ships the published folder's .py files
    events: list[Progress] = []
    with FakeHub({(DEFAULT_REPO, DEFAULT_REVISION): checkpoint}) as hub:
        point_at(hub.url, hf_cache, monkeypatch)
        model = load_internvideo(device="cpu", job=Job(on_progress=events.append))
        asked = {path for _, path in hub.requests}
    assert model.identity.endswith("@" + DEFAULT_REVISION[:12])
    assert not [p for p in asked if p.endswith(".py")]
    assert not list(hf_cache.rglob("*.py"))
    downloads = [e for e in events if e.stage == "download"]
    assert (
        downloads[-1].done
        == downloads[-1].total
        == sum(data_files(checkpoint).values())
        + sum(p.stat().st_size for p in checkpoint.glob("tokenizer.model"))
    )
    loads = [e for e in events if e.stage == "load"]
    total = loads[0].total
    assert [e.done for e in loads] == list(range(1, total + 1))  # every tensor of the four shards
    assert {e.message for e in loads} == {f"model-0000{i}-of-00004.safetensors" for i in range(1, 5)}


def test_cancel_mid_download_raises_cancelled_and_leaves_no_partial_file(
    sam2_repo: Path, hf_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    weights = (sam2_repo / "model.safetensors").stat().st_size
    with FakeHub({(DEFAULT_SAM_MODEL, SAM2_COMMIT): sam2_repo}, chunk=1 << 16, delay_s=0.02) as hub:
        point_at(hub.url, hf_cache, monkeypatch)

        def cancel_inside_the_weights(progress: Progress) -> None:
            if progress.message == "model.safetensors" and progress.done > 0:
                job.cancel()

        job = Job(on_progress=cancel_inside_the_weights)
        started = time.perf_counter()
        with pytest.raises(Cancelled):
            load_sam2(device="cpu", job=job)
        assert time.perf_counter() - started < weights / (1 << 16) * 0.02  # before the file could end
        time.sleep(model_hub.STOP_GRACE_S)  # the transfer thread's last moment, should it still run
        assert not [p for p in hf_cache.rglob("*") if "incomplete" in p.name]
        blobs = [p.stat().st_size for p in hf_cache.rglob("blobs/*")]
        assert weights not in blobs and sum(blobs) < weights  # only the small files arrived whole
        assert not [t for t in threading.enumerate() if t.name.startswith("download ")]

        # the cache knows that copy is incomplete: the next load downloads the rest, then works
        hub.delay_s = 0.0
        hub.requests.clear()
        assert load_sam2(device="cpu").image_size == 256
        fetched = {path.rsplit("/", 1)[-1] for method, path in hub.requests if method == "GET"}
        assert "model.safetensors" in fetched and "config.json" not in fetched


# ----- failing fast, with what to do -----------------------------------------------------------------------
def test_offline_fails_at_once_saying_how_to_get_the_model(
    hf_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = time.perf_counter()
    with pytest.raises(ModelError) as caught:
        load_internvideo(device="cpu")
    assert time.perf_counter() - started < 3.0
    message = str(caught.value)
    assert "cannot be reached" in message and "\n" not in message
    assert f"hf download {DEFAULT_REPO} --revision {DEFAULT_REVISION}" in message
    assert "pass a folder" in message

    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ModelError, match="HF_HUB_OFFLINE is set; get it on a machine with network access"):
        load_sam2(device="cpu")


def test_unknown_repos_and_commits_are_named(sam2_repo: Path, hf_cache: Path, monkeypatch) -> None:
    with FakeHub({(DEFAULT_SAM_MODEL, SAM2_COMMIT): sam2_repo}) as hub:
        point_at(hub.url, hf_cache, monkeypatch)
        with pytest.raises(ModelError, match="has no model someone/else"):
            load_sam2("someone/else@" + "b" * 40, device="cpu")
        with pytest.raises(ModelError, match=f"has no commit {'c' * 40}"):
            load_sam2(DEFAULT_SAM_MODEL, revision="c" * 40, device="cpu")


# ----- what a value means ----------------------------------------------------------------------------------
SPEC = HubModel("test", "owner/model", {"owner/model": "a" * 40}, ("*.json",))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("./nosuch", "model folder ./nosuch does not exist"),
        ("~/scenescope-no-such-model", "does not exist"),
        ("/nowhere/model", "does not exist"),
        ("models/m/x", "does not exist"),
        ("models/nosuch", "does not exist"),  # models/ is a folder here
        ("C:\\models\\m", "does not exist"),
        ("D:/models/m", "does not exist"),
        ("nosuch/model", r"no folder nosuch/model here, and a Hub id is loaded only at a pinned commit"),
        ("owner/model@main", "'main' is not a commit hash"),
        ("just-a-name", "neither a model folder nor a Hub id"),
    ],
)
def test_a_value_is_a_folder_or_a_pinned_id_and_nothing_is_asked_to_tell(
    value: str, message: str, tmp_path: Path, hf_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "models").mkdir()
    monkeypatch.chdir(tmp_path)
    with FakeHub({}) as hub:
        point_at(hub.url, hf_cache, monkeypatch)
        with pytest.raises(ModelError, match=message):
            model_folder(value, SPEC)
        assert hub.requests == []


def test_a_folder_is_taken_as_it_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "owner" / "model").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    found = model_folder("owner/model", SPEC)  # a folder here wins over the Hub id of the same name
    assert found.path == (tmp_path / "owner" / "model").resolve() and found.repo_id is None
    (tmp_path / "file").write_text("x")
    with pytest.raises(ModelError, match="is a file, not a model folder"):
        model_folder(tmp_path / "file", SPEC)


# ----- the real command, with HF_ENDPOINT set ---------------------------------------------------------------
def test_track_downloads_sam2_from_the_hub_named_by_hf_endpoint(
    sam2_repo: Path, tmp_path: Path, media, env: dict[str, str]
) -> None:
    video = media("hub-track.mp4", frames=12, fps=12.0, gop=6)
    with FakeHub({(DEFAULT_SAM_MODEL, SAM2_COMMIT): sam2_repo}) as hub:
        run_env = {**env, "HF_ENDPOINT": hub.url, "HF_HUB_CACHE": str(tmp_path / "hf")}
        args = ["track", str(video), "--at", "0.2", "--point", "60,40", "--device", "cpu", "--json"]
        result = subprocess.run(
            [sys.executable, "-m", "engine", *args, "--out", str(tmp_path / "out")],
            env=run_env,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["frames_tracked"] > 0
    assert "downloading the data files of facebook/sam2.1-hiera-tiny" in result.stderr
    assert (tmp_path / "hf" / "models--facebook--sam2.1-hiera-tiny" / "snapshots" / SAM2_COMMIT).is_dir()
