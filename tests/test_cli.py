"""The `scenescope` command, run as a real subprocess the way users run it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.video import Sampling, probe, sample_frames
from engine.video.sampling import DEFAULT_BUDGET
from tests.conftest import REPO_ROOT, checkout_env

SCENESCOPE = shutil.which("scenescope", path=str(Path(sys.executable).parent)) or "scenescope"


def run(*args: str, env_extra: dict | None = None, timeout: int = 120) -> subprocess.CompletedProcess:
    env = checkout_env(**(env_extra or {}))
    return subprocess.run([SCENESCOPE, *args], capture_output=True, text=True, timeout=timeout, env=env)


def test_probe_json_has_the_documented_fields(media):
    path = media("cli_vfr_audio.mp4", durations_s=[0.04] * 30 + [0.02] * 30, audio=True)
    result = run("probe", str(path), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    info = probe(path)
    assert data["frame_count"] == info.frame_count == 60
    assert data["duration_s"] == pytest.approx(1.8, abs=1e-3)
    assert data["fps"] == pytest.approx(60 / 1.8, rel=1e-4)
    assert (data["width"], data["height"], data["rotation"]) == (320, 240, 0)
    assert data["vfr"] is True and data["has_audio"] is True and data["codec"] == "h264"


def test_probe_text_output(media):
    path = media("cli_rot.mp4", rotation_ccw=90, width=320, height=240)
    result = run("probe", str(path))
    assert result.returncode == 0, result.stderr
    assert "240x320, shown rotated 270° clockwise" in result.stdout
    assert "constant frame rate" in result.stdout


def test_sample_json_matches_the_engine(media):
    path = media("cli_cfr.mp4", frames=250, fps=25, gop=50)
    result = run("sample", str(path), "--frames", "16", "--start", "2", "--end", "0:08", "--json")
    assert result.returncode == 0, result.stderr
    frames = json.loads(result.stdout)["frames"]
    expected = sample_frames(probe(path).frames, Sampling("frames", 16, 2.0, 8.0))
    assert [f["index"] for f in frames] == expected.indices.tolist()
    assert [f["time_s"] for f in frames] == pytest.approx(expected.times_s.tolist(), abs=1e-6)
    assert all(2.0 <= f["time_s"] <= 8.0 for f in frames)


def test_sample_rounds_to_groups_of_four_and_says_so(media):
    path = media("cli_cfr.mp4", frames=250, fps=25, gop=50)
    result = run("sample", str(path), "--frames", "10", "--json")
    assert result.returncode == 0
    assert len(json.loads(result.stdout)["frames"]) == 12
    assert "12 frames, not 10" in result.stderr


@pytest.mark.parametrize(
    ("mode", "sampling", "count"),
    [
        (["--fps", "2"], Sampling("fps", 2), 20),
        (["--auto"], Sampling("auto", DEFAULT_BUDGET), 148),  # 10 s is short: dense, far below the budget
        (["--auto", "--budget", "8"], Sampling("auto", 8), 8),
        (["--auto", "--budget", "10"], Sampling("auto", 10), 8),  # whole groups of 4 within the budget
    ],
    ids=["fps 2", "auto", "auto budget 8", "auto budget 10"],
)
def test_sample_modes_print_the_engines_frames(media, mode, sampling, count):
    path = media("cli_cfr.mp4", frames=250, fps=25, gop=50)
    expected = sample_frames(probe(path).frames, sampling)
    assert len(expected) == count
    as_json = run("sample", str(path), *mode, "--json")
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout)["frames"] == expected.to_list()
    as_text = run("sample", str(path), *mode)
    assert as_text.returncode == 0, as_text.stderr
    rows = [line.split() for line in as_text.stdout.strip().splitlines()]
    assert [(row[0], row[2]) for row in rows] == [
        (str(i + 1), str(index)) for i, index in enumerate(expected.indices)
    ]
    assert all(row[1] == "frame" and row[3].startswith("00:00:") for row in rows)


def test_a_clock_time_out_of_range_is_refused_not_clamped(media):
    """Read as 60 s, `--end 0:60` would be clamped to the 10 s clip and sample it all without a word."""
    path = media("cli_cfr.mp4", frames=250, fps=25, gop=50)
    result = run("sample", str(path), "--frames", "8", "--end", "0:60")
    assert result.returncode == 2 and result.stdout == ""
    assert "'0:60'" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["sample", "{v}", "--frames", "8", "--start", "20", "--end", "30"], "is empty"),
        (["sample", "{v}", "--fps", "0"], "--fps must be positive"),
        (["sample", "{v}", "--frames", "8", "--start", "1:75"], None),  # argparse rejects the time
        (["probe", "/no/such/video.mp4"], "No such video file"),
        (["prob", "x.mp4"], "neither a file nor a command"),
    ],
)
def test_bad_arguments_fail_with_status_2_and_no_traceback(media, args, message):
    path = media("cli_cfr.mp4", frames=250, fps=25, gop=50)
    result = run(*[a.format(v=path) for a in args])
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    if message:
        assert message in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("where", ["after the command", "before the command (as the help shows it)"])
def test_debug_shows_the_traceback(where):
    args = ["probe", "/no/such/video.mp4"]
    result = run(*([*args, "--debug"] if where.startswith("after") else ["--debug", *args]))
    assert result.returncode != 0
    assert "Traceback" in result.stderr and "VideoError" in result.stderr


def test_the_command_runs_this_checkouts_engine():
    """Whichever checkout the venv's editable install names, the tests run the code they were given."""
    result = run("probe", "/no/such/video.mp4", "--debug")
    engine_files = re.findall(r'File "([^"]*/engine/[^"]*)"', result.stderr)
    assert engine_files, result.stderr
    assert all(Path(f).is_relative_to(REPO_ROOT / "engine") for f in engine_files), engine_files


def test_more_frames_than_the_clip_holds_are_each_shown_once_with_a_note(media):
    path = media("cli_short.mp4", frames=33, fps=30, gop=8)  # 1.1 s
    started = time.monotonic()
    result = run("sample", str(path), "--frames", "100000", "--json")
    assert result.returncode == 0, result.stderr
    indices = [f["index"] for f in json.loads(result.stdout)["frames"]]
    assert indices == list(range(32))  # every frame once, in whole groups of 4; not each ~3000 times
    assert result.stderr.strip() == (
        "note: 32 frames, not 100000: the range holds no more distinct frames (in whole groups of 4)"
    )
    assert time.monotonic() - started < 60


def test_no_arguments_and_a_video_open_the_app(media, tmp_path):
    path = media("cli_cfr.mp4", frames=250, fps=25, gop=50)
    shot = tmp_path / "window.png"
    result = run(str(path), "--screenshot", str(shot), env_extra={"QT_QPA_PLATFORM": "offscreen"})
    assert result.returncode == 0, result.stderr
    from PIL import Image

    with Image.open(shot) as img:
        assert img.size[0] >= 640 and img.size[1] >= 400


def test_help_lists_the_commands():
    result = run("--help")
    assert result.returncode == 0
    assert "probe" in result.stdout and "sample" in result.stdout


def test_light_commands_do_not_load_torch():
    """probe/sample/export start in a fraction of a second: torch loads only for model commands."""
    code = (
        "import sys, engine.cli, engine.export\nprint(sorted({'torch', 'transformers'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=checkout_env()
    )
    assert result.stdout.strip() == "[]", result.stdout + result.stderr
