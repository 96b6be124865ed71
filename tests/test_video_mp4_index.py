"""The frame table read from an MP4/MOV index equals the one from demuxing every packet, or is not used."""

from __future__ import annotations

import sys

import av
import numpy as np
import pytest

from engine.video import mp4_index, probe
from engine.video.frame_table import read_frame_table
from engine.video.mp4_index import read_indexed_frame_table
from tests.media import remux_mp4

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


@pytest.mark.parametrize("movflags", ["", "cmaf"])
def test_probe_reads_no_packets_of_an_mp4(media, monkeypatch, movflags):
    path = media("pyramid.mp4", **PLAIN["pyramid.mp4"], movflags=movflags)

    def no_demux(*args):
        raise AssertionError("demuxed every packet")

    monkeypatch.setenv("SCENESCOPE_CACHE_DIR", str(path.parent / "fresh_cache"))
    monkeypatch.setattr(sys.modules["engine.video.probe"], "read_frame_table", no_demux)
    info = probe(path)
    assert info.frame_count == 100 and info.frames.keyframe.sum() == 4


# name: (source in PLAIN, muxer options), as recorders and DASH/CMAF packagers write fragmented MP4
FRAGMENTED = {
    "empty_moov_audio": ("faststart_audio.mp4", {"movflags": "frag_keyframe+empty_moov"}),
    "first_fragment_in_moov": ("faststart_audio.mp4", {"movflags": "frag_keyframe"}),
    "cmaf": ("faststart_audio.mp4", {"movflags": "cmaf"}),
    "separate_moof": ("faststart_audio.mp4", {"movflags": "frag_keyframe+empty_moov+separate_moof"}),
    "implicit_offsets": ("faststart_audio.mp4", {"movflags": "frag_keyframe+empty_moov+omit_tfhd_offset"}),
    "negative_offsets_vfr": (
        "vfr.mp4",
        {"movflags": "frag_keyframe+empty_moov+default_base_moof+negative_cts_offsets"},
    ),
    "mid_gop_fragments": ("pyramid.mp4", {"movflags": "empty_moov", "frag_duration": "300000"}),
    "fragment_per_frame": ("no_bframes.mp4", {"movflags": "empty_moov+frag_every_frame"}),
    "open_gop": ("open_gop.mp4", {"movflags": "frag_keyframe+empty_moov"}),
    "hevc": ("hevc.mp4", {"movflags": "frag_keyframe+empty_moov"}),
    "segment_index": (
        "faststart_audio.mp4",
        {"movflags": "frag_keyframe+empty_moov+default_base_moof+global_sidx"},
    ),
}


@pytest.mark.parametrize("name", sorted(FRAGMENTED))
def test_fragments_give_the_demuxers_table(media, tmp_path, name):
    source, options = FRAGMENTED[name]
    path = remux_mp4(media(source, **PLAIN[source]), tmp_path / f"{name}.mp4", options)
    demuxed, indexed = demuxed_and_indexed(path)
    assert indexed is not None
    assert_same_table(indexed, demuxed)
    assert probe(path).warnings == ()  # whole: not taken for a cut-off recording


def box_at(data: bytes, kind: bytes, start: int = 0) -> int:
    """Where the first box of `kind` at or after `start` begins (its size field)."""
    return data.index(kind, start) - 4


def u32(data: bytes, at: int) -> int:
    return int.from_bytes(data[at : at + 4], "big")


