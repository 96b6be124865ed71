"""The sparse decoder delivers exactly the frames a full sequential decode shows, for less work."""

from __future__ import annotations

import threading
import time
import tracemalloc

import av
import numpy as np
import pytest

from engine.video import DecodeStats, decode_frames, decode_native_frames, probe, resize_frame
from tests.media import read_barcode

VFR_DURATIONS = [0.04] * 20 + [0.02] * 20 + [0.1, 0.04] * 10

CASES = {
    "h264_bframes.mp4": {"frames": 120, "gop": 30, "bframes": 3},
    "h264_vfr.mp4": {"durations_s": VFR_DURATIONS, "gop": 12, "bframes": 3},
    "hevc_open_gop.mp4": {"codec": "libx265", "frames": 90, "gop": 24, "bframes": 4},
    "vp9.webm": {"codec": "libvpx-vp9", "frames": 90, "gop": 30},
    "h264.mkv": {"frames": 90, "gop": 30},
    "h264.ts": {"frames": 120, "gop": 30},
    "fragmented.mp4": {"frames": 120, "gop": 30, "bframes": 3, "movflags": "frag_keyframe+empty_moov"},
    "rotated.mp4": {"frames": 60, "gop": 20, "rotation_ccw": -90, "width": 322, "height": 242},
}


