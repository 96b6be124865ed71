"""The samples of one track in the movie fragments (`moof` boxes) of a fragmented MP4.

Recorders that must survive a crash (OBS, cameras, browsers) and streaming packagers (DASH, CMAF)
write a `moov` without samples and then, every second or so, a `moof` that indexes the media data
after it. Each track fragment (`traf`) has a header (`tfhd`: defaults for its samples), a base decode
time (`tfdt`) and runs (`trun`) of per-sample duration, size, flags and composition offset; missing
fields fall back to the `tfhd` defaults and then to the track's `trex` box in the `moov`.

Only what FFmpeg's demuxer reads the same way is accepted (see `fragment_samples`); anything else
gives None and the caller demuxes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.video.mp4_boxes import Fragment, boxes, child, u32

# tfhd flags: which optional fields follow the track id
_TFHD_BASE_DATA_OFFSET = 0x000001
_TFHD_DESCRIPTION_INDEX = 0x000002
_TFHD_DEFAULT_DURATION = 0x000008
_TFHD_DEFAULT_SIZE = 0x000010
_TFHD_DEFAULT_FLAGS = 0x000020
_TFHD_DURATION_IS_EMPTY = 0x010000
# trun flags: the fields before the samples, then the fields of each sample in this order
_TRUN_DATA_OFFSET = 0x000001
_TRUN_FIRST_SAMPLE_FLAGS = 0x000004
_TRUN_SAMPLE_FIELDS = (0x000100, 0x000200, 0x000400, 0x000800)  # duration, size, flags, cts offset
# Sample flags of a frame that cannot start decoding: "is non-sync" or "depends on other samples".
# FFmpeg calls a sample a keyframe when neither is set.
_NOT_SYNC = 0x00010000 | 0x01000000
# Boxes inside a traf that change what FFmpeg makes of its samples: sample groups (extra random-access
# points) and encryption. Files with them are demuxed instead.
_UNREAD_TRAF_BOXES = {"sbgp", "sgpd", "senc", "saiz", "saio"}


@dataclass(frozen=True)
class FragmentSamples:
    """[S] arrays, one entry per sample of the track in all its fragments, in file order."""

    dts: np.ndarray  # int64 decode time, track timescale, as the tfdt boxes give it
    cts_offset: np.ndarray  # int64 composition offset: shown at dts + cts_offset (may be negative)
    duration: np.ndarray  # int64
    keyframe: np.ndarray  # bool


def fragment_samples(moov: bytes, fragments: list[Fragment], track_id: int) -> FragmentSamples | None:
    """The samples of track `track_id` in `fragments`, or None where FFmpeg could read them differently.

    Accepted: the track's defaults in `mvex/trex`, one sample description, a `tfdt` in every track
    fragment (FFmpeg prefers it to any other clock), decode times strictly increasing (FFmpeg drops
    overlapping samples), no sample groups or encryption, no empty-duration fragments, no empty samples,
    and media data after each fragment big enough for its samples (a file cut off between a `moof` and
    its `mdat` has none).
    """
    defaults = _trex_defaults(moov, track_id)
    if defaults is None:
        return None
    runs: list[tuple[np.ndarray, ...]] = []
    for fragment in fragments:
        moof, fragment_bytes = fragment.moof, 0
        for kind, start, end in boxes(moof, 0, len(moof)):
            if kind == "traf" and _traf_track_id(moof, start, end) == track_id:
                traf_runs = _traf_samples(moof, start, end, defaults)
                if traf_runs is None:
                    return None
                runs.extend(traf_runs)
                fragment_bytes += sum(int(run[3].sum()) for run in traf_runs)
        if fragment_bytes > fragment.media_bytes:
            return None
    if not runs:
        return None
    dts, cts_offset, duration, size, flags = (np.concatenate(column) for column in zip(*runs, strict=True))
    if not size.all() or np.any(np.diff(dts) <= 0):
        return None
    return FragmentSamples(dts, cts_offset, duration, (flags & _NOT_SYNC) == 0)


def _trex_defaults(moov: bytes, track_id: int) -> tuple[int, int, int, int] | None:
    """(sample description index, duration, size, flags) that the track's samples default to."""
    mvex = child(moov, 0, len(moov), "mvex")
    for kind, start, end in boxes(moov, *mvex) if mvex else ():
        if kind == "trex" and end - start >= 24 and u32(moov, start + 4) == track_id:
            return tuple(u32(moov, start + at) for at in (8, 12, 16, 20))
    return None


