"""`probe` on real files of many shapes: sizes, rotation, frame rate, audio, codecs, containers."""

from __future__ import annotations

import numpy as np
import pytest

from engine.video import probe

VFR_DURATIONS = [0.04] * 20 + [0.02] * 20 + [0.1, 0.04] * 10  # 25 fps, then 50 fps, then irregular


def test_constant_frame_rate_with_audio(media):
    info = probe(media("cfr_audio.mp4", frames=60, fps=25, audio=True))
    assert (info.container, info.codec) == ("mp4", "h264")
    assert (info.width, info.height, info.rotation) == (320, 240, 0)
    assert info.frame_count == 60
    assert info.fps == pytest.approx(25.0)
    assert info.duration_s == pytest.approx(2.4)
    assert not info.vfr
    assert info.has_audio and info.audio_codec == "aac"
    np.testing.assert_allclose(info.frames.times_s, np.arange(60) / 25, atol=1e-9)


def test_variable_frame_rate_is_measured_from_timestamps(media):
    info = probe(media("vfr.mkv", durations_s=VFR_DURATIONS))
    assert info.vfr
    assert info.frame_count == len(VFR_DURATIONS)
    expected = np.concatenate([[0.0], np.cumsum(VFR_DURATIONS)[:-1]])
    # Matroska stores milliseconds.
    np.testing.assert_allclose(info.frames.times_s, expected, atol=1e-3)
    assert info.duration_s == pytest.approx(sum(VFR_DURATIONS), abs=1e-3)
    # index / fps would be wrong by far more than a frame here; the table is not.
    assert abs(40 / info.fps - info.frames.time_of(40)) > 0.4


def test_b_frames_and_vfr_in_mp4(media):
    info = probe(media("vfr_bframes.mp4", durations_s=VFR_DURATIONS, bframes=3, gop=12))
    assert info.vfr and info.frame_count == 60
    expected = np.concatenate([[0.0], np.cumsum(VFR_DURATIONS)[:-1]])
    np.testing.assert_allclose(info.frames.times_s, expected, atol=1e-4)
    assert np.all(np.diff(info.frames.times_s) > 0)


@pytest.mark.parametrize("rotation_ccw, clockwise", [(90, 270), (-90, 90), (180, 180)])
def test_rotated_video_reports_displayed_size(media, rotation_ccw, clockwise):
    info = probe(media(f"rot{rotation_ccw}.mp4", width=322, height=242, rotation_ccw=rotation_ccw))
    assert info.rotation == clockwise
    assert (info.coded_width, info.coded_height) == (322, 242)
    if clockwise in (90, 270):
        assert (info.width, info.height) == (242, 322)
    else:
        assert (info.width, info.height) == (322, 242)


def test_odd_size_and_no_audio(media):
    # 4:2:0 needs even sizes; odd-sized footage comes as 4:4:4 (screen captures, some cameras).
    info = probe(media("odd.mp4", width=333, height=191, pix_fmt="yuv444p"))
    assert (info.width, info.height) == (333, 191)
    assert not info.has_audio and info.audio_codec is None


@pytest.mark.parametrize(
    "name, kwargs, codec",
    [
        ("hevc.mp4", {"codec": "libx265", "gop": 12}, "hevc"),
        ("vp9.webm", {"codec": "libvpx-vp9", "audio": True, "audio_codec": "libopus"}, "vp9"),
        ("stream.ts", {}, "h264"),
    ],
)
def test_other_codecs_and_containers(media, name, kwargs, codec):
    info = probe(media(name, **kwargs))
    assert info.codec == codec
    assert info.frame_count == 60
    assert info.duration_s == pytest.approx(2.4, abs=1e-3)
    # Times start at zero even where the container's clock does not (MPEG-TS starts near 1.4 s).
    assert info.frames.time_of(0) == pytest.approx(0.0, abs=1e-6)


def test_time_to_frame_mapping_uses_real_timestamps(media):
    info = probe(media("vfr.mkv", durations_s=VFR_DURATIONS))
    table = info.frames
    for i in (0, 10, 25, 41, 59):
        t = table.time_of(i)
        assert table.index_at(t) == i
        assert table.index_at(t + table.frame_durations[i] * 0.99) == i
        assert table.nearest_index(t + 0.001) == i
    assert table.index_at(-5.0) == 0
    assert table.index_at(1e9) == 59


def test_frame_table_is_cached_by_content(media, tmp_path):
    import shutil

    from engine.cache import CacheFolder

    src = media("cfr_audio.mp4", frames=60, fps=25, audio=True)
    first = probe(src)
    entry = CacheFolder("frame_tables").path(f"{first.identity}-{first.stream_index}.v2.npz")
    assert entry.exists()
    renamed = shutil.copy(src, tmp_path / "renamed copy.mp4")
    again = probe(renamed)
    assert again.identity == first.identity  # same content, other name: same cache entry
    np.testing.assert_array_equal(again.frames.pts, first.frames.pts)
    other = probe(media("odd.mp4", width=333, height=191, pix_fmt="yuv444p"))
    assert other.identity != first.identity
