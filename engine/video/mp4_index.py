"""The frame table of an MP4/MOV file from its index boxes, without reading the media data.

A pass over the packets of an hour of footage reads gigabytes (seconds from a fast disk, minutes from a
network share); the index holds every sample's decode time (stts), composition offset (ctts), sync
flag (stss), size (stsz) and place (stsc, stco/co64) in a few MB. A fragmented file (`mp4_fragments`)
spreads the same facts over a small `moof` box before each second or so of media data, which is
stepped over. Only layouts FFmpeg reads the plain way are accepted: one `moov`, the track's timescale
as the stream's time base, no sample groups (which can mark extra random-access points), at most one
edit, showing every sample, and every sample inside the file and non-empty. For anything else
`read_mp4_packets` returns None and the caller demuxes, so the result is always what FFmpeg's demuxer
gives (tests/test_video_mp4_index.py holds it to that, packet by packet).
"""

from __future__ import annotations

import itertools
import logging
import os
from fractions import Fraction

import av
import numpy as np

from engine.video.frame_table import FrameTable, frame_table_from_packets
from engine.video.mp4_boxes import boxes, child, read_layout
from engine.video.mp4_fragments import fragment_samples

log = logging.getLogger(__name__)

_RATE_ONE = 0x00010000  # edit media rate 1.0 in 16.16 fixed point
# Packets compared with the demuxer's before the index is trusted: from the start, and from the last
# keyframe on (fewer: each costs reading a packet from a cold disk).
_CHECKED_PACKETS = 64
_CHECKED_TAIL_PACKETS = 16


def read_indexed_frame_table(
    path: str | os.PathLike, container: av.container.InputContainer, stream: av.video.VideoStream
) -> FrameTable | None:
    """The frame table from the MP4 index of `path`, or None when it is not plain (then demux).

    The packets at the start and from the last keyframe on are also demuxed and compared: a cheap
    guard (one seek) against a layout read wrongly anywhere between.
    """
    if "mov" not in container.format.name.split(","):
        return None
    indexed = read_mp4_packets(path, stream.id, stream.time_base)
    if indexed is None:
        return None
    packets, count = indexed
    if not _demuxer_agrees(container, stream, packets):
        log.warning("the index of %s disagrees with its packets; reading them all", path)
        return None
    return frame_table_from_packets(container, stream, packets, count)


def _demuxer_agrees(container, stream, packets: list[tuple]) -> bool:
    """The first packets and those from the last keyframe on have the demuxer's pts and keyframe flag."""
    ours = {pts: keyframe for pts, _, keyframe, *_ in packets}
    head = (p for p in container.demux(stream) if p.size)
    for (pts, _, keyframe, *_), packet in zip(packets[:_CHECKED_PACKETS], head, strict=False):
        if packet.pts != pts or packet.is_keyframe != keyframe or packet.is_discard:
            return False
    last_keyframe = max((pts for pts, _, keyframe, *_ in packets if keyframe), default=None)
    if last_keyframe is None:
        return False
    try:
        container.seek(last_keyframe, stream=stream)
    except av.error.FFmpegError:
        return True  # nothing more to compare with; the head agreed
    tail = (p for p in container.demux(stream) if p.size)
    for packet in itertools.islice(tail, _CHECKED_TAIL_PACKETS):
        if packet.is_discard or ours.get(packet.pts) != packet.is_keyframe:
            return False
    return True


