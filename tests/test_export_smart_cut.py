"""Smart cut: re-encoded ends, copied middle, and seams that every decoder crosses.

The frame content, times and audio of smart-cut clips are checked with all other clips in
test_export_clips.py; here: which frames are copied, that they are copied byte for byte, and that a
decoder can start at every seam (seeking) and read the clip through with another FFmpeg (OpenCV's).
"""

from __future__ import annotations

import av
import cv2
import numpy as np
import pytest

from engine.export import EncodeSettings, export_clip, frame_range
from engine.export.frames import FrameRange, clean_run_end, packets_copyable
from engine.export.h264 import avcc_parameter_sets, nal_units
from engine.export.smart_cut import plan_smart_cut
from engine.video import probe
from tests.media import read_barcode

FAST = EncodeSettings(preset="ultrafast")
SPS, PPS, IDR = 7, 8, 5


@pytest.fixture
def bframes(media):
    path = media("smart.mp4", frames=125, gop=25, bframes=3, fps=25, texture=True)
    return path, probe(path)


def consecutive_run_end(table, first: int, last: int) -> int:
    """clean_run_end by its definition, one candidate at a time."""
    best = first
    for j in range(first, last + 1):
        positions = sorted(table.decode_pos[first : j + 1].tolist())
        if (
            positions == list(range(positions[0], positions[0] + len(positions)))
            and positions[0] == (table.decode_pos[first])
        ):
            best = j
    return best


@pytest.mark.parametrize("name", ["bframes", "vfr"])
def test_clean_run_end_is_the_longest_consecutive_run(bframes, media, name):
    if name == "vfr":
        durations = [0.04] * 20 + [0.02] * 20 + [0.1, 0.04] * 10
        table = probe(media("smart_vfr.mp4", durations_s=durations, gop=12, bframes=3)).frames
    else:
        table = bframes[1].frames
    rng = np.random.default_rng(1)
    for first in rng.integers(0, table.frame_count - 1, 40).tolist():
        last = int(rng.integers(first, table.frame_count))
        assert clean_run_end(table, first, last) == consecutive_run_end(table, first, last)


def test_plan_copies_from_the_first_idr_as_far_as_a_clean_run_goes(bframes):
    _, info = bframes
    table = info.frames
    frames = frame_range(table, 0.48, 3.32)  # frames 12..82; IDR pictures at 25, 50, 75
    cut = plan_smart_cut(info, frames)
    assert cut.head == (12, 24) and cut.body[0] == 25
    body_end = cut.body[1]
    assert packets_copyable(table, FrameRange(25, body_end, 0, 0))
    for j in range(body_end + 1, frames.last + 1):  # no longer run would do
        assert not packets_copyable(table, FrameRange(25, j, 0, 0))
    assert cut.tail == ((body_end + 1, frames.last) if body_end < frames.last else None)
    assert body_end >= 75  # the body runs over whole GOPs into the last one
    assert plan_smart_cut(info, frame_range(table, 0.5, 0.9)) is None  # no IDR inside


def three_part_range(info) -> tuple[float, float]:
    """[start, end) from mid-GOP (frame 13) to where the clip needs a re-encoded tail (in the 4th GOP)."""
    table = info.frames
    for last in range(76, 100):
        frames = frame_range(table, table.time_of(13), table.time_of(last + 1))
        if plan_smart_cut(info, frames).tail is not None:
            return table.time_of(13), table.time_of(last + 1)
    raise AssertionError("every range ends on a clean run")


def packets_by_source_pts(path, offset: int = 0) -> dict[int, av.Packet]:
    with av.open(str(path)) as c:
        return {p.pts + offset: (bytes(p), p.is_keyframe) for p in c.demux(video=0) if p.size}


def test_body_packets_are_copied_byte_for_byte(bframes, tmp_path):
    path, info = bframes
    table = info.frames
    clip = export_clip(info, *three_part_range(info), tmp_path / "clip.mp4", settings=FAST)
    cut = plan_smart_cut(info, clip.frames)
    assert clip.video == "smart"
    source = packets_by_source_pts(path)
    out = packets_by_source_pts(clip.path, offset=int(table.pts[clip.frames.first]))
    assert sorted(out) == table.pts[clip.frames.first : clip.frames.last + 1].tolist()
    body = table.pts[cut.body[0] : cut.body[1] + 1].tolist()
    key_pts = body[0]
    for pts in body[1:]:
        assert out[pts] == source[pts]
    with av.open(str(path)) as c:
        extradata = c.streams.video[0].codec_context.extradata
    sets = len(avcc_parameter_sets(extradata))
    # The body's IDR picture: the source's parameter sets in-band, then the source's packet unchanged.
    first_units = nal_units(out[key_pts][0], extradata)
    assert first_units[:sets] == avcc_parameter_sets(extradata)
    assert first_units[sets:] == nal_units(source[key_pts][0], extradata)
    assert out[key_pts][1]  # flagged as a sync sample
    # The re-encoded head and tail start with their own parameter sets and an IDR picture.
    for first in (cut.head[0], cut.tail[0]):
        data, keyframe = out[int(table.pts[first])]
        types = [unit[0] & 0x1F for unit in nal_units(data, extradata)]
        assert keyframe and SPS in types and PPS in types and IDR in types
    with av.open(str(clip.path)) as c:
        assert c.streams.video[0].codec_context.codec_tag == "avc3"


def test_every_seam_is_a_random_access_point(bframes, tmp_path):
    """Seeking to each keyframe of the clip decodes the right frame first: parameter sets are in place."""
    _, info = bframes
    clip = export_clip(info, *three_part_range(info), tmp_path / "clip.mp4", settings=FAST)
    cut = plan_smart_cut(info, clip.frames)
    with av.open(str(clip.path)) as c:
        stream = c.streams.video[0]
        keys = sorted(p.pts for p in c.demux(stream) if p.size and p.is_keyframe)
    seams = {cut.head[0], cut.body[0], cut.tail[0]}
    offset = clip.frames.first
    assert seams <= {round(pts * float(stream.time_base) * 25) + offset for pts in keys}
    for pts in keys:
        with av.open(str(clip.path)) as c:
            c.seek(pts, stream=c.streams.video[0], backward=True, any_frame=False)
            frame = next(c.decode(video=0))
        assert frame.pts == pts
        assert (
            read_barcode(frame.to_ndarray(format="rgb24"))
            == round(pts * float(frame.time_base) * 25) + offset
        )


def test_another_ffmpeg_reads_the_clip_through(bframes, tmp_path):
    """OpenCV's own FFmpeg build decodes every frame of a smart-cut clip, in order."""
    _, info = bframes
    clip = export_clip(info, *three_part_range(info), tmp_path / "clip.mp4", settings=FAST)
    capture = cv2.VideoCapture(str(clip.path))
    codes = []
    while True:
        ok, image = capture.read()
        if not ok:
            break
        codes.append(read_barcode(image[..., ::-1]))
    capture.release()
    assert codes == list(range(clip.frames.first, clip.frames.last + 1))
