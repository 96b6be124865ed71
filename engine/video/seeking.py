"""Seek to a keyframe of the frame table and feed packets to a decoder, as every exact decoder must.

Shared by `decode_frames` (chunks.py) and the desktop app's exact-frame reader: both start decoding at
the keyframe the table names for a frame and identify decoded frames by their timestamps.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import av

from engine.errors import VideoError
from engine.video.frame_table import FrameTable

log = logging.getLogger(__name__)

_SEEK_BACKOFF_S = (0, 1, 4, 16, None)  # seek this far before a keyframe when landing past it; None: start


@dataclass
class Landing:
    """Where a seek landed: the first keyframe packet read, then the packets after it."""

    first: av.Packet
    packets: Iterator[av.Packet]  # starts with `first`
    seeks: int  # container seeks it took


def seek_to_keyframe(
    container: av.container.InputContainer, stream: av.video.VideoStream, table: FrameTable, key: int
) -> Landing:
    """Seek so that decoding starts at keyframe `key` of `table` or an earlier one.

    Some demuxers land after the keyframe asked for (MPEG-TS seeks by byte position). Then the first
    keyframe read is past it, and we seek again from further back, finally from the file's start.
    Packets before the first keyframe read cannot be decoded and are dropped. Seeking flushes the
    stream's decoder.
    """
    key_pts = int(table.pts[key])
    ticks_per_s = round(1 / table.time_base)
    for seeks, backoff_s in enumerate(_SEEK_BACKOFF_S, start=1):
        if backoff_s is None:
            container.seek(0)  # the start of the file, whatever its timestamps
        else:
            container.seek(key_pts - backoff_s * ticks_per_s, stream=stream, backward=True)
        packets = container.demux(stream)
        first = next((p for p in packets if p.size and p.is_keyframe), None)
        if first is None:
            continue
        landed = first.pts if first.pts is not None else first.dts
        if landed is None or landed <= key_pts:
            return Landing(first=first, packets=_prepend(first, packets), seeks=seeks)
    raise VideoError(f"Seeking in {container.name} fails: the file's index is damaged.")


def decode_packet(cc: av.video.VideoCodecContext, packet: av.Packet) -> list[av.VideoFrame]:
    """Frames out of the decoder for `packet` (an empty packet flushes it); a damaged packet is dropped,
    as players do."""
    try:
        return cc.decode(packet if packet.size else None)
    except av.error.InvalidDataError:
        log.debug("dropping a damaged packet at pts %s", packet.pts)
        return []


def _prepend(first: av.Packet, rest: Iterator[av.Packet]) -> Iterator[av.Packet]:
    yield first
    yield from rest
