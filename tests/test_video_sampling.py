"""Frame sampling: the reference InternVideo2.5 rules exactly, and our rules on real timestamps."""

from __future__ import annotations

import numpy as np
import pytest

from engine.video import (
    Sampling,
    adaptive_frame_count,
    num_frames_by_duration,
    probe,
    reference_frame_indices,
    resize_frame,
    sample_frames,
)
from engine.video.frame_table import FrameTable
from tests.fixtures import expected_json, fixture_frames


def test_reference_get_index_cases():
    for case in expected_json()["get_index_cases"]:
        bound = tuple(case["bound"]) if case["bound"] is not None else None
        got = reference_frame_indices(case["num_segments"], case["fps"], case["max_frame"], bound)
        assert got.tolist() == case["indices"], case


def test_reference_frames_by_duration_cases():
    for case in expected_json()["num_frames_by_duration_cases"]:
        assert num_frames_by_duration(case["duration"]) == case["num_frames"], case
        assert case["num_frames"] % 4 == 0


def test_fixture_frame_indices_follow_the_rule():
    data = expected_json()
    got = reference_frame_indices(8, 25.0, data["source_frame_count"] - 1)
    assert got.tolist() == data["frame_indices_in_source"]


def test_resize_matches_reference_preprocessing():
    frames = fixture_frames()
    for src, ref in zip(frames["frames_src"], frames["frames_448"], strict=True):
        np.testing.assert_array_equal(resize_frame(src, 448), ref)


def _cfr_table(frame_count: int, fps: int) -> FrameTable:
    from fractions import Fraction

    pts = np.arange(frame_count, dtype=np.int64)
    return FrameTable(
        pts=pts,
        keyframe=pts % 25 == 0,
        decode_pos=pts.copy(),
        end_pts=frame_count,
        packet_count=frame_count,
        time_base=Fraction(1, fps),
        start_s=0.0,
        exact=True,
    )


@pytest.mark.parametrize("frames, fps, n", [(132, 25, 8), (300, 30, 128), (45, 15, 16), (107893, 30, 512)])
def test_whole_video_sampling_equals_reference(frames, fps, n):
    table = _cfr_table(frames, fps)
    got = sample_frames(table, Sampling("frames", n))
    assert got.indices.tolist() == reference_frame_indices(n, fps, frames - 1).tolist()
    np.testing.assert_allclose(got.times_s, got.indices / fps)


def test_range_sampling_equals_reference_on_constant_frame_rate():
    table = _cfr_table(86400, 24)
    got = sample_frames(table, Sampling("frames", 128, start_s=600.0, end_s=660.0))
    assert got.indices.tolist() == reference_frame_indices(128, 24, 86399, (600.0, 660.0)).tolist()


def test_duration_rule_on_a_table():
    table = _cfr_table(25 * 1000, 25)  # 1000 s
    got = sample_frames(table, Sampling("duration"))
    assert len(got) == num_frames_by_duration((25 * 1000 - 1) / 25) == 512


@pytest.mark.parametrize("asked, given", [(1, 4), (4, 4), (10, 12), (127, 128), (128, 128)])
def test_counts_are_whole_groups_of_four(asked, given):
    table = _cfr_table(3000, 30)
    assert len(sample_frames(table, Sampling("frames", asked))) == given


def test_range_on_variable_frame_rate_uses_real_times(media):
    durations = [0.1] * 50 + [0.01] * 200  # 5 s at 10 fps, then 2 s at 100 fps
    info = probe(media("vfr_range.mkv", durations_s=durations, gop=50))
    got = sample_frames(info.frames, Sampling("frames", 8, start_s=5.0, end_s=7.0))
    assert np.all(got.times_s >= 5.0 - 1e-3) and np.all(got.times_s <= 7.0 + 1e-3)
    assert got.times_s[0] < 5.2 and got.times_s[-1] > 6.8  # covers the whole range
    # The reference's round(t * fps) on the average rate starts more than a second late.
    naive = reference_frame_indices(8, info.fps, info.frame_count - 1, (5.0, 7.0))
    assert info.frames.times_s[naive[0]] > 6.0


def test_fps_sampling_spaces_frames_evenly_in_time(media):
    durations = [0.1] * 50 + [0.01] * 200
    info = probe(media("vfr_range.mkv", durations_s=durations, gop=50))
    got = sample_frames(info.frames, Sampling("fps", 4.0))
    assert len(got) == 28  # 7 s at 4 fps
    midpoints = (np.arange(28) + 0.5) * info.duration_s / 28
    # Each sample is the frame on screen at its segment's midpoint: at most one frame (0.1 s) earlier.
    assert np.all(got.times_s <= midpoints + 1e-6)
    assert np.all(got.times_s > midpoints - 0.1 - 1e-6)


def test_fps_sampling_never_repeats_a_frame_beyond_the_native_rate():
    table = _cfr_table(40, 10)  # 4 s at 10 fps
    got = sample_frames(table, Sampling("fps", 30.0))
    assert len(got) == 40 and len(set(got.indices.tolist())) == 40


@pytest.mark.parametrize("asked", [128, 100_000])
def test_frame_counts_stop_at_the_frames_of_the_range(asked):
    for frames in range(5, 70):  # below 5 frames one group of 4 needs a repeat, by the reference spacing
        indices = sample_frames(_cfr_table(frames, 10), Sampling("frames", asked)).indices.tolist()
        assert len(indices) == len(set(indices)) >= frames - 4, frames  # never a frame twice
    table = _cfr_table(42, 10)  # 4.2 s at 10 fps
    whole = sample_frames(table, Sampling("frames", asked)).indices.tolist()
    assert len(whole) == len(set(whole)) == 40 and whole[0] == 0 and whole[-1] == 40  # once each, groups of 4
    part = sample_frames(table, Sampling("frames", asked, start_s=1.0, end_s=2.0))
    assert len(part) == 8 and len(set(part.indices.tolist())) == 8
    assert sample_frames(_cfr_table(3, 10), Sampling("frames", asked)).indices.tolist() == [0, 0, 1, 2]


def test_adaptive_rule_dense_for_short_sparse_for_long():
    assert adaptive_frame_count(8.0) == 120  # 15 fps
    assert adaptive_frame_count(30.0, budget=1000) == 448  # 15 fps, whole groups
    assert adaptive_frame_count(900.0, budget=10_000) == 900  # 1 fps
    assert adaptive_frame_count(3600.0) == 512  # budget caps it
    rates = [adaptive_frame_count(d, budget=100_000) / d for d in (30, 60, 120, 300, 600)]
    assert rates == sorted(rates, reverse=True)
    assert all(adaptive_frame_count(d) % 4 == 0 for d in (0.5, 3, 17, 45, 200, 5000))


def test_auto_sampling_on_a_short_range():
    table = _cfr_table(30 * 600, 30)  # 10 min at 30 fps
    got = sample_frames(table, Sampling("auto", 512, start_s=100.0, end_s=104.0))
    assert len(got) == 60  # 4 s of a short range at 15 fps
    assert np.all((got.times_s >= 100.0) & (got.times_s < 104.0))


def test_empty_range_is_an_error():
    with pytest.raises(ValueError, match="empty"):
        sample_frames(_cfr_table(100, 25), Sampling("frames", 8, start_s=10.0, end_s=20.0))
