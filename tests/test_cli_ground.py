"""`scenescope ground` in real subprocesses: JSON that `scenescope export` takes as a spans file, clips
checked with PyAV, `--export` in one go, and bad arguments. The model is the tiny one, changed to say
yes for some frames (`tests.fixtures.leaning_checkpoint`), so that there are spans to cut."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import av
import pytest

from engine.spans import load_spans
from engine.video import probe
from tests.conftest import library_noise
from tests.test_cli_ask import scenescope

QUERY = "When does the white van stop at the gate?"
SPAN_LINE = re.compile(
    r"^ +\d+  \d\d:\d\d:\d\d\.\d{3}  \d\d:\d\d:\d\d\.\d{3}  [01]\.\d\d  (text|curve|both)$"
)


@pytest.fixture(scope="module")
def video(media: Callable[..., Path]) -> Path:
    return media("ground-cli.mp4", frames=150, fps=25.0, gop=25, bframes=2, audio=True)


def clip_facts(path: Path) -> tuple[float, bool]:
    """(duration of the video frames: first frame to the end of the last, has an audio stream)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        times = sorted(float(f.pts * stream.time_base) for f in container.decode(stream))
        has_audio = bool(container.streams.audio)
    return times[-1] + (times[-1] - times[-2]) - times[0], has_audio


def test_ground_json_feeds_export(
    video: Path, env: dict[str, str], leaning_model_dir: Path, tmp_path
) -> None:
    args = [
        "ground",
        str(video),
        QUERY,
        "--model",
        str(leaning_model_dir),
        "--frames",
        "16",
        "--device",
        "cpu",
    ]
    done = scenescope([*args, "--json"], env)
    assert done.returncode == 0, done.stderr
    assert library_noise(done.stderr) == []  # no FutureWarning about the KV cache, no library chatter
    result = json.loads(done.stdout)
    duration = probe(video).duration_s
    assert len(result["curve"]) == 3  # 16 frames = 4 groups: windows of 2 groups, one group apart
    for point in result["curve"]:
        assert 0 <= point["start_s"] < point["time_s"] < point["end_s"] <= duration
        assert 0 <= point["score"] <= 1
    assert result["query"] == QUERY and {"answer_s", "scan_s", "refine_s"} <= set(result["timings_s"])

    spans_file = tmp_path / "spans.json"
    spans_file.write_text(done.stdout, encoding="utf-8")
    spans = load_spans(spans_file)
    assert spans and [s.to_dict() for s in spans] == result["spans"]
    assert all(0 <= s.start_s < s.end_s <= duration and 0 <= s.score <= 1 for s in spans)

    out = tmp_path / "clips"
    exported = scenescope(
        ["export", str(video), "--spans", str(spans_file), "--out", str(out), "--json"], env
    )
    assert exported.returncode == 0, exported.stderr
    clips = json.loads(exported.stdout)["clips"]
    assert len(clips) == len(spans)
    for clip, span in zip(clips, spans, strict=True):
        length, has_audio = clip_facts(Path(clip["path"]))
        assert abs(length - span.duration_s) < 1 / 25 + 1e-3  # within one frame
        assert has_audio and clip["audio"] is not None


def test_ground_export_in_one_go(video: Path, env: dict[str, str], leaning_model_dir: Path, tmp_path) -> None:
    out = tmp_path / "clips"
    args = ["ground", str(video), QUERY, "--model", str(leaning_model_dir), "--frames", "16", "--no-refine"]
    done = scenescope([*args, "--export", str(out), "--pad", "0.2"], env)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    span_lines = [line for line in lines if SPAN_LINE.match(line)]
    clip_lines = [line for line in lines if line.startswith("clip ")]
    assert span_lines and len(clip_lines) == len(span_lines)
    assert sorted(p.name for p in out.glob("*.spans.*")) == [
        f"ground-cli.spans.{k}" for k in ("csv", "json", "srt", "vtt")
    ]
    assert len(list(out.glob("*.mp4"))) == len(span_lines)
    sidecar = json.loads((out / "ground-cli.spans.json").read_text(encoding="utf-8"))
    assert sidecar["pad_s"] == 0.2 and all(s["query"] == QUERY for s in sidecar["spans"])
    assert "windows scanned" in done.stderr and "3 windows" in done.stderr


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--pad", "1"], "--pad and --overwrite apply to clips: add --export DIR."),
        (["--frames", "0"], "--frames must be at least 1: give how many frames the model sees."),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(video: Path, env: dict[str, str], extra, message) -> None:
    done = scenescope(["ground", str(video), QUERY, *extra], env)
    assert done.returncode == 2 and done.stderr.strip() == f"scenescope: {message}"


def test_an_empty_query_is_refused_before_the_model_loads(video: Path, env: dict[str, str]) -> None:
    done = scenescope(["ground", str(video), " ? ", "--model", "/nonexistent/model"], env)
    assert done.returncode == 2 and "query is empty" in done.stderr
