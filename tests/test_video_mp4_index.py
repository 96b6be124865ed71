"""The frame table read from an MP4/MOV index equals the one from demuxing every packet, or is not used."""

from __future__ import annotations

import sys

import av
import numpy as np
import pytest

from engine.video import mp4_index, probe
from engine.video.frame_table import read_frame_table
from engine.video.mp4_index import read_indexed_frame_table

VFR = [0.04] * 20 + [0.02] * 20 + [0.1, 0.04] * 10
OPEN_GOP = {"x264-params": "open-gop=1:keyint=20:min-keyint=20:scenecut=0"}

# name: make_video arguments
PLAIN = {
    "cfr_bframes.mp4": {"frames": 90, "gop": 25, "bframes": 2},
    "no_bframes.mp4": {"frames": 60, "gop": 12, "bframes": 0},
    "pyramid.mp4": {"frames": 100, "gop": 30, "bframes": 3, "texture": True},
    "vfr.mp4": {"durations_s": VFR, "gop": 12, "bframes": 3},
    "rotated_odd.mp4": {"frames": 40, "rotation_ccw": 90, "width": 322, "height": 242},
    "faststart_audio.mp4": {"frames": 50, "audio": True, "faststart": True},
    "open_gop.mp4": {"frames": 80, "gop": 20, "bframes": 3, "options": OPEN_GOP},
    "hevc.mp4": {"codec": "libx265", "frames": 40, "gop": 20, "bframes": 3},
    "pcm.mov": {"frames": 50, "gop": 25, "audio": True, "audio_codec": "pcm_s16le"},
    "ntsc.mp4": {"frames": 60, "fps": 30000 / 1001, "gop": 15},
}


def demuxed_and_indexed(path):
    with av.open(str(path)) as c:
        demuxed = read_frame_table(c, c.streams.video[0])
    with av.open(str(path)) as c:
        indexed = read_indexed_frame_table(path, c, c.streams.video[0])
    return demuxed, indexed


def assert_same_table(a, b):
    for name in ("pts", "keyframe", "decode_pos"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    for name in ("end_pts", "packet_count", "time_base", "start_s", "exact"):
        assert getattr(a, name) == getattr(b, name), name


@pytest.mark.parametrize("name", sorted(PLAIN))
def test_index_gives_the_demuxers_table(media, name):
    demuxed, indexed = demuxed_and_indexed(media(name, **PLAIN[name]))
    assert indexed is not None
    assert_same_table(indexed, demuxed)


def test_clips_we_write_are_read_from_their_index(media, tmp_path):
    """Copied and smart-cut clips (edit list for the B-frame delay, avc3, in-band parameter sets)."""
    from engine.export import EncodeSettings, export_clip

    info = probe(media("cfr_bframes.mp4", **PLAIN["cfr_bframes.mp4"]))
    for name, start in (("copy.mp4", 1.0), ("smart.mp4", 0.5)):
        clip = export_clip(info, start, 3.0, tmp_path / name, settings=EncodeSettings(preset="ultrafast"))
        demuxed, indexed = demuxed_and_indexed(clip.path)
        assert indexed is not None, clip.video
        assert_same_table(indexed, demuxed)


def test_probe_reads_no_packets_of_a_plain_mp4(media, monkeypatch):
    path = media("pyramid.mp4", **PLAIN["pyramid.mp4"])

    def no_demux(*args):
        raise AssertionError("demuxed every packet")

    monkeypatch.setenv("SCENESCOPE_CACHE_DIR", str(path.parent / "fresh_cache"))
    monkeypatch.setattr(sys.modules["engine.video.probe"], "read_frame_table", no_demux)
    info = probe(path)
    assert info.frame_count == 100 and info.frames.keyframe.sum() == 4


def remux(source, target, options: dict[str, str]):
    with av.open(str(source)) as src, av.open(str(target), "w", format="mp4", options=options) as out:
        stream = out.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.size:
                packet.stream = stream
                out.mux(packet)
    return target


def test_fragmented_and_cut_off_files_are_demuxed(media, tmp_path):
    source = media("faststart_audio.mp4", **PLAIN["faststart_audio.mp4"])
    fragmented = remux(source, tmp_path / "frag.mp4", {"movflags": "frag_keyframe+empty_moov"})
    with av.open(str(fragmented)) as c:
        assert read_indexed_frame_table(fragmented, c, c.streams.video[0]) is None
    cut = tmp_path / "cut.mp4"  # index at the front, the end of the media data missing
    cut.write_bytes(source.read_bytes()[: source.stat().st_size * 2 // 3])
    with av.open(str(cut)) as c:
        assert read_indexed_frame_table(cut, c, c.streams.video[0]) is None
    info = probe(cut)
    assert info.frame_count < 50 and "cut off" in info.warnings[0]


def test_index_that_disagrees_with_the_packets_is_not_used(media, monkeypatch):
    path = media("cfr_bframes.mp4", **PLAIN["cfr_bframes.mp4"])
    real = mp4_index.read_mp4_packets

    def shifted(*args):
        packets, count = real(*args)
        return [(pts + 1, *rest) for pts, *rest in packets], count

    monkeypatch.setattr(mp4_index, "read_mp4_packets", shifted)
    with av.open(str(path)) as c:
        assert read_indexed_frame_table(path, c, c.streams.video[0]) is None