def read_mp4_packets(
    path: str | os.PathLike, track_id: int, time_base: Fraction
) -> tuple[list[tuple[int, int, bool, int, int, bool]], int] | None:
    """The video track's packets as `frame_table_from_packets` takes them, and their count; or None.

    `track_id` is the stream's id as FFmpeg reports it (the MP4 track_ID); `time_base` FFmpeg's time
    base for it, which must be the track's timescale. The samples indexed in the `moov` come first,
    then those of the movie fragments, if any.
    """
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        layout = read_layout(f, size)
    if layout is None:
        return None
    moov = layout.moov
    track = _find_track(moov, track_id)
    if track is None:
        return None
    movie_timescale = _timescale(moov, child(moov, 0, len(moov), "mvhd"))
    trak_start, trak_end = track
    mdia = child(moov, trak_start, trak_end, "mdia")
    if mdia is None or movie_timescale is None:
        return None
    timescale = _timescale(moov, child(moov, *mdia, "mdhd"))
    if timescale is None or Fraction(1, timescale) != time_base:
        return None
    minf = child(moov, *mdia, "minf")
    stbl = minf and child(moov, *minf, "stbl")
    if stbl is None:
        return None
    tables = {kind: (start, end) for kind, start, end in boxes(moov, *stbl)}
    if {"sbgp", "sgpd", "stz2"} & tables.keys() or not {"stsz", "stts"} <= tables.keys():
        return None
    indexed = _sample_table(moov, tables, size) if _sample_count(moov, *tables["stsz"]) else _NO_SAMPLES
    if indexed is None:
        return None
    pts, dts, keyframe, durations = indexed
    shift = _edit_shift(moov, trak_start, trak_end, pts, timescale, movie_timescale)
    if shift is None:
        return None
    if layout.fragments:
        fragments = fragment_samples(moov, layout.fragments, track_id)
        if fragments is None or (len(dts) and (fragments.dts[0] <= dts[-1] or np.any(pts < dts))):
            return None  # samples in both places: only the simple case, no negative offsets in the moov
        # FFmpeg shows each fragment sample at dts + offset, shifted by the most negative offset so that
        # no frame is shown before it is decoded (the demuxer learns that shift from the first runs).
        fragment_pts = fragments.dts + fragments.cts_offset + max(0, -int(fragments.cts_offset.min()))
        pts = np.concatenate([pts, fragment_pts])
        dts = np.concatenate([dts, fragments.dts])
        keyframe = np.concatenate([keyframe, fragments.keyframe])
        durations = np.concatenate([durations, fragments.duration])
    elif not len(dts):
        return None
    count = len(dts)
    packets = zip(
        (pts - shift).tolist(),
        (dts - shift).tolist(),
        keyframe.tolist(),
        range(count),
        durations.tolist(),
        [False] * count,
        strict=True,
    )
    return list(packets), count


_NO_SAMPLES = (np.zeros(0, np.int64),) * 3 + (np.zeros(0, bool),)


def _sample_table(
    moov: bytes, tables: dict[str, tuple[int, int]], file_size: int
) -> tuple[np.ndarray, ...] | None:
    """[N] pts, dts, keyframe and duration of the samples indexed in the `moov` (stbl), or None."""
    if "stss" not in tables:
        return None  # without stss FFmpeg finds keyframes its own ways
    sizes = _sample_sizes(moov, *tables["stsz"])
    count = len(sizes)
    deltas = _runs(moov, *tables["stts"], np.uint32)
    offsets = _runs(moov, *tables["ctts"], np.int32) if "ctts" in tables else np.zeros(count, np.int64)
    if count == 0 or deltas is None or len(deltas) != count or len(offsets) != count or not sizes.all():
        return None
    ends = _sample_ends(moov, tables, sizes)
    if ends is None or ends.max() > file_size:
        return None  # a cut-off file: the demuxer finds where its readable part stops
    numbers = _u32_list(moov, *tables["stss"]).astype(np.int64) - 1
    if numbers.size == 0 or numbers.min() < 0 or numbers.max() >= count:
        return None
    keyframe = np.zeros(count, bool)
    keyframe[numbers] = True
    dts = np.concatenate([[0], np.cumsum(deltas[:-1], dtype=np.int64)])
    return dts + offsets, dts, keyframe, deltas


def _find_track(moov: bytes, track_id: int) -> tuple[int, int] | None:
    for kind, start, end in boxes(moov, 0, len(moov)):
        if kind != "trak":
            continue
        tkhd = child(moov, start, end, "tkhd")
        if tkhd is None:
            continue
        at = tkhd[0] + (20 if moov[tkhd[0]] == 1 else 12)  # version 1 has 64-bit times before the id
        if int.from_bytes(moov[at : at + 4], "big") == track_id:
            return start, end
    return None


def _timescale(data: bytes, box: tuple[int, int] | None) -> int | None:
    """The timescale of an mvhd or mdhd box."""
    if box is None:
        return None
    at = box[0] + (20 if data[box[0]] == 1 else 12)
    value = int.from_bytes(data[at : at + 4], "big")
    return value or None


def _u32_list(data: bytes, start: int, end: int) -> np.ndarray:
    """The entries of a full box holding a count and then that many 32-bit numbers."""
    count = int.from_bytes(data[start + 4 : start + 8], "big")
    return (
        np.frombuffer(data, ">u4", count=count, offset=start + 8)
        if start + 8 + 4 * count <= end
        else np.zeros(0)
    )