def with_two_runs(data: bytes) -> bytes:
    """`data` with the run (trun) of its first fragment split in two, fragment and data offsets fixed.

    FFmpeg's muxer writes one run per track fragment; other writers start a new run where a track's
    samples stop being contiguous. Needs data offsets from the moof (default_base_moof) and per-sample sizes.
    """
    moof, traf, trun = box_at(data, b"moof"), box_at(data, b"traf"), box_at(data, b"trun")
    trun_size, flags, count = u32(data, trun), u32(data, trun + 8) & 0xFFFFFF, u32(data, trun + 12)
    assert (
        flags & 0x001
        and flags & 0x200
        and not flags & 0x004
        and u32(data, box_at(data, b"tfhd") + 8) & 0x20000
    )
    width = 4 * bin(flags & 0xF00).count("1")
    size_column = 4 * bin(flags & 0x100).count("1")  # sizes come right after durations, if those are there
    fields = data[trun + 20 : trun + trun_size]
    sizes = [u32(fields, i * width + size_column) for i in range(count)]
    half, added = count // 2, 20  # the second run's header: size, type, version+flags, count, data offset
    offset = u32(data, trun + 16) + added  # the media data moves by the bytes added to the moof

    def run(n: int, data_offset: int, samples: bytes) -> bytes:
        head = (20 + len(samples)).to_bytes(4, "big") + b"trun" + flags.to_bytes(4, "big")
        return head + n.to_bytes(4, "big") + data_offset.to_bytes(4, "big") + samples

    runs = run(half, offset, fields[: half * width]) + run(
        count - half, offset + sum(sizes[:half]), fields[half * width :]
    )
    out = bytearray(data[:trun] + runs + data[trun + trun_size :])
    for box in (moof, traf):
        out[box : box + 4] = (u32(data, box) + added).to_bytes(4, "big")
    return bytes(out)


def test_several_runs_in_a_fragment(media, tmp_path):
    options = {"movflags": "empty_moov+default_base_moof", "frag_duration": "2000000"}
    path = remux_mp4(media("pyramid.mp4", **PLAIN["pyramid.mp4"]), tmp_path / "one_run.mp4", options)
    split = tmp_path / "two_runs.mp4"
    split.write_bytes(with_two_runs(path.read_bytes()))
    assert split.read_bytes().count(b"trun") == path.read_bytes().count(b"trun") + 1
    demuxed, indexed = demuxed_and_indexed(split)
    assert indexed is not None and demuxed.frame_count == 100
    assert_same_table(indexed, demuxed)


def with_edit_list(data: bytes, media_time: int) -> bytes:
    """`data` with a one-entry edit list (media time `media_time`) in its first track, and without the
    fragment index at its end (whose absolute offsets would now be wrong). Needs moof-relative offsets.

    FFmpeg writes fragmented files without edits; other packagers (GPAC, Bento4) start the track at the
    first shown frame with one.
    """
    trak, tkhd = box_at(data, b"trak"), box_at(data, b"tkhd")
    entry = bytes(4) + media_time.to_bytes(4, "big") + (0x10000).to_bytes(4, "big")  # duration 0, rate 1
    elst = (28).to_bytes(4, "big") + b"elst" + bytes(4) + (1).to_bytes(4, "big") + entry
    edts = (36).to_bytes(4, "big") + b"edts" + elst
    at = tkhd + u32(data, tkhd)
    out = bytearray(data[:at] + edts + data[at:])
    for box in (box_at(data, b"moov"), trak):
        out[box : box + 4] = (u32(data, box) + len(edts)).to_bytes(4, "big")
    return bytes(out[: box_at(out, b"mfra")])


@pytest.mark.parametrize("media_time", [3600, 7200])  # half, all of the B-frame delay (90 kHz ticks)
def test_fragments_with_an_edit_list(media, tmp_path, media_time):
    options = {"movflags": "frag_keyframe+empty_moov+default_base_moof"}
    path = remux_mp4(media("cfr_bframes.mp4", **PLAIN["cfr_bframes.mp4"]), tmp_path / "f.mp4", options)
    edited = tmp_path / "edited.mp4"
    edited.write_bytes(with_edit_list(path.read_bytes(), media_time))
    demuxed, indexed = demuxed_and_indexed(edited)
    assert demuxed.pts[0] == 7200 - media_time and demuxed.frame_count == 90
    assert indexed is not None
    assert_same_table(indexed, demuxed)


