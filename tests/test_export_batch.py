"""export_spans: clips and sidecars for a spans list, checked up front, atomic, cancellable.

Sidecars are parsed back with the libraries a user would use (webvtt-py for SRT/WebVTT, csv, json,
and our own spans loader) and compared with what went in.
"""

from __future__ import annotations

import csv
import itertools
import json

import av
import pytest
import webvtt

from engine.errors import ExportError
from engine.export import EncodeSettings, clip_name, export_spans, safe_stem, span_outputs
from engine.jobs import Cancelled, Job, Progress
from engine.spans import Span, load_spans
from engine.video import probe
from tests.media import read_barcode

FAST = EncodeSettings(preset="ultrafast")
VIDEO = {"frames": 100, "gop": 25, "bframes": 2, "audio": True}  # 4 s at 25 fps

SPANS = [
    Span(1.0, 2.0, score=0.875, source="model", label="a boat <docks> & leaves", query="boat?"),
    Span(0.1, 0.5, score=None, source="user", label=None, query="the start"),  # padded past 0
    Span(3.5, 9.0, score=0.25, source="model", label="two\n\nlines --> one", query=None),  # past the end
]


@pytest.fixture
def video(media):
    return media("harbour cam.mp4", **VIDEO)


def first_barcode(path):
    with av.open(str(path)) as c:
        return read_barcode(next(c.decode(video=0)).to_ndarray(format="rgb24"))