def sequential_frames(path, rotation: int) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    return [np.ascontiguousarray(np.rot90(f, k=-rotation // 90)) for f in frames]


def index_sets(count: int) -> list[list[int]]:
    return [
        [0],
        [count - 1],
        [0, 1, 13, 24, 25, 26, count // 2, count - 2, count - 1],
        list(range(0, count, 7)),
        [3, 3, 3, 40, 40, count - 1],  # repeats, as on clips shorter than the sample count
        list(range(count)),
    ]


@pytest.mark.parametrize("name", list(CASES))
def test_frames_equal_a_full_sequential_decode(media, name):
    path = media(name, **CASES[name])
    info = probe(path)
    reference = sequential_frames(path, info.rotation)
    assert len(reference) == info.frame_count
    for indices in index_sets(info.frame_count):
        for workers in (1, 2):
            got = list(decode_frames(info, indices, workers=workers))
            assert [f.index for f in got] == indices
            for f in got:
                assert f.time_s == info.frames.time_of(f.index)
                np.testing.assert_array_equal(f.image, reference[f.index], err_msg=f"{name} frame {f.index}")


def test_content_identifies_the_frame(media):
    path = media("h264_vfr.mp4", **CASES["h264_vfr.mp4"])
    info = probe(path)
    for f in decode_frames(info, list(range(0, 60, 3))):
        assert read_barcode(f.image) == f.index


def test_times_are_the_true_timestamps_of_a_vfr_file(media):
    """Each frame carries the time the file gives it; `index / fps` is 0.53 s off at frame 40."""
    path = media("h264_vfr.mp4", **CASES["h264_vfr.mp4"])
    stamped = np.concatenate([[0.0], np.cumsum(VFR_DURATIONS)[:-1]])  # the times make_video wrote
    info = probe(path)
    indices = [0, 19, 20, 21, 39, 40, 41, 50, 59]  # around the changes of rate, and the irregular end
    frames = list(decode_frames(info, indices))
    assert [read_barcode(f.image) for f in frames] == indices
    np.testing.assert_allclose([f.time_s for f in frames], stamped[indices], rtol=0, atol=1e-6)
    native = list(decode_native_frames(info, indices))
    assert [read_barcode(n.frame.to_ndarray(format="rgb24")) for n in native] == indices
    np.testing.assert_allclose([n.time_s for n in native], stamped[indices], rtol=0, atol=1e-6)


def test_rotated_output_is_in_display_orientation(media):
    path = media("rotated.mp4", **CASES["rotated.mp4"])
    info = probe(path)
    (frame,) = decode_frames(info, [17])
    assert frame.image.shape == (322, 242, 3) == (info.height, info.width, 3)
    coded = np.rot90(frame.image, k=info.rotation // 90)  # undo the display rotation
    assert read_barcode(coded) == 17


def test_sparse_sampling_decodes_a_fraction_of_the_file(media):
    path = media("long_gop_bframes.mp4", frames=300, gop=100, bframes=3)
    info = probe(path)
    stats = DecodeStats()
    list(decode_frames(info, [5, 110, 220], workers=1, stats=stats))
    # From each keyframe to its wanted frame, skipping non-reference B-frames on the way.
    assert stats.frames_decoded <= 5 + 10 + 20 + 3 * 4
    full = DecodeStats()
    list(decode_frames(info, [5, 110, 220], workers=1, stats=full, skip_nonref=False))
    assert stats.frames_decoded < full.frames_decoded <= 6 + 11 + 21 + 3 * 4
    assert stats.seeks == full.seeks == 3


def test_runs_sharing_a_keyframe_are_decoded_once(media):
    path = media("long_gop_bframes.mp4", frames=300, gop=100, bframes=3)
    info = probe(path)
    stats = DecodeStats()
    list(decode_frames(info, list(range(0, 300, 2)), workers=1, stats=stats, skip_nonref=False))
    assert stats.frames_decoded <= 300
    assert stats.seeks == 1  # one seek to the start, then straight through


def test_resized_output_matches_reference_resize(media):
    path = media("h264_bframes.mp4", **CASES["h264_bframes.mp4"])
    info = probe(path)
    reference = sequential_frames(path, 0)
    for f in decode_frames(info, [0, 31, 77], size=448):
        assert f.image.shape == (448, 448, 3)
        np.testing.assert_array_equal(f.image, resize_frame(reference[f.index], 448))


def _decode_threads() -> int:
    return sum(t.name.startswith("decode") for t in threading.enumerate())


def test_closing_the_iterator_stops_the_workers(media):
    path = media("h264_bframes.mp4", **CASES["h264_bframes.mp4"])
    info = probe(path)
    frames = decode_frames(info, list(range(120)), workers=2, buffer_bytes=1 << 20)
    next(frames)
    assert _decode_threads() > 0
    frames.close()
    assert _decode_threads() == 0


def test_cancel_event_ends_the_stream(media):
    path = media("h264_bframes.mp4", **CASES["h264_bframes.mp4"])
    info = probe(path)
    cancel = threading.Event()
    got = []
    for f in decode_frames(info, list(range(120)), workers=2, cancel=cancel, buffer_bytes=1 << 20):
        got.append(f.index)
        if len(got) == 10:
            cancel.set()
    assert 10 <= len(got) < 120
    assert _decode_threads() == 0


def test_memory_stays_bounded_with_a_slow_consumer(media):
    path = media("h264_bframes.mp4", **CASES["h264_bframes.mp4"])
    info = probe(path)
    frame_bytes = info.width * info.height * 3
    tracemalloc.start()
    try:
        for f in decode_frames(info, list(range(120)), workers=2, buffer_bytes=8 * frame_bytes):
            del f
            time.sleep(0.003)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 30 * frame_bytes  # all 120 frames would be 120 frame sizes


def test_unsorted_or_out_of_range_indices_are_rejected(media):
    info = probe(media("h264_bframes.mp4", **CASES["h264_bframes.mp4"]))
    with pytest.raises(ValueError, match="sorted"):
        list(decode_frames(info, [5, 2]))
    with pytest.raises(ValueError, match=r"0\.\.119"):
        list(decode_frames(info, [0, 120]))


def test_finishing_normally_leaves_the_callers_cancel_event_alone(media):
    info = probe(media("h264_bframes.mp4", **CASES["h264_bframes.mp4"]))
    cancel = threading.Event()
    assert len(list(decode_frames(info, [1, 50, 100], cancel=cancel))) == 3
    assert not cancel.is_set()
    frames = decode_frames(info, list(range(120)), cancel=cancel)
    next(frames)
    frames.close()
    assert not cancel.is_set()