def test_depends_on_others_alone_marks_a_frame_that_is_not_a_keyframe(media, tmp_path):
    """Sample flags with "depends on other samples" but not "non-sync", as some writers set them."""
    path = remux_mp4(
        media("cfr_bframes.mp4", **PLAIN["cfr_bframes.mp4"]),
        tmp_path / "f.mp4",
        FRAGMENTED["empty_moov_audio"][1],
    )
    data = bytearray(path.read_bytes())
    patched, at = 0, 0
    while (at := data.find(b"tfhd", at + 1)) > 0:  # the fragments' default flags, for all but first samples
        flags, field = u32(data, at + 4) & 0xFFFFFF, at + 12 + (8 if u32(data, at + 4) & 0x1 else 0)
        field += 4 * bin(flags & 0x1A).count("1")  # description index, duration, size come before
        if flags & 0x20 and u32(data, field) == 0x01010000:
            data[field : field + 4] = (0x01000000).to_bytes(4, "big")
            patched += 1
    assert patched == 4
    path.write_bytes(bytes(data))
    demuxed, indexed = demuxed_and_indexed(path)
    assert indexed is not None and demuxed.keyframe.sum() == 4
    assert_same_table(indexed, demuxed)


# Layouts FFmpeg reads its own way: the index is not used, the demuxer's table is.
DEMUXED = {
    # negative composition offsets in the moov: FFmpeg moves those samples' decode times, not the fragments'
    "negative_offsets_in_moov": {"movflags": "frag_keyframe+negative_cts_offsets"},
}


@pytest.mark.parametrize("name", sorted(DEMUXED))
def test_fragmented_layouts_read_differently_are_demuxed(media, tmp_path, name):
    path = remux_mp4(
        media("faststart_audio.mp4", **PLAIN["faststart_audio.mp4"]), tmp_path / "f.mp4", DEMUXED[name]
    )
    with av.open(str(path)) as c:
        assert read_indexed_frame_table(path, c, c.streams.video[0]) is None
    assert probe(path).frame_count == 50


def test_cut_off_files_are_demuxed(media, tmp_path):
    source = media("faststart_audio.mp4", **PLAIN["faststart_audio.mp4"])
    fragmented = remux_mp4(source, tmp_path / "frag.mp4", FRAGMENTED["empty_moov_audio"][1])
    data = fragmented.read_bytes()
    last_moof = data.rindex(b"moof") - 4
    cuts = {
        "index at the front, media data missing": source.read_bytes()[: source.stat().st_size * 2 // 3],
        "fragment cut inside its media data": data[: last_moof + (len(data) - last_moof) // 2],
        "fragment index without its media data": data[
            : last_moof + int.from_bytes(data[last_moof:][:4], "big")
        ],
    }
    for why, cut_data in cuts.items():
        cut = tmp_path / "cut.mp4"
        cut.write_bytes(cut_data)
        with av.open(str(cut)) as c:
            assert read_indexed_frame_table(cut, c, c.streams.video[0]) is None, why
            demuxed = read_frame_table(c, c.streams.video[0])
        info = probe(cut)
        assert info.frame_count == demuxed.frame_count < 50, why


@pytest.mark.parametrize("first_wrong", [0, 90])  # every packet; only the last GOP's (frames 90-99)
def test_index_that_disagrees_with_the_packets_is_not_used(media, monkeypatch, first_wrong):
    path = media("pyramid.mp4", **PLAIN["pyramid.mp4"])
    real = mp4_index.read_mp4_packets

    def shifted(*args):
        packets, count = real(*args)
        return [(pts + (i >= first_wrong), *rest) for i, (pts, *rest) in enumerate(packets)], count

    with av.open(str(path)) as c:
        assert read_indexed_frame_table(path, c, c.streams.video[0]) is not None
    monkeypatch.setattr(mp4_index, "read_mp4_packets", shifted)
    with av.open(str(path)) as c:
        assert read_indexed_frame_table(path, c, c.streams.video[0]) is None
