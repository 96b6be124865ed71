"""`scenescope models` and engine.models.store against the fake Hub on 127.0.0.1 (tests/fake_hub.py), which
publishes real checksums (git blob SHA-1, LFS SHA-256): download and verify, a cut connection resumed, a
damaged file named and repaired, offline saying what is missing, a full disk leaving nothing that looks
complete, a folder copied by hand recognised and verified, remove.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from engine.errors import ModelError
from engine.jobs import Job, Progress
from engine.models import store
from engine.models.catalog import CATALOG, SAM2_HUB, variant
from tests.conftest import REPO_ROOT, checkout_env
from tests.fake_hub import FakeHub, point_at
from tests.fixtures import internvideo_fixture
from tests.test_models_hub import closed_port_url

SAM2 = variant("sam2.1-tiny")
INTERNVIDEO = variant("internvideo2.5-8b")


@pytest.fixture
def hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "hf-cache"
    point_at(closed_port_url(), cache, monkeypatch)
    return cache


@pytest.fixture
def sam2_hub(sam2_folder: Path, hf_cache: Path, monkeypatch: pytest.MonkeyPatch):
    with FakeHub({(SAM2.repo_id, SAM2.revision): sam2_folder}) as hub:
        point_at(hub.url, hf_cache, monkeypatch)
        yield hub


def weights_blob(copy: store.ModelCopy) -> Path:
    return (copy.folder / "model.safetensors").resolve()


def flip_a_byte(path: Path) -> None:
    with open(path, "r+b") as f:
        f.seek(path.stat().st_size // 2)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0xFF]))


# ----- download and verify ----------------------------------------------------------------------------------
def test_catalog_pins_what_the_loaders_load() -> None:
    assert {v.name for v in CATALOG} >= {"internvideo2.5-8b", "sam2.1-tiny"}
    assert SAM2.revision == SAM2_HUB.pins[SAM2.repo_id]
    assert all(v.revision is None or len(v.revision) == 40 for v in CATALOG)
    with pytest.raises(ModelError, match=r"no model called 'sam3'; the models are: internvideo2.5-8b"):
        variant("sam3")


def test_download_completes_with_progress_and_verifies(sam2_hub: FakeHub, sam2_folder: Path) -> None:
    events: list[Progress] = []
    copy = store.download(SAM2, job=Job(on_progress=events.append))
    published = copy.published or {}
    assert set(published) == {p.name for p in sam2_folder.iterdir()}
    assert published["model.safetensors"].sha256 is not None  # an LFS file: checked by SHA-256
    assert published["config.json"].sha256 is None  # a git file: by its blob SHA-1
    assert copy.missing == [] and copy.variant is SAM2 and copy.in_cache
    total = sum(p.stat().st_size for p in sam2_folder.iterdir())
    assert [e for e in events if e.stage == "download"][-1].done == total
    verified = [e for e in events if e.stage == "verify"]
    assert verified[-1].done == verified[-1].total == total
    store.verify(copy)  # again, from what lies beside the download

    sam2_hub.requests.clear()
    assert store.download(SAM2).folder == copy.folder  # all there: no request at all
    assert sam2_hub.requests == []


def test_internvideo_shards_and_tokenizer_verify(hf_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    checkpoint = internvideo_fixture() / "checkpoint"
    with FakeHub({(INTERNVIDEO.repo_id, INTERNVIDEO.revision): checkpoint}) as hub:
        point_at(hub.url, hf_cache, monkeypatch)
        copy = store.download(INTERNVIDEO)
    published = copy.published or {}
    assert "tokenizer.model" in published and "model-00004-of-00004.safetensors" in published
    assert not [name for name in published if name.endswith(".py")]  # code is never part of a model here
    flip_a_byte((copy.folder / "model-00003-of-00004.safetensors").resolve())
    with pytest.raises(ModelError, match=r"model-00003-of-00004.safetensors does not match its published"):
        store.verify(copy)


def test_a_connection_cut_halfway_resumes_where_it_stopped(sam2_folder: Path, hf_cache, monkeypatch) -> None:
    size = (sam2_folder / "model.safetensors").stat().st_size
    half = size // 2 // (1 << 16) * (1 << 16)  # on a boundary of the 64 KiB chunks the client writes
    with FakeHub({(SAM2.repo_id, SAM2.revision): sam2_folder}, cut={"model.safetensors": half}) as hub:
        point_at(hub.url, hf_cache, monkeypatch)
        copy = store.download(SAM2)
    assert hub.ranges == [("model.safetensors", f"bytes={half}-")]  # only the second half again
    assert weights_blob(copy).stat().st_size == size
    store.verify(copy)


# ----- damaged, offline, full disk --------------------------------------------------------------------------
def test_a_damaged_file_fails_verify_naming_it_and_download_repairs_it(sam2_hub: FakeHub) -> None:
    copy = store.download(SAM2)
    assert copy.to_dict()["verified"] is True
    flip_a_byte(weights_blob(copy))  # same size, other bytes: only the checksum can tell
    assert copy.to_dict()["verified"] is False  # the write is seen without hashing
    with pytest.raises(ModelError) as caught:
        store.verify(copy)
    message = str(caught.value)
    assert "\n" not in message
    assert "model.safetensors does not match its published checksum (damaged)" in message
    assert "run `scenescope models download sam2.1-tiny` to fetch them again" in message
    assert "config.json" not in message

    sam2_hub.requests.clear()
    store.download(SAM2)
    fetched = {path.rsplit("/", 1)[-1] for method, path in sam2_hub.requests if method == "GET"}
    assert fetched == {"model.safetensors"}
    store.verify(copy)


def test_offline_uses_what_is_on_disk_and_says_what_is_missing(
    sam2_hub: FakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import constants

    copy = store.download(SAM2)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    sam2_hub.requests.clear()
    assert store.download(SAM2).folder == copy.folder
    store.verify(copy)
    assert sam2_hub.requests == []

    blob = weights_blob(copy)
    (copy.folder / "model.safetensors").unlink()
    blob.unlink()
    assert store.cache_copy(SAM2).missing == ["model.safetensors"]
    with pytest.raises(ModelError, match=r"HF_HUB_OFFLINE is set; .*; missing here: model\.safetensors$"):
        store.download(SAM2)
    with pytest.raises(ModelError, match=r"model.safetensors is missing"):
        store.verify(copy)
    assert sam2_hub.requests == []


def test_a_full_disk_before_the_download_fails_at_once(sam2_hub: FakeHub, monkeypatch) -> None:
    free = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage", lambda p: free(p)._replace(free=1000))
    with pytest.raises(ModelError, match=r"is full \(.* GB still to download, 0.00 GB free") as caught:
        store.download(SAM2)
    assert "set HF_HOME to a folder on a larger disk" in str(caught.value)
    fetched = {path.rsplit("/", 1)[-1] for method, path in sam2_hub.requests if method == "GET"}
    assert "model.safetensors" not in fetched


def test_a_disk_that_fills_up_mid_file_leaves_nothing_that_looks_complete(
    sam2_hub: FakeHub, hf_cache: Path, sam2_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import file_download

    real_get = file_download.http_get
    room = (sam2_folder / "model.safetensors").stat().st_size // 3

    class FullDisk:
        """The file being written, on a disk with `room` bytes left: then ENOSPC, as write(2) says."""

        def __init__(self, file) -> None:
            self.file, self.written = file, 0

        def write(self, data: bytes) -> int:
            if self.written + len(data) > room:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            self.written += len(data)
            return self.file.write(data)

        def __getattr__(self, name: str):
            return getattr(self.file, name)

    def get_on_a_full_disk(url: str, temp_file, **kwargs):
        return real_get(url, FullDisk(temp_file), **kwargs)

    monkeypatch.setattr(file_download, "http_get", get_on_a_full_disk)
    with pytest.raises(ModelError) as caught:
        store.download(SAM2)
    message = str(caught.value)
    assert "is full (" in message and "No space left on device" in message and "\n" not in message
    weights = (sam2_folder / "model.safetensors").stat().st_size
    assert not [p for p in hf_cache.rglob("*") if "incomplete" in p.name]
    assert weights not in [p.stat().st_size for p in hf_cache.rglob("blobs/*")]
    copy = store.cache_copy(SAM2)
    assert "model.safetensors" in copy.missing
    with pytest.raises(ModelError, match=r"model.safetensors is missing"):
        store.verify(copy)

    monkeypatch.setattr(file_download, "http_get", real_get)  # space freed: the next download completes
    store.verify(store.download(SAM2))


# ----- folders copied by hand, remove -----------------------------------------------------------------------
def test_a_cache_folder_copied_by_hand_is_recognised_and_verified(
    sam2_hub: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = store.download(SAM2)
    repo = store.repo_folder(SAM2.repo_id)
    usb = tmp_path / "usb" / repo.name
    shutil.copytree(repo, usb, symlinks=False)  # a plain copy: the snapshot's links become files
    sam2_hub.close()

    by_hand = store.folder_copy(usb / "snapshots" / SAM2.revision)
    assert by_hand.variant is SAM2 and by_hand.revision == SAM2.revision and not by_hand.in_cache
    store.verify(by_hand)
    flip_a_byte(by_hand.folder / "config.json")
    with pytest.raises(ModelError, match=r"config.json does not match.*copy those files again from where"):
        store.verify(by_hand)

    other_cache = tmp_path / "other-machine-cache"
    (other_cache / repo.name).parent.mkdir()
    shutil.copytree(repo, other_cache / repo.name, symlinks=False)
    point_at(closed_port_url(), other_cache, monkeypatch)
    found = store.cache_copy(SAM2)
    assert found is not None and found.missing == [] and found.folder != copy.folder
    store.verify(found)

    local_dir = tmp_path / "local-dir"  # what `hf download --local-dir` leaves: the list under .cache/
    shutil.copytree(copy.folder, local_dir)
    (local_dir / ".cache" / "huggingface" / "trees").mkdir(parents=True)
    shutil.copy(repo / "trees" / f"{SAM2.revision}.json", local_dir / ".cache" / "huggingface" / "trees")
    recognised = store.find_copy(str(local_dir))
    assert recognised.variant is SAM2 and recognised.revision == SAM2.revision
    store.verify(recognised)

    bare = tmp_path / "bare"
    shutil.copytree(copy.folder, bare)
    with pytest.raises(ModelError, match=r"has no list of the files the Hub published .*cannot be verified"):
        store.verify(store.folder_copy(bare))


def test_remove_frees_the_space(sam2_hub: FakeHub, sam2_folder: Path) -> None:
    store.download(SAM2)
    freed = store.remove(SAM2)
    assert freed >= sum(p.stat().st_size for p in sam2_folder.iterdir())
    assert not store.repo_folder(SAM2.repo_id).exists() and store.cache_copy(SAM2) is None
    assert store.remove(SAM2) == 0


# ----- the command, as users run it -------------------------------------------------------------------------
def scenescope(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "engine", "models", *args],
        env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_models_command_downloads_into_hf_home_verifies_offline_and_removes(
    sam2_folder: Path, tmp_path: Path
) -> None:
    env = checkout_env(HF_HOME=str(tmp_path / "hf-home"), HF_HUB_DISABLE_TELEMETRY="1")
    env.pop("HF_HUB_CACHE", None)
    env.pop("HF_HUB_OFFLINE", None)
    with FakeHub({(SAM2.repo_id, SAM2.revision): sam2_folder}) as hub:
        env["HF_ENDPOINT"] = hub.url
        done = scenescope("download", "sam2.1-tiny", "--json", env=env)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["verified"] and result["copy"]["missing"] == []
    assert Path(result["copy"]["path"]).is_relative_to(tmp_path / "hf-home" / "hub")

    offline = {**env, "HF_HUB_OFFLINE": "1", "HF_ENDPOINT": closed_port_url()}
    listed = json.loads(scenescope("list", "--json", env=offline).stdout)
    assert listed["offline"] is True and listed["cache"] == str(tmp_path / "hf-home" / "hub")
    tiny = next(m for m in listed["models"] if m["name"] == "sam2.1-tiny")
    assert tiny["copy"]["path"] == result["copy"]["path"]
    checked = scenescope("verify", "sam2.1-tiny", env=offline)
    assert checked.returncode == 0 and "match the published checksums" in checked.stdout
    where = scenescope("path", "sam2.1-tiny", env=offline)
    assert where.stdout.strip() == result["copy"]["path"]

    flip_a_byte((Path(result["copy"]["path"]) / "model.safetensors").resolve())
    bad = scenescope("verify", "sam2.1-tiny", env=offline)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    assert "model.safetensors does not match its published checksum" in bad.stderr

    gone = scenescope("remove", "sam2.1-tiny", env=offline)
    assert gone.returncode == 0 and "freed" in gone.stdout
    assert "not downloaded" in scenescope("list", env=offline).stdout
    missing = scenescope("path", "sam2.1-tiny", env=offline)
    assert missing.returncode == 2 and "run `scenescope models download sam2.1-tiny`" in missing.stderr
