"""`scenescope track` as users run it: a real subprocess on a generated video with the tiny SAM2."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import av
import pytest

from engine.tracking import TrackStore
from engine.video import probe
from tests.conftest import checkout_env

SCENESCOPE = shutil.which("scenescope", path=str(Path(sys.executable).parent)) or "scenescope"
ENV = checkout_env(OMP_NUM_THREADS="1")  # the tiny model is all overhead; see one_torch_thread


def track(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([SCENESCOPE, "track", *args], capture_output=True, text=True, timeout=300, env=ENV)


@pytest.fixture(scope="module")
def video(media):
    return media("cli_track.mp4", frames=40, fps=20, width=160, height=120, gop=10, texture=True, audio=True)


def test_track_writes_every_export_and_a_json_summary(video, sam2_folder, tmp_path):
    out = tmp_path / "out"
    result = track(
        str(video), "--at", "1.0", "--point", "80,60", "--negative", "10,10", "--range", "0.5-1.5",
        "--sam-model", str(sam2_folder), "--device", "cpu", "--out", str(out), "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["frames_tracked"] == 20  # frames shown from 0.5 s to 1.5 s at 20 fps
    (obj,) = summary["objects"]
    assert (obj["id"], obj["frames"], obj["start_s"], obj["end_s"]) == (1, 20, 0.5, 1.45)
    assert 0 <= obj["visible_frames"] <= 20
    assert summary["time_s"]["total"] >= summary["time_s"]["track"] > 0
    assert summary["peak_memory"]["rss_bytes"] > 100 * 2**20 and summary["peak_memory"]["cuda_bytes"] is None
    assert summary["device"] == "cpu" and summary["model"] == str(sam2_folder)

    store = TrackStore.load(out / "tracks.json")
    assert store.frame_indices(1) == list(range(10, 30))
    assert [p.points for p in store.prompts(1)] == [((80.0, 60.0), (10.0, 10.0))]
    assert len(list((out / "masks" / "object_1").iterdir())) == 20
    assert len((out / "boxes.csv").read_text().splitlines()) == 1 + obj["visible_frames"]
    burned = probe(out / "tracked.mp4")
    assert burned.frame_count == 20 and burned.duration_s == pytest.approx(1.0, abs=1e-3)
    with av.open(str(out / "tracked.mp4")) as c:
        assert c.streams.audio[0].codec_context.name == "aac"

    again = track(
        str(video), "--at", "1", "--point", "80,60", "--sam-model", str(sam2_folder), "--out", str(out)
    )
    assert again.returncode == 2 and "already exist" in again.stderr and "--overwrite" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1


def test_text_summary(video, sam2_folder, tmp_path):
    result = track(str(video), "--at", "0:01.5", "--box", "40,30,120,90", "--range", "1-2",
                   "--sam-model", str(sam2_folder), "--out", str(tmp_path / "o"))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "object 1: 20 frames from 00:00:01.000 to 00:00:01.950" in result.stdout
    assert "peak" in result.stdout and "tracked.mp4" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--at", "1"], "give --point X,Y"),
        (["--at", "1.8", "--point", "5,5", "--range", "0-1"], "no clicks between"),
        (
            ["--at", "1", "--point", "5,5", "--sam-model", "nowhere/at/all"],
            "model folder nowhere/at/all does not exist",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(video, sam2_folder, tmp_path, args, message):
    if "--sam-model" not in args:
        args = [*args, "--sam-model", str(sam2_folder)]
    result = track(str(video), *args, "--out", str(tmp_path / "o"))
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_malformed_numbers_are_usage_errors(video, tmp_path):
    result = track(str(video), "--at", "1", "--point", "1;2", "--out", str(tmp_path / "o"))
    assert result.returncode == 2 and "X,Y" in result.stderr
