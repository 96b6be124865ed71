"""Smart cut: re-encode only the frames a packet copy cannot give exactly, copy the packets between.

A clip of frames first..last that cannot be copied whole is cut in up to three parts:

    head  first .. k-1   re-encoded (k: the first IDR picture in the clip)
    body  k .. m         the source's packets, copied unchanged (m: the last frame such that k..m is
                         one clean packet run, `frames.clean_run_end`)
    tail  m+1 .. last    re-encoded (usually the few B-frames whose reference frame lies past the end)

x264 encodes the head and the tail each as closed GOPs that start with an IDR picture carrying its own
parameter sets (SPS/PPS) in-band, and the body's first packet gets the source's parameter sets
in-band in front of it, so a decoder switches to the right ones at each seam. An MP4 track whose
samples carry parameter sets is an `avc3` track (ISO/IEC 14496-15; `avc1` wants them all in the
sample entry), so that is its tag. Decode timestamps are rebuilt for the whole track from the frames'
presentation times, so they rise across the seams whatever each part's B-frame delay.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import av
import numpy as np

from engine.export import h264, video_track
from engine.export.frames import FrameRange, clean_run_end
from engine.export.video_track import FrameDone
from engine.jobs import Job
from engine.video import VideoInfo
from engine.video.probe import open_video_stream


@dataclass(frozen=True)
class SmartCut:
    """The parts of a smart-cut clip, as inclusive source frame indices (presentation order)."""

    head: tuple[int, int] | None  # re-encoded
    body: tuple[int, int]  # copied
    tail: tuple[int, int] | None  # re-encoded

    def copied_frames(self) -> int:
        return self.body[1] - self.body[0] + 1


def plan_smart_cut(info: VideoInfo, frames: FrameRange) -> SmartCut | None:
    """How to smart-cut `frames`, or None when no part of it can be copied (then re-encode it all).

    Needs H.264 with exact frame timestamps and decode timestamps, NAL units stored as x264 writes them
    here (4-byte lengths or start codes), a pixel format x264 encodes as it is, and an IDR picture
    inside the clip.
    """
    table = info.frames
    if info.codec != "h264" or not info.frames_seekable or not table.exact:
        return None
    container, source = open_video_stream(info.path, info.stream_index)
    with container:
        extradata = source.codec_context.extradata
        if h264.is_avcc(extradata) and h264.length_size(extradata) != 4:
            return None
        if not video_track.x264_keeps_pixel_format(source):
            return None
        for key in np.flatnonzero(table.keyframe[frames.first : frames.last + 1]) + frames.first:
            key = int(key)
            packet = next(video_track.packets_from(container, source, int(table.pts[key])), None)
            if packet is None or packet.dts is None or not h264.is_idr(bytes(packet), extradata):
                continue  # an open-GOP I-picture: frames after it may reach back before it
            end = clean_run_end(table, key, frames.last)
            head = (frames.first, key - 1) if key > frames.first else None
            tail = (end + 1, frames.last) if end < frames.last else None
            return SmartCut(head=head, body=(key, end), tail=tail)
    return None


def add_smart_cut_stream(output: av.container.OutputContainer, source: av.video.VideoStream, info: VideoInfo):
    stream = video_track.add_copy_stream(output, source, info)
    stream.codec_context.codec_tag = "avc3"  # parameter sets inside samples
    return stream


def smart_cut_packets(
    info: VideoInfo,
    frames: FrameRange,
    cut: SmartCut,
    stream,
    crf: int,
    preset: str,
    frame_done: FrameDone,
    job: Job,
) -> Iterator[av.Packet]:
    """The clip's packets in decode order: encoded head, copied body, encoded tail, stamped from 0.

    The head and the tail are encoded first (at most about a GOP, held in memory), because every
    decode timestamp depends on the reordering of all three parts.
    """
    table = info.frames
    offset = int(table.pts[frames.first])
    container, source = open_video_stream(info.path, info.stream_index)
    with container:
        extradata = source.codec_context.extradata
        head = _encoded_part(info, cut.head, offset, source, extradata, crf, preset, frame_done, job)
        tail = _encoded_part(info, cut.tail, offset, source, extradata, crf, preset, frame_done, job)
        body_first, body_last = cut.body
        body_order = np.argsort(table.decode_pos[body_first : body_last + 1]) + body_first
        decode_order_pts = np.concatenate(
            [[p.pts for p in head], table.pts[body_order] - offset, [p.pts for p in tail]]
        ).astype(np.int64)  # [N] presentation time of each packet, in decode order
        shown_pts = table.pts[frames.first : frames.last + 1] - offset  # [N] ascending
        # The i-th packet decoded gets the i-th presentation time, moved back just enough that no packet
        # is decoded after it is shown.
        dts = shown_pts - int(np.max(shown_pts - decode_order_pts))
        durations = {pts - offset: ticks for pts, ticks in video_track.frame_ticks(info, frames).items()}
        body = _body_packets(container, source, extradata, int(table.pts[body_first]), cut, job)
        for i, packet in enumerate(itertools.chain(head, _restamped(body, offset, frame_done), tail)):
            packet.dts = int(dts[i])
            packet.duration = durations[packet.pts]
            packet.time_base = table.time_base
            packet.stream = stream
            yield packet


def _encoded_part(info, part, offset, source, extradata, crf, preset, frame_done, job) -> list[av.Packet]:
    """Frames part[0]..part[1] encoded by x264 as one closed run, NAL units stored as the source's."""
    if part is None:
        return []
    encoder = av.CodecContext.create("libx264", "w")  # no global header: parameter sets stay in-band
    video_track.configure_x264(encoder, source.codec_context, info, crf, preset)
    encoder.framerate = source.average_rate or source.guessed_rate
    pictures = video_track.native_pictures(info, range(part[0], part[1] + 1), job)
    packets = []
    for encoded in video_track.encode_frames(info, pictures, offset, encoder, frame_done, job):
        data = bytes(encoded)  # Annex B
        if h264.is_avcc(extradata):
            data = h264.length_prefixed(h264.nal_units(data, None), 4)
        packets.append(_new_packet(data, encoded))
    return packets


def _body_packets(container, source, extradata, key_pts: int, cut: SmartCut, job) -> Iterator[av.Packet]:
    """The body's source packets; the first gets the source's parameter sets in front."""
    if h264.is_avcc(extradata):
        sets = h264.length_prefixed(h264.avcc_parameter_sets(extradata), 4)
    else:  # MPEG-TS and the like repeat them in-band anyway; FFmpeg may have collected them here
        sets = h264.annex_b(h264.nal_units(extradata, None)) if extradata else b""
    packets = video_track.packets_from(container, source, key_pts)
    for n, packet in enumerate(packets):
        job.check()
        yield _new_packet(sets + bytes(packet), packet) if n == 0 else packet
        if n + 1 == cut.copied_frames():
            return


def _restamped(packets: Iterator[av.Packet], offset: int, frame_done: FrameDone) -> Iterator[av.Packet]:
    for packet in packets:
        packet.pts -= offset
        yield packet
        frame_done()


def _new_packet(data: bytes, like: av.Packet) -> av.Packet:
    packet = av.Packet(data)
    packet.pts = like.pts
    packet.is_keyframe = like.is_keyframe
    return packet