def _traf_track_id(moof: bytes, start: int, end: int) -> int | None:
    tfhd = child(moof, start, end, "tfhd")
    return u32(moof, tfhd[0] + 4) if tfhd and tfhd[1] - tfhd[0] >= 8 else None


def _traf_samples(
    moof: bytes, start: int, end: int, defaults: tuple[int, int, int, int]
) -> list[tuple[np.ndarray, ...]] | None:
    """(dts, cts offset, duration, size, flags) of each run of one track fragment."""
    kinds = {kind for kind, _, _ in boxes(moof, start, end)}
    tfhd, tfdt = child(moof, start, end, "tfhd"), child(moof, start, end, "tfdt")
    if kinds & _UNREAD_TRAF_BOXES or tfhd is None or tfdt is None:
        return None
    fragment_defaults = _tfhd_defaults(moof, *tfhd, defaults)
    if fragment_defaults is None:
        return None
    wide = moof[tfdt[0]] == 1  # version 1: a 64-bit base decode time
    next_dts = int.from_bytes(moof[tfdt[0] + 4 : tfdt[0] + (12 if wide else 8)], "big")
    runs = []
    for kind, run_start, run_end in boxes(moof, start, end):
        if kind != "trun":
            continue
        run = _run_samples(moof, run_start, run_end, fragment_defaults)
        if run is None:
            return None
        duration, size, flags, cts_offset = run
        dts = next_dts + np.concatenate([[0], np.cumsum(duration[:-1])])
        next_dts += int(duration.sum())  # a second run in the fragment goes on where this one stops
        runs.append((dts, cts_offset, duration, size, flags))
    return runs


def _tfhd_defaults(moof: bytes, start: int, end: int, defaults) -> tuple[int, int, int] | None:
    """(duration, size, flags) defaults of a track fragment, or None if FFmpeg would skip it."""
    flags = int.from_bytes(moof[start + 1 : start + 4], "big")
    description, duration, size, sample_flags = defaults
    at = start + 8 + (8 if flags & _TFHD_BASE_DATA_OFFSET else 0)
    fields = {}
    for flag in (_TFHD_DESCRIPTION_INDEX, _TFHD_DEFAULT_DURATION, _TFHD_DEFAULT_SIZE, _TFHD_DEFAULT_FLAGS):
        if flags & flag:
            fields[flag] = u32(moof, at)
            at += 4
    if at > end or flags & _TFHD_DURATION_IS_EMPTY:
        return None
    if fields.get(_TFHD_DESCRIPTION_INDEX, description) != 1:
        return None  # a second sample description: FFmpeg reads such runs only for that one
    return (
        fields.get(_TFHD_DEFAULT_DURATION, duration),
        fields.get(_TFHD_DEFAULT_SIZE, size),
        fields.get(_TFHD_DEFAULT_FLAGS, sample_flags),
    )


def _run_samples(
    moof: bytes, start: int, end: int, defaults: tuple[int, int, int]
) -> tuple[np.ndarray, ...] | None:
    """[N] duration, size, flags (int64) and composition offset (signed) of the samples of one trun."""
    flags, count = int.from_bytes(moof[start + 1 : start + 4], "big"), u32(moof, start + 4)
    at = start + 8 + (4 if flags & _TRUN_DATA_OFFSET else 0)
    first_flags = None
    if flags & _TRUN_FIRST_SAMPLE_FLAGS:
        first_flags = u32(moof, at)
        at += 4
    present = [bool(flags & field) for field in _TRUN_SAMPLE_FIELDS]
    width = sum(present)
    if count == 0 or at + 4 * width * count > end:
        return None
    table = np.frombuffer(moof, ">u4", count=width * count, offset=at).reshape(count, width)
    columns, column = [], 0
    for is_present, default in zip(present, (*defaults, 0), strict=True):
        if is_present:
            columns.append(table[:, column].astype(np.int64))
            column += 1
        else:
            columns.append(np.full(count, default, np.int64))
    duration, size, sample_flags, cts_offset = columns
    if first_flags is not None and not present[2]:
        sample_flags[0] = first_flags
    # FFmpeg reads composition offsets as signed whatever the box version says.
    return duration, size, sample_flags, cts_offset.astype(np.uint32).view(np.int32).astype(np.int64)
