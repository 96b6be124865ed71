"""The video track of a clip: the source's H.264 packets copied unchanged, or the frames re-encoded.

Both yield packets in decode order, stamped so the clip's first frame is shown at time 0, each with
its true duration (the last frame's included), in the source's time base, so variable frame rates
survive exactly. The rotation stays metadata (a display matrix), as in the source, except for
pictures re-encoded `upright` (burn-in draws on frames turned to display orientation).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from fractions import Fraction

import av
import numpy as np

from engine.export.frames import FrameRange, packets_copyable
from engine.export.h264 import is_idr
from engine.jobs import Job
from engine.video import VideoInfo, decode_native_frames
from engine.video.probe import open_video_stream

_X264_PIXEL_FORMATS = frozenset(f.name for f in av.codec.Codec("libx264", "w").video_formats)
_COLOR_FIELDS = ("color_range", "color_primaries", "color_trc", "colorspace")
DECODE_AHEAD_BYTES = 32 << 20  # decoded frames held ahead of the encoder

FrameDone = Callable[[], None]  # called once per frame written
Pictures = Iterable[tuple[int, av.VideoFrame]]  # (source frame index, picture to encode) in order


def can_copy(info: VideoInfo, frames: FrameRange) -> bool:
    """True when copying the packets gives exactly `frames`, decodable and in H.264 (the clip format).

    The packet-run rule is `packets_copyable`; on top of it the first packet must be an IDR picture
    and carry a decode timestamp (MP4 needs one; Matroska stores none, so its clips are re-encoded).
    """
    if info.codec != "h264" or not info.frames_seekable or not packets_copyable(info.frames, frames):
        return False
    key_pts = int(info.frames.pts[frames.first])
    container, stream = open_video_stream(info.path, info.stream_index)
    with container:
        packet = next(packets_from(container, stream, key_pts), None)
        extradata = stream.codec_context.extradata
        return packet is not None and packet.dts is not None and is_idr(bytes(packet), extradata)


def add_copy_stream(output: av.container.OutputContainer, source: av.video.VideoStream, info: VideoInfo):
    stream = output.add_stream_from_template(source)
    stream.time_base = info.frames.time_base
    if info.rotation:
        stream.set_display_rotation(-info.rotation)  # FFmpeg's angle is counter-clockwise
    return stream


def add_encode_stream(
    output: av.container.OutputContainer,
    source: av.video.VideoStream,
    info: VideoInfo,
    crf: int,
    preset: str,
    *,
    upright: bool = False,
):
    """An H.264 stream with the source's picture size, pixel format (when x264 has it) and colours.

    `upright`: the pictures are in display orientation (the displayed size, no rotation flag).
    """
    stream = output.add_stream("libx264", rate=source.average_rate or source.guessed_rate)
    configure_x264(stream.codec_context, source.codec_context, info, crf, preset, upright=upright)
    stream.time_base = info.frames.time_base
    if info.rotation and not upright:
        stream.set_display_rotation(-info.rotation)
    return stream


def x264_keeps_pixel_format(source: av.video.VideoStream) -> bool:
    """True when x264 writes the source's own pixel format (else it gets 8-bit 4:2:0)."""
    return source.codec_context.pix_fmt in _X264_PIXEL_FORMATS


def x264_pixel_format(pix_fmt: str, width: int, height: int) -> str:
    """`pix_fmt` when x264 writes it at this size, else 8-bit 4:2:0, or 4:4:4 where a size is odd.

    A subsampled chroma plane needs an even luma size (VP9 and others store odd 4:2:0 sizes; x264
    refuses them).
    """
    fmt = av.VideoFormat(pix_fmt)
    step_x, step_y = 64 // fmt.chroma_width(64), 64 // fmt.chroma_height(64)  # luma pixels per chroma one
    if pix_fmt in _X264_PIXEL_FORMATS and width % step_x == 0 and height % step_y == 0:
        return pix_fmt
    return "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"