def test_clips_and_sidecars(video, tmp_path):
    out = tmp_path / "out"
    result = export_spans(video, SPANS, out, pad_s=0.25, settings=FAST)
    info = probe(video)

    # Clips: named by number and span time, padded, clamped to the video, content from the right frame.
    names = [item.clip.path.name for item in result.spans]
    assert names == [
        "harbour cam_01_00h00m01.000-00h00m02.000.mp4",
        "harbour cam_02_00h00m00.100-00h00m00.500.mp4",
        "harbour cam_03_00h00m03.500-00h00m09.000.mp4",
    ]
    ranges = [(round(i.clip.frames.start_s, 6), round(i.clip.frames.end_s, 6)) for i in result.spans]
    assert ranges == [(0.76, 2.28), (0.0, 0.76), (3.28, 4.0)]
    assert [first_barcode(item.clip.path) for item in result.spans] == [19, 0, 82]
    assert [probe(item.clip.path).frame_count for item in result.spans] == [38, 19, 18]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [*names, *(f"harbour cam.spans.{kind}" for kind in ("csv", "json", "srt", "vtt"))]
    )

    # WebVTT and SRT: one cue per span on the source's timeline, text made safe for each format.
    vtt = webvtt.read(str(out / "harbour cam.spans.vtt"))
    srt = webvtt.from_srt(str(out / "harbour cam.spans.srt"))
    for captions in (vtt, srt):
        assert [(c.start_in_seconds, c.end_in_seconds) for c in captions] == [(1, 2), (0, 0), (3, 9)]
        assert [(c.start, c.end) for c in captions] == [
            ("00:00:01.000", "00:00:02.000"),
            ("00:00:00.100", "00:00:00.500"),
            ("00:00:03.500", "00:00:09.000"),
        ]
    assert [c.identifier for c in vtt] == ["1", "2", "3"]
    assert [c.raw_text for c in vtt] == [
        "1. a boat &lt;docks&gt; &amp; leaves (0.88)",
        "2. the start",
        "3. two lines → one (0.25)",
    ]
    assert [c.text for c in srt] == [
        "1. a boat ‹docks› & leaves (0.88)",
        "2. the start",
        "3. two lines → one (0.25)",
    ]

    # JSON: loads back as the same spans, and links each to its clip.
    document = json.loads((out / "harbour cam.spans.json").read_text(encoding="utf-8"))
    assert document["format"] == "scenescope-export" and document["version"] == 1
    assert document["video"] == str(video.resolve()) and document["pad_s"] == 0.25
    assert load_spans(out / "harbour cam.spans.json") == SPANS
    first = document["spans"][0]
    assert first["start"] == "00:00:01.000" and first["duration_s"] == 1.0
    assert first["clip"] == {
        "file": names[0], "start_s": 0.76, "end_s": 2.28, "start": "00:00:00.760", "end": "00:00:02.280",
        "frames": 38, "video": "smart", "audio": "copy",
    }  # fmt: skip

    # CSV: UTF-8 with a byte-order mark, one row per span, same values as the JSON.
    raw = (out / "harbour cam.spans.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
    with open(out / "harbour cam.spans.csv", encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [float(r["start_s"]) for r in rows] == [s.start_s for s in SPANS]
    assert [r["score"] for r in rows] == ["0.875", "", "0.25"]
    assert rows[2]["label"] == "two\n\nlines --> one"  # CSV keeps the label exactly
    assert [r["clip"] for r in rows] == names
    assert rows[0]["clip_start"] == "00:00:00.760" and rows[2]["clip_end_s"] == "4.0"
    assert info.duration_s == 4.0


def test_sidecars_only(video, tmp_path):
    result = export_spans(video, SPANS[:1], tmp_path, clips=False)
    assert [item.clip for item in result.spans] == [None]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        f"harbour cam.spans.{k}" for k in ("csv", "json", "srt", "vtt")
    ]
    document = json.loads((tmp_path / "harbour cam.spans.json").read_text())
    assert document["spans"][0]["clip"] is None


def test_sidecars_of_the_kinds_asked_for_and_outputs_listed_before(video, tmp_path):
    info = probe(video)
    listed = span_outputs(info, SPANS[:2], tmp_path, sidecars=["json", "srt"])
    assert [p.name for p in listed] == [
        clip_name("harbour cam", 1, 2, 1.0, 2.0),
        clip_name("harbour cam", 2, 2, 0.1, 0.5),
        "harbour cam.spans.srt",
        "harbour cam.spans.json",
    ]
    assert list(tmp_path.iterdir()) == []  # listing writes nothing
    result = export_spans(info, SPANS[:2], tmp_path, sidecars=["json", "srt"], settings=FAST)
    assert (
        sorted(tmp_path.iterdir())
        == sorted(listed)
        == sorted([*(s.clip.path for s in result.spans), *result.sidecars])
    )
    with pytest.raises(ExportError, match="Unknown sidecar kind 'txt'"):
        span_outputs(info, SPANS[:1], tmp_path, sidecars=["txt"])


def test_existing_outputs_are_refused_before_anything_is_written(video, tmp_path):
    (tmp_path / "harbour cam.spans.srt").write_text("mine")
    with pytest.raises(ExportError, match=r"harbour cam.spans.srt already exists in .*--overwrite"):
        export_spans(video, SPANS, tmp_path, settings=FAST)
    assert [p.name for p in tmp_path.iterdir()] == ["harbour cam.spans.srt"]
    assert (tmp_path / "harbour cam.spans.srt").read_text() == "mine"
    export_spans(video, SPANS, tmp_path, overwrite=True, settings=FAST)
    assert (tmp_path / "harbour cam.spans.srt").read_text().startswith("1\n00:00:01,000 --> 00:00:02,000\n")


def test_span_after_the_end_is_refused_up_front(video, tmp_path):
    with pytest.raises(ExportError, match=r"Span 2 \(00:01:00.000-00:01:01.000\) starts after the end"):
        export_spans(video, [SPANS[0], Span(60, 61)], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_progress_and_cancel_keep_finished_clips_only(video, tmp_path):
    seen: list[Progress] = []

    def progress(p: Progress) -> None:
        seen.append(p)
        if p.message == "clip 2 of 3" and len(seen) == 45:
            job.cancel()

    job = Job(on_progress=progress)
    spans = [Span(1.0, 2.0), Span(2.0, 3.0), Span(3.0, 4.0)]
    with pytest.raises(Cancelled):
        export_spans(video, spans, tmp_path, reencode=True, settings=FAST, job=job)
    # Clip 1 is complete; clip 2 was cancelled mid-way and left nothing; no sidecars.
    assert [p.name for p in tmp_path.iterdir()] == ["harbour cam_01_00h00m01.000-00h00m02.000.mp4"]
    assert probe(next(tmp_path.iterdir())).frame_count == 25
    assert [p.message for p in seen] == ["clip 1 of 3"] * 25 + ["clip 2 of 3"] * 20
    assert {(p.stage, p.total) for p in seen} == {("export", 75)}
    assert [round(p.fraction, 4) for p in seen[:2]] == [round(1 / 75, 4), round(2 / 75, 4)]
    assert all(b.fraction > a.fraction for a, b in itertools.pairwise(seen))


def test_full_progress(video, tmp_path):
    seen: list[Progress] = []
    export_spans(video, [Span(0, 1), Span(1, 1.5)], tmp_path, settings=FAST, job=Job(on_progress=seen.append))
    assert len(seen) == 25 + 13 and seen[-1].fraction == 1.0 and seen[-1].message == "clip 2 of 2"


def test_failed_encode_leaves_no_partial_file(video, tmp_path):
    with pytest.raises(av.error.ArgumentError, match="no-such-preset"):
        export_spans(video, [Span(0.5, 1.5)], tmp_path, settings=EncodeSettings(preset="no-such-preset"))
    assert list(tmp_path.iterdir()) == []


def test_non_ascii_names(media, tmp_path):
    video = media("Hafen café 東京 <2024>.mp4", frames=50, gop=25)
    out = tmp_path / "Ausgabe ü 出力"
    result = export_spans(video, [Span(0.0, 1.0)], out, settings=FAST)
    clip = result.spans[0].clip.path
    assert clip.name == "Hafen café 東京 _2024__01_00h00m00.000-00h00m01.000.mp4"
    assert clip.parent == out and probe(clip).frame_count == 25
    assert (out / "Hafen café 東京 _2024_.spans.srt").exists()


def test_no_spans(video, tmp_path):
    with pytest.raises(ExportError, match="no spans"):
        export_spans(video, [], tmp_path)


@pytest.mark.parametrize(
    ("name", "stem"),
    [
        ("clip", "clip"),
        ('a<b>c:d"e/f\\g|h?i*j', "a_b_c_d_e_f_g_h_i_j"),
        ("tab\there\x7f", "tab_here_"),
        (" .hidden. ", "hidden"),
        ("CON", "CON_"),
        ("nul.backup", "nul.backup_"),
        ("...", "video"),
        ("cafe\u0301", "café"),  # decomposed (as macOS stores it) becomes composed
        ("東" * 100, "東" * 53),  # 160 bytes at most, never half a character
    ],
)
def test_safe_stem(name, stem):
    assert safe_stem(name) == stem


def test_clip_name_pads_numbers_to_sort():
    assert clip_name("v", 7, 120, 3723.5, 3724.25) == "v_007_01h02m03.500-01h02m04.250.mp4"
    assert clip_name("v", 1, 3, 0, 0.001) == "v_01_00h00m00.000-00h00m00.001.mp4"
