"""The audio track of a clip: the source's first audio stream over exactly the clip's time.

AAC stored with sample-exact timestamps (MP4/MOV) is copied: the packets that overlap the clip, plus
the one before them, whose samples the AAC decoder needs to rebuild the first ones (each AAC frame
overlaps its neighbour). Their timestamps are shifted by the clip's start, so the first packets sit
before time 0; the MP4 muxer turns that into an edit list, and players start the sound at exactly
the clip's first video frame, to the sample. The last packet's duration is cut to the clip's end.
Everything else (MP3, Opus, PCM, or AAC in Matroska/MPEG-TS, whose timestamps are in coarser units)
is decoded, cut to the sample, and encoded to AAC.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av

from engine.jobs import Job

_AAC_RATES = frozenset(av.codec.Codec("aac", "w").audio_rates or ())
_PREROLL_S = 1  # start reading this long before the clip: enough for any decoder to settle


def can_copy(source: av.audio.AudioStream) -> bool:
    """AAC whose timestamps count samples: packets can be cut and re-stamped without drift."""
    return source.codec_context.name == "aac" and source.time_base == Fraction(1, source.rate)


def add_copy_stream(output: av.container.OutputContainer, source: av.audio.AudioStream):
    stream = output.add_stream_from_template(source)
    stream.time_base = source.time_base
    return stream


def add_encode_stream(output: av.container.OutputContainer, source: av.audio.AudioStream, bitrate: int):
    """AAC at the source's rate (48 kHz when AAC has no such rate) and channel layout."""
    rate = source.rate if source.rate in _AAC_RATES else 48000
    stream = output.add_stream("aac", rate=rate)
    stream.layout = source.layout
    stream.bit_rate = bitrate * source.channels
    return stream


def copy_packets(path: Path, start_s: float, end_s: float, stream, job: Job) -> Iterator[av.Packet]:
    """The AAC packets over [start_s, end_s) of the file's clock (seconds), re-stamped from start_s."""
    with av.open(str(path)) as container:
        source = container.streams.audio[0]
        start, end = _ticks(start_s, source), _ticks(end_s, source)
        frame_ticks = round(source.codec_context.frame_size or 1024)
        before, pending = None, None  # the packet ending last before `start`; the one to write next
        for packet in _packets_near(container, source, start):
            job.check()
            if not packet.size or packet.pts is None:
                continue
            packet.duration = packet.duration or frame_ticks
            if packet.pts + packet.duration <= start:
                before = packet
                continue
            if packet.pts >= end:
                break
            if before is not None:
                yield _restamp(before, start, stream)
                before = None
            if pending is not None:
                yield _restamp(pending, start, stream)
            pending = packet
        if pending is not None:
            pending.duration = min(pending.duration, end - pending.pts)
            yield _restamp(pending, start, stream)


def encode_packets(path: Path, start_s: float, end_s: float, stream, job: Job) -> Iterator[av.Packet]:
    """Decode the first audio stream over [start_s, end_s), cut it to the sample, encode with `stream`."""
    with av.open(str(path)) as container:
        source = container.streams.audio[0]
        rate = source.rate
        first, stop = round(start_s * rate), round(end_s * rate)  # sample numbers on the file's clock
        to_planar = av.AudioResampler(format="fltp", layout=source.layout, rate=rate)
        # Timestamps in coarse units (Matroska counts milliseconds) place a frame only to within a
        # tick: count samples from the first frame on, and follow the timestamps only across a gap.
        tick = rate * source.time_base  # samples per timestamp unit
        position = None  # sample number of the next decoded sample on the file's clock
        for decoded in _decode_near(container, source, first):
            job.check()
            if decoded.pts is not None:
                stamped = round(decoded.pts * decoded.time_base * rate)
                if position is None or abs(stamped - position) > tick + 1:
                    position = stamped
            elif position is None:
                position = 0
            for frame in to_planar.resample(decoded):
                samples = frame.to_ndarray()  # [channels, n] float32
                lo, hi = max(first - position, 0), min(stop - position, samples.shape[1])
                if lo < hi:
                    cut = av.AudioFrame.from_ndarray(
                        samples[:, lo:hi].copy(), format="fltp", layout=frame.layout.name
                    )
                    cut.sample_rate, cut.time_base = rate, Fraction(1, rate)
                    cut.pts = position + lo - first
                    yield from stream.encode(cut)
                position += samples.shape[1]
            if position >= stop:
                break
        yield from stream.encode(None)


def _ticks(seconds: float, stream) -> int:
    return round(seconds / stream.time_base)


def _restamp(packet: av.Packet, start: int, stream) -> av.Packet:
    packet.pts -= start
    packet.dts = packet.pts
    packet.stream = stream
    return packet


def _seek_before(container, source, start: int) -> None:
    target = start - round(_PREROLL_S / source.time_base)
    if target <= (source.start_time or 0):
        container.seek(0)
    else:
        container.seek(target, stream=source, backward=True)


def _packets_near(container, source, start: int) -> Iterator[av.Packet]:
    """Packets from a little before `start` (in stream ticks) onwards."""
    _seek_before(container, source, start)
    yield from container.demux(source)


def _decode_near(container, source, first_sample: int) -> Iterator[av.AudioFrame]:
    _seek_before(container, source, round(first_sample / source.rate / source.time_base))
    for packet in container.demux(source):
        try:
            yield from packet.decode()
        except av.error.InvalidDataError:
            continue  # a damaged packet: drop it, as players do