def _runs(data: bytes, start: int, end: int, value_type) -> np.ndarray | None:
    """stts / ctts: (sample count, value) pairs expanded to one value per sample, int64."""
    count = int.from_bytes(data[start + 4 : start + 8], "big")
    if start + 8 + 8 * count > end:
        return None
    pairs = np.frombuffer(data, ">u4", count=2 * count, offset=start + 8).reshape(count, 2)
    values = pairs[:, 1].astype(np.uint32).view(value_type).astype(np.int64)  # ctts: signed, any version
    return np.repeat(values, pairs[:, 0].astype(np.int64))


def _sample_count(data: bytes, start: int, end: int) -> int:
    return int.from_bytes(data[start + 8 : start + 12], "big")


def _sample_sizes(data: bytes, start: int, end: int) -> np.ndarray:
    uniform = int.from_bytes(data[start + 4 : start + 8], "big")
    count = _sample_count(data, start, end)
    if uniform:
        return np.full(count, uniform, np.int64)
    if start + 12 + 4 * count > end:
        return np.zeros(0, np.int64)
    return np.frombuffer(data, ">u4", count=count, offset=start + 12).astype(np.int64)


def _sample_ends(data: bytes, tables: dict[str, tuple[int, int]], sizes: np.ndarray) -> np.ndarray | None:
    """[N] byte offset just past each sample, from the chunk table (stsc) and chunk offsets (stco/co64)."""
    if "stco" in tables:
        chunk_offsets = _u32_list(data, *tables["stco"]).astype(np.int64)
    elif "co64" in tables:
        start, end = tables["co64"]
        count = int.from_bytes(data[start + 4 : start + 8], "big")
        if start + 8 + 8 * count > end:
            return None
        chunk_offsets = np.frombuffer(data, ">u8", count=count, offset=start + 8).astype(np.int64)
    else:
        return None
    start, end = tables.get("stsc", (0, 0))
    count = int.from_bytes(data[start + 4 : start + 8], "big") if end else 0
    if count == 0 or start + 8 + 12 * count > end:
        return None
    entries = np.frombuffer(data, ">u4", count=3 * count, offset=start + 8).reshape(count, 3).astype(np.int64)
    first_chunks = np.append(entries[:, 0] - 1, len(chunk_offsets))  # 0-based, and the end
    spans = np.diff(first_chunks)
    if np.any(spans < 0):
        return None
    per_chunk = np.repeat(entries[:, 1], spans)  # [chunks] samples in each chunk
    if per_chunk.sum() < len(sizes):
        return None
    chunk_of_sample = np.repeat(np.arange(len(per_chunk)), per_chunk)[: len(sizes)]
    before = np.cumsum(sizes) - sizes  # bytes of all earlier samples
    first_in_chunk = np.cumsum(per_chunk) - per_chunk
    chunk_base = before[np.minimum(first_in_chunk, len(sizes) - 1)][chunk_of_sample]
    return chunk_offsets[chunk_of_sample] + before - chunk_base + sizes


def _edit_shift(data, trak_start, trak_end, pts, timescale, movie_timescale) -> int | None:
    """How far the edit list moves the track's times back (its media time), or None if it hides samples."""
    edts = child(data, trak_start, trak_end, "edts")
    elst = edts and child(data, *edts, "elst")
    if elst is None:
        return 0
    start, end = elst
    version, count = data[start], int.from_bytes(data[start + 4 : start + 8], "big")
    if count != 1:
        return None  # empty edits, several segments: FFmpeg's own rules, demux instead
    at, wide = start + 8, 8 if version == 1 else 4
    if at + 2 * wide + 4 > end:
        return None
    segment = int.from_bytes(data[at : at + wide], "big")
    media_time = int.from_bytes(data[at + wide : at + 2 * wide], "big", signed=True)
    rate = int.from_bytes(data[at + 2 * wide : at + 2 * wide + 4], "big")
    if media_time < 0 or rate != _RATE_ONE or (len(pts) and pts.min() < media_time):
        return None
    shown_until = media_time + segment * timescale / movie_timescale
    if segment and len(pts) and pts.max() >= shown_until:
        return None
    return media_time
