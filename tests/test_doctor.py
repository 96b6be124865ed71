"""`scenescope doctor` and `scenescope models list` on this CPU machine, as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

from engine.models import store
from engine.models.catalog import variant
from tests.conftest import REPO_ROOT, checkout_env
from tests.fake_hub import FakeHub, point_at

NOT_REPORTED_ON = ("transformers", "PySide6.QtCore", "bitsandbytes", "flash_attn", "sentencepiece")


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300
    )


def test_doctor_reports_the_machine_and_a_verified_model(
    sam2_folder: Path, tmp_path: Path, monkeypatch
) -> None:
    sam2 = variant("sam2.1-tiny")
    with FakeHub({(sam2.repo_id, sam2.revision): sam2_folder}) as hub:
        point_at(hub.url, tmp_path / "hf", monkeypatch)
        store.download(sam2)  # verifies, and records that it did
    env = checkout_env(HF_HUB_CACHE=str(tmp_path / "hf"), HF_HUB_OFFLINE="1")

    started = time.perf_counter()
    result = run("-m", "engine", "doctor", "--json", env=env)
    took = time.perf_counter() - started
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["python"] == ".".join(map(str, sys.version_info[:3]))
    assert data["torch"]["version"] == metadata.version("torch") and data["torch"]["gpus"] == []
    assert data["packages"]["transformers"] == metadata.version("transformers")
    assert data["video"]["codecs"] == {"h264 decode": True, "hevc decode": True, "libx264 encode": True}
    assert data["qt"]["multimedia_backends"]  # the player's FFmpeg backend ships with PySide6
    models = {m["name"]: m["copy"] for m in data["models"]}
    assert models["sam2.1-tiny"]["verified"] is True and models["internvideo2.5-8b"] is None
    assert models["sam2.1-tiny"]["path"].startswith(str(tmp_path / "hf"))
    assert data["caches"]["huggingface"]["bytes"] >= sum(p.stat().st_size for p in sam2_folder.iterdir())
    assert data["plan"]["device"]["kind"] == "cpu" and "\n" not in data["plan"]["explanation"]
    assert took < 60  # seconds on a loaded 2-core machine; torch's import is most of it

    text = run("-m", "engine", "doctor", env=env)
    assert text.returncode == 0 and "sam2.1-tiny: on disk (4 files), verified" in text.stdout
    assert "h264 decode yes, hevc decode yes, libx264 encode yes" in text.stdout
    plan = [line for line in text.stdout.splitlines() if line.startswith("plan            CPU, ")]
    assert len(plan) == 1 and "fp32 LLM with 128 frames" in plan[0]  # the RAM free moves between runs


def test_doctor_imports_nothing_it_does_not_report_on(tmp_path: Path) -> None:
    probe = (
        "import sys\nfrom engine.cli import main\nmain(['doctor', '--json'])\n"
        f"print(sorted(set({NOT_REPORTED_ON!r}) & set(sys.modules)), file=sys.stderr)"
    )
    result = run("-c", probe, env=checkout_env(HF_HUB_CACHE=str(tmp_path / "hf")))
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().splitlines()[-1] == "[]"


def test_models_list_runs_here(tmp_path: Path) -> None:
    result = run("-m", "engine", "models", "list", env=checkout_env(HF_HUB_CACHE=str(tmp_path / "hf")))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"cache  {tmp_path / 'hf'}"
    assert any(line.startswith("internvideo2.5-8b") and "16.81 GB" in line for line in lines)
    assert any(line.startswith("sam2.1-large") and "665f8e2ad61c" in line for line in lines)
