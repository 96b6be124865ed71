"""`scenescope export`, run as a real subprocess."""

from __future__ import annotations

import json

import av
import numpy as np

from engine.spans import Span, save_spans
from engine.video import decode_frames, probe
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
    assert clips[0]["video"] == "smart"  # 0.52 s is mid-GOP; the IDR pictures at 1 s and 2 s are copied
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
    whole = run("export", str(video), "--spans", str(spans), "--out", str(out), "--overwrite", "--pad", "0.5",
                "--no-smart-cut", "--preset", "ultrafast")  # fmt: skip
    assert whole.returncode == 0, whole.stderr
    assert "(re-encoded, 00:00:00.520" in whole.stdout and "(copied, 00:00:02.000" in whole.stdout


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


def test_burn_masks_draws_the_tracks_into_the_clips(media, tmp_path):
    from engine.export.burn_in import PALETTE
    from tests.test_export_tracks import boxes_store

    video = media("cli export.mp4", **VIDEO)
    info = probe(video)
    tracks = boxes_store(info, {1: {i: (200, 100, 260, 160) for i in range(info.frame_count)}})
    tracks.save(tmp_path / "tracks.json")
    spans = tmp_path / "spans.json"
    save_spans(spans, [Span(1.0, 2.0)])
    out = tmp_path / "out"
    result = run("export", str(video), "--spans", str(spans), "--out", str(out), "--json",
                 "--burn-masks", str(tmp_path / "tracks.json"))  # fmt: skip
    assert result.returncode == 0, result.stderr
    (clip,) = json.loads(result.stdout)["clips"]
    assert clip["video"] == "burn-in" and clip["frames"] == 25
    burned = probe(clip["path"])
    assert burned.frame_count == 25 and burned.has_audio
    frames = [f.image for f in decode_frames(burned, range(25))]
    assert [read_barcode(f) for f in frames] == list(range(25, 50))  # the same frames as a plain clip
    plain = next(decode_frames(info, [25])).image
    tint = frames[0][110:150, 210:250].astype(int) - plain[110:150, 210:250]
    toward = np.array(PALETTE[0]) - plain[110:150, 210:250].mean(axis=(0, 1))
    assert np.sign(tint.mean(axis=(0, 1))).tolist() == np.sign(toward).tolist()


def test_burn_masks_with_a_missing_tracks_file_fails_before_writing(media, tmp_path):
    video = media("cli export.mp4", **VIDEO)
    spans = tmp_path / "spans.json"
    save_spans(spans, [Span(1.0, 2.0)])
    result = run("export", str(video), "--spans", str(spans), "--out", str(tmp_path / "out"),
                 "--burn-masks", str(tmp_path / "nope.json"))  # fmt: skip
    assert result.returncode == 2
    assert "No such tracks file" in result.stderr
    assert not (tmp_path / "out").exists()