def configure_x264(cc, src, info: VideoInfo, crf: int, preset: str, *, upright: bool = False) -> None:
    """Set an x264 encoder context `cc` to the source's (`src`) picture size, format, colours and clock.

    `upright`: the displayed size and pixel shape instead of the coded ones.
    """
    turned = upright and info.rotation in (90, 270)
    cc.width, cc.height = (info.width, info.height) if upright else (info.coded_width, info.coded_height)
    cc.pix_fmt = x264_pixel_format(src.pix_fmt, cc.width, cc.height)
    cc.time_base = info.frames.time_base
    for name in _COLOR_FIELDS:
        setattr(cc, name, getattr(src, name))
    if src.sample_aspect_ratio:
        cc.sample_aspect_ratio = 1 / Fraction(src.sample_aspect_ratio) if turned else src.sample_aspect_ratio
    cc.options = {"crf": str(crf), "preset": preset}


def copy_packets(
    info: VideoInfo, frames: FrameRange, stream, frame_done: FrameDone, job: Job
) -> Iterator[av.Packet]:
    """The source packets of `frames` (the caller checked `can_copy`), re-stamped from 0."""
    table = info.frames
    offset = int(table.pts[frames.first])
    durations = frame_ticks(info, frames)
    container, source = open_video_stream(info.path, info.stream_index)
    with container:
        for written, packet in enumerate(packets_from(container, source, offset), start=1):
            job.check()
            packet.duration = durations[packet.pts]
            packet.pts -= offset
            packet.dts -= offset
            packet.stream = stream
            yield packet
            frame_done()
            if written == frames.frame_count:
                return


def encode_packets(
    info: VideoInfo, frames: FrameRange, stream, pictures: Pictures, frame_done: FrameDone, job: Job
) -> Iterator[av.Packet]:
    """Encode `pictures`, the frames of `frames`, with `stream`'s encoder, keeping every frame's time."""
    offset = int(info.frames.pts[frames.first])
    durations = {pts - offset: ticks for pts, ticks in frame_ticks(info, frames).items()}
    for packet in encode_frames(info, pictures, offset, stream, frame_done, job):
        packet.duration = durations[packet.pts]
        yield packet


def native_pictures(info: VideoInfo, indices: range, job: Job) -> Pictures:
    """The decoder's own frames at `indices`, for re-encoding as they are."""
    # A small read-ahead: the encoder is the slow side, so more decoded frames would only wait.
    for decoded in decode_native_frames(info, indices, buffer_bytes=DECODE_AHEAD_BYTES, cancel=job.event):
        yield decoded.index, decoded.frame


def encode_frames(
    info: VideoInfo, pictures: Pictures, offset: int, encoder, frame_done: FrameDone, job: Job
) -> Iterator[av.Packet]:
    """Encode `pictures` with `encoder` (a stream or codec context).

    Each is stamped with its source frame's pts minus `offset`; the encoder is flushed at the end, so
    its packets form closed GOPs of their own.
    """
    table = info.frames
    for index, frame in pictures:
        job.check()
        frame.pts = int(table.pts[index]) - offset
        frame.time_base = table.time_base
        frame.pict_type = av.video.frame.PictureType.NONE  # let x264 place its own keyframes
        yield from encoder.encode(frame)
        frame_done()
    yield from encoder.encode(None)


def frame_ticks(info: VideoInfo, frames: FrameRange) -> dict[int, int]:
    """{source pts: ticks the frame is shown} for the frames of the range, the last one's included."""
    table = info.frames
    edges = np.append(table.pts, table.end_pts)[frames.first : frames.last + 2]  # [N+1] int64
    return dict(zip(edges[:-1].tolist(), np.diff(edges).tolist(), strict=True))


def packets_from(container, stream, key_pts: int) -> Iterator[av.Packet]:
    """The stream's non-empty packets in decode order, starting with the one whose pts is `key_pts`.

    Seeks to it; a demuxer that lands past it (MPEG-TS seeks by byte position) is sent back to the
    start of the file.
    """
    for start_of_file in (False, True):
        if start_of_file:
            container.seek(0)
        else:
            container.seek(key_pts, stream=stream, backward=True)
        found = False
        for packet in container.demux(stream):
            if not packet.size or packet.pts is None:
                continue
            if not found:
                if packet.is_keyframe and packet.pts > key_pts:
                    break  # landed past the keyframe
                found = packet.pts == key_pts
                if not found:
                    continue
            yield packet
        if found:
            return
