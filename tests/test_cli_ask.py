"""`scenescope ask` in real subprocesses: the visual-token cache across runs, streaming to stdout, JSON, and
a missing model failing fast on a machine without network.

Every run points the Hugging Face cache at an empty (or prepared) folder and the Hub endpoint at a closed
local port, so no test can reach the network whatever machine it runs on.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from engine.models.internvideo import DEFAULT_REPO, DEFAULT_REVISION
from engine.video import Sampling, probe, sample_frames
from tests.conftest import REPO_ROOT, library_noise
from tests.fixtures import internvideo_fixture

QUESTION = "What happens in this video?"


@pytest.fixture(scope="module")
def video(media: Callable[..., Path]) -> Path:
    return media("ask-cli.mp4", frames=100, fps=25.0, gop=25, bframes=2)


@pytest.fixture(scope="module")
def cached_env(env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A Hugging Face cache holding the tiny model as if it were the published repo at the pinned commit."""
    hf_cache = tmp_path_factory.mktemp("hf-cache")
    snapshot = hf_cache / f"models--{DEFAULT_REPO.replace('/', '--')}" / "snapshots" / DEFAULT_REVISION
    snapshot.mkdir(parents=True)
    for file in (internvideo_fixture() / "checkpoint").iterdir():
        if file.suffix != ".py":
            shutil.copy(file, snapshot / file.name)
    return {**env, "HF_HUB_CACHE": str(hf_cache)}


def scenescope(args: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "engine", *args],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def streamed_run(args: list[str], env: dict[str, str]) -> tuple[list[bytes], str]:
    """Run and read stdout as it is flushed: (the pieces read, stderr)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "engine", *args],
        env=env,
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    reads: list[bytes] = []
    while chunk := os.read(process.stdout.fileno(), 1 << 16):  # returns whatever has been written so far
        reads.append(chunk)
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) == 0, stderr
    return reads, stderr


def test_asking_again_runs_no_vision_pass_and_the_answer_streams(
    video: Path, cached_env: dict[str, str]
) -> None:
    # the default model (no --model) comes from the local Hugging Face cache: the Hub is unreachable
    args = ["ask", str(video), QUESTION, "--frames", "16", "--max-new-tokens", "60"]
    first = scenescope([*args, "--json"], cached_env)
    assert first.returncode == 0, first.stderr
    assert library_noise(first.stderr) == []  # no FutureWarning about the KV cache, no library chatter
    result = json.loads(first.stdout)
    assert result["cache"] == {"hit": False, "source": "computed", "vision_passes": 2}  # 16 frames, 8 a pass
    expected = sample_frames(probe(video).frames, Sampling("frames", 16)).to_list()
    assert result["frames"] == expected and result["tokens"]["generated"] == 60
    assert {"probe_s", "load_model_s", "encode_s", "first_token_s", "generate_s"} <= set(result["timings_s"])

    reads, stderr = streamed_run(args, cached_env)
    assert len(reads) >= 3  # the text arrived piece by piece, not in one write at the end
    assert b"".join(reads).decode().strip() == result["answer"]
    assert "visual tokens from cache" in stderr and "16 frames" in stderr
    assert library_noise(stderr) == []

    again = scenescope([*args, "--json"], cached_env)
    assert again.returncode == 0, again.stderr
    repeat = json.loads(again.stdout)
    assert repeat["cache"] == {"hit": True, "source": "disk", "vision_passes": 0}
    assert repeat["answer"] == result["answer"] and repeat["frames"] == expected
    assert "encode_s" not in repeat["timings_s"]


@pytest.mark.parametrize("offline", [False, True], ids=["hub-unreachable", "HF_HUB_OFFLINE"])
def test_a_missing_default_model_fails_fast(video: Path, env: dict[str, str], offline: bool) -> None:
    run_env = {**env, "HF_HUB_OFFLINE": "1"} if offline else env
    start = time.monotonic()
    done = scenescope(["ask", str(video), QUESTION], run_env)
    elapsed = time.monotonic() - start
    assert done.returncode == 2 and done.stdout == ""
    (line,) = done.stderr.strip().splitlines()  # one line, no traceback, no retry chatter
    assert (
        line.startswith("scenescope: ") and DEFAULT_REPO in line and "not in the Hugging Face cache" in line
    )
    assert "pass a folder" in line and f"hf download {DEFAULT_REPO} --revision {DEFAULT_REVISION}" in line
    assert ("HF_HUB_OFFLINE" in line) if offline else ("cannot be reached" in line)
    assert elapsed < 30  # huggingface_hub's own retries would take about 25 s on top of start-up


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--frames", "0"], "--frames must be at least 1: give how many frames the model sees."),
        (
            ["--max-new-tokens", "0"],
            "--max-new-tokens must be from 1 to 8192, not 0: give a length in that range.",
        ),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(
    video: Path, env: dict[str, str], extra: list[str], message: str
) -> None:
    done = scenescope(["ask", str(video), QUESTION, *extra], env)
    assert done.returncode == 2 and done.stderr.strip() == f"scenescope: {message}"


def test_more_frames_than_the_video_holds_encode_each_frame_once(video: Path, cached_env) -> None:
    done = scenescope(
        ["ask", str(video), QUESTION, "--frames", "100000", "--max-new-tokens", "2", "--json"], cached_env
    )
    assert done.returncode == 0, done.stderr
    indices = [f["index"] for f in json.loads(done.stdout)["frames"]]
    assert len(indices) == len(set(indices)) == 96  # each once, not 100,000 frames, each ~1000 times
    assert "note: 96 frames, not 100000: the range holds no more distinct frames" in done.stderr
