"""`scenescope export`, run as a real subprocess."""

from __future__ import annotations

import json

import av

from engine.spans import Span, save_spans
from engine.video import probe
from tests.media import read_barcode
from tests.test_cli import run

VIDEO = {"frames": 100, "gop": 25, "bframes": 2, "audio": True}


def test_export_writes_clips_and_sidecars(media, tmp_path):
    video = media("cli export.mp4", **VIDEO)
    spans = tmp_path / "spans.json"
    save_spans(spans, [Span(1.0, 2.0, score=0.9, source="model", label="boat"), Span(2.5, 3.0)])
    out = tmp_path / "out"
    result = run("export", str(video), "--spans", str(spans), "--out", str(out), "--pad", "0.5", "--json",
                 "--preset", "ultrafast")  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    clips = summary["clips"]
    assert [c["number"] for c in clips] == [1, 2]
    assert [(c["start_s"], c["end_s"], c["frames"]) for c in clips] == [(0.52, 2.52, 50), (2.0, 3.52, 38)]
    for clip in clips:
        with av.open(clip["path"]) as c:
            first = next(c.decode(video=0))
            assert read_barcode(first.to_ndarray(format="rgb24")) == round(clip["start_s"] * 25)
            assert len(c.streams.audio) == 1
        assert probe(clip["path"]).frame_count == clip["frames"]
    assert clips[1]["video"] == "copy"  # 2.0 s is keyframe 50 and 3.52 s ends on a P-frame
    assert sorted(p.split("/")[-1] for p in summary["sidecars"]) == [
        f"cli export.spans.{kind}" for kind in ("csv", "json", "srt", "vtt")
    ]
    assert "1. boat (0.90)" in (out / "cli export.spans.vtt").read_text()

    again = run("export", str(video), "--spans", str(spans), "--out", str(out))
    assert again.returncode == 2
    assert again.stderr.startswith("scenescope: ") and "already exist in" in again.stderr
    assert "--overwrite" in again.stderr and len(again.stderr.strip().splitlines()) == 1
    forced = run("export", str(video), "--spans", str(spans), "--out", str(out), "--overwrite", "--no-clips")
    assert forced.returncode == 0, forced.stderr
    assert "sidecar" in forced.stdout and "clip " not in forced.stdout


def test_bad_spans_file_is_one_line(media, tmp_path):
    video = media("cli export.mp4", **VIDEO)
    spans = tmp_path / "spans.json"
    spans.write_text('[{"start_s": 3, "end_s": 1}]')
    result = run("export", str(video), "--spans", str(spans), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"scenescope: {spans}: span 1: a span must end after it starts (3.0 .. 1.0). "
        "See docs/formats.md for the spans format."
    )
    assert not (tmp_path / "out").exists()


def test_burn_masks_is_refused_until_available(media, tmp_path):
    video = media("cli export.mp4", **VIDEO)
    spans = tmp_path / "spans.json"
    save_spans(spans, [Span(1.0, 2.0)])
    tracks = tmp_path / "tracks.json"
    tracks.write_text("{}")
    args = (
        "export",
        str(video),
        "--spans",
        str(spans),
        "--out",
        str(tmp_path / "out"),
        "--burn-masks",
        str(tracks),
    )
    result = run(*args)
    assert result.returncode == 2
    assert "--burn-masks is not available yet" in result.stderr
    assert not (tmp_path / "out").exists()
