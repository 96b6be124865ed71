"""Results as plain data: every type a window shows round-trips through JSON, and none needs torch."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from engine.assistant import Answer
from engine.export import ExportResult, export_spans
from engine.grounding import GroundingResult, RelevanceCurve
from engine.jobs import Progress
from engine.spans import Span
from engine.tracking import FrameMask, TrackingRun, encode_mask
from engine.video import Sampling, VideoInfo, probe, sample_frames
from tests.conftest import REPO_ROOT

VFR_DURATIONS = [0.04] * 10 + [0.02] * 10 + [0.1, 0.03, 0.07] * 4


def through_json(data: dict) -> dict:
    return json.loads(json.dumps(data, allow_nan=False))


@pytest.fixture(scope="module")
def vfr(media) -> VideoInfo:
    return probe(media("plain vfr.mp4", frames=len(VFR_DURATIONS), durations_s=VFR_DURATIONS, audio=True))


def test_video_info_with_its_frame_table_round_trips_exactly(vfr: VideoInfo) -> None:
    back = VideoInfo.from_dict(through_json(vfr.to_dict(frames=True)))
    assert back.to_dict() == vfr.to_dict() and back.vfr and back.frame_count == 32
    for name in ("pts", "keyframe", "decode_pos", "times_s", "seek_keyframe"):
        assert np.array_equal(getattr(back.frames, name), getattr(vfr.frames, name)), name
    assert back.frames.time_base == vfr.frames.time_base and back.frames.end_pts == vfr.frames.end_pts
    # the times are the file's own, not index / fps
    assert back.frames.index_at(0.4 + 0.2 + 0.1 + 0.001) == 21
    assert "frames" not in vfr.to_dict()  # `scenescope probe --json` stays small


def test_answers_and_grounding_results_round_trip(vfr: VideoInfo) -> None:
    frames = sample_frames(vfr.frames, Sampling("frames", 8, 0.1, 0.9))
    answer = Answer(
        "A boat.", frames, "stop", "disk", 0, 1234, 0, 5, {"first_token_s": 0.25, "generate_s": 1.5}
    )
    back = Answer.from_dict(through_json(answer.to_dict()))
    assert back.to_dict() == answer.to_dict()
    assert np.array_equal(back.frames.indices, frames.indices) and back.frames.sampling == frames.sampling
    np.testing.assert_allclose(back.frames.times_s, frames.times_s, atol=1e-6)

    curve = RelevanceCurve(np.array([0.0, 0.4]), np.array([0.8, 1.2]), np.array([0.25, 0.875]))
    spans = [Span(0.4, 1.2, score=0.8, source="both", query="a boat")]
    result = GroundingResult("a boat", spans, curve, 0.6, "0.4 - 1.2 seconds.", frames, 2, {"total_s": 3.0})
    again = GroundingResult.from_dict(through_json(result.to_dict()))
    assert again.to_dict() == result.to_dict() and again.spans == spans
    assert np.array_equal(again.curve.scores, curve.scores) and again.frames.sampling == frames.sampling


def test_masks_progress_and_tracking_runs_round_trip() -> None:
    mask = np.zeros((9, 13), bool)
    mask[2:5, 3:11] = True
    rle, bbox, area = encode_mask(mask)
    frame_mask = FrameMask(7, 0.28, rle, bbox, area, 0.97)
    assert FrameMask.from_dict(through_json(frame_mask.to_dict())) == frame_mask
    progress = Progress("track", 3, 40, "at 00:00:00.280", 0.28)
    assert Progress.from_dict(through_json(progress.to_dict())) == progress
    run = TrackingRun(40, 2.5, 0.0, 1.6)
    assert TrackingRun.from_dict(through_json(run.to_dict())) == run


def test_export_results_round_trip(vfr: VideoInfo, tmp_path) -> None:
    result = export_spans(vfr, [Span(0.2, 0.6, label="first"), Span(0.7, 1.0)], tmp_path)
    back = ExportResult.from_dict(through_json(result.to_dict()))
    assert back == result and [c["number"] for c in result.to_dict()["clips"]] == [1, 2]
    assert all(item.clip.path.exists() for item in back.spans)


def test_result_types_and_the_app_import_without_torch() -> None:
    code = """
import sys
from engine.assistant import Answer
from engine.export import ExportResult
from engine.grounding import GroundingResult, GroundingOptions, RelevanceCurve, check_query
from engine.jobs import Job, Progress
from engine.spans import Span, load_spans
from engine.tracking import FrameMask, StoreChanges, TrackStore, TrackingRun
from engine.video import VideoInfo, FrameTable, SampledFrames
import app, app.main_window
heavy = sorted(m for m in ("torch", "transformers") if m in sys.modules)
print(",".join(heavy) or "none")
"""
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={**__import__("os").environ, "PYTHONPATH": str(REPO_ROOT)},
        timeout=120,
        check=True,
    )
    assert out.stdout.strip() == "none", out.stdout + out.stderr
