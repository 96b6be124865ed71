"""`probe(path)`: what a video file is, checked well enough that everything after it can trust it.

Opens the file with FFmpeg (PyAV), decodes its first frame (so a file that cannot be decoded fails
here, with a message, rather than deep inside a model), and reads the frame table (true per-frame
timestamps): from the index of an MP4/MOV, fragmented or not (`mp4_index`, milliseconds whatever the
length), else by one pass over the packets; cached on disk by file content, so reopening a long file
is instant.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av

from engine.cache import BadEntry, CacheFolder, file_identity
from engine.errors import VideoError
from engine.user_files import regular_file
from engine.video.frame_table import FrameTable, read_frame_table
from engine.video.mp4_boxes import stops_inside_a_box
from engine.video.mp4_index import read_indexed_frame_table

# Containers round their stated duration and audio may outlast the video by a little: only a larger gap
# between the stated duration and the last readable frame means the file was cut off.
_CUT_OFF_TOLERANCE_S = 1.0


@dataclass(frozen=True, eq=False)
class VideoInfo:
    """A probed video file. Sizes are as displayed, i.e. after the file's rotation is applied."""

    path: Path
    container: str  # FFmpeg's demuxer name, e.g. "mp4", "mov", "matroska", "mpegts"
    codec: str  # video codec, e.g. "h264", "hevc", "vp9"
    width: int  # displayed width in pixels
    height: int  # displayed height in pixels
    coded_width: int  # width of the decoded picture before rotation
    coded_height: int
    rotation: int  # degrees clockwise the picture is turned for display: 0, 90, 180 or 270
    fps: float  # average frames per second
    frame_count: int  # exact number of frames shown
    duration_s: float  # from the start of the file to the end of the last frame
    vfr: bool  # frame durations vary (measured from the real timestamps)
    has_audio: bool
    audio_codec: str | None
    size_bytes: int
    identity: str  # content hash (engine.cache.file_identity), the key of every cache entry
    stream_index: int  # index of the video stream used, among all streams of the file
    frames_seekable: bool  # decoded frames carry the timestamps of the table: decode by seeking
    frames: FrameTable = field(repr=False)  # per-frame presentation times and keyframes
    warnings: tuple[str, ...] = ()  # things the user should know (damaged tail, estimated times)

    def to_dict(self, *, frames: bool = False) -> dict[str, Any]:
        """The JSON form printed by `scenescope probe --json`; `frames=True` adds the frame table,
        which makes it the complete plain form (`from_dict`) the worker hands a window."""
        data: dict[str, Any] = {
            "path": str(self.path),
            "container": self.container,
            "codec": self.codec,
            "width": self.width,
            "height": self.height,
            "coded_width": self.coded_width,
            "coded_height": self.coded_height,
            "rotation": self.rotation,
            "fps": round(self.fps, 6),
            "frame_count": self.frame_count,
            "duration_s": round(self.duration_s, 6),
            "vfr": self.vfr,
            "has_audio": self.has_audio,
            "audio_codec": self.audio_codec,
            "size_bytes": self.size_bytes,
            "timestamps_exact": self.frames.exact,
            "warnings": list(self.warnings),
            "identity": self.identity,
            "stream_index": self.stream_index,
            "frames_seekable": self.frames_seekable,
        }
        if frames:
            data["frames"] = self.frames.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VideoInfo:
        """The inverse of `to_dict(frames=True)`."""
        return cls(
            path=Path(data["path"]),
            container=data["container"],
            codec=data["codec"],
            width=int(data["width"]),
            height=int(data["height"]),
            coded_width=int(data["coded_width"]),
            coded_height=int(data["coded_height"]),
            rotation=int(data["rotation"]),
            fps=float(data["fps"]),
            frame_count=int(data["frame_count"]),
            duration_s=float(data["duration_s"]),
            vfr=bool(data["vfr"]),
            has_audio=bool(data["has_audio"]),
            audio_codec=data["audio_codec"],
            size_bytes=int(data["size_bytes"]),
            identity=data["identity"],
            stream_index=int(data["stream_index"]),
            frames_seekable=bool(data["frames_seekable"]),
            frames=FrameTable.from_dict(data["frames"]),
            warnings=tuple(data.get("warnings", ())),
        )


def probe(path: str | os.PathLike) -> VideoInfo:
    """Probe a video file. Raises `VideoError` with a user-facing message for anything unusable."""
    path = Path(path)
    size = _check_readable_file(path)
    identity = file_identity(path)
    with _open(path) as container:
        stream = _video_stream(container, path)
        container_name = _container_name(container, path)
        is_mp4 = "mov" in container.format.name.split(",")
        first = _decode_first_frame(container, stream, path)
        if _is_image_demuxer(container.format.name):
            raise VideoError(f"{path} is a still image ({stream.codec_context.name}), not a video.")
        audio = container.streams.audio
        has_audio = len(audio) > 0
        audio_codec = audio[0].codec_context.name if has_audio else None
        header_frames = stream.frames
        header_duration_s = container.duration / 1e6 if container.duration else None
        codec = stream.codec_context.name
        coded_w, coded_h = first.width, first.height
        rotation = (-round(first.rotation / 90) * 90) % 360
        stream_index = stream.index
        first_has_pts = first.pts is not None
        table = _cached_frame_table(path, identity, stream)

    if table.frame_count == 0:
        raise VideoError(f"{path} contains no readable video frames. The file is damaged.")
    if table.frame_count == 1:
        raise VideoError(f"{path} holds a single picture, not a video.")

    warnings = []
    if header_frames and table.packet_count < header_frames:
        warnings.append(
            f"The file is damaged or cut off: {table.packet_count} of {header_frames} frames can be read."
        )
    elif header_duration_s and table.duration_s < header_duration_s - _CUT_OFF_TOLERANCE_S:
        warnings.append(
            f"The file is damaged or cut off: only {table.duration_s:.1f} s of its "
            f"{header_duration_s:.1f} s can be read."
        )
    elif is_mp4 and stops_inside_a_box(path):
        warnings.append(
            f"The file is cut off (the recording or copy stopped while it was written): "
            f"{table.duration_s:.1f} s can be read."
        )
    if not table.exact:
        warnings.append("The file has no usable timestamps: frame times are estimated from the frame rate.")
    width, height = (coded_h, coded_w) if rotation in (90, 270) else (coded_w, coded_h)
    return VideoInfo(
        path=path,
        container=container_name,
        codec=codec,
        width=width,
        height=height,
        coded_width=coded_w,
        coded_height=coded_h,
        rotation=rotation,
        fps=table.average_fps,
        frame_count=table.frame_count,
        duration_s=table.duration_s,
        vfr=table.is_vfr,
        has_audio=has_audio,
        audio_codec=audio_codec,
        size_bytes=size,
        identity=identity,
        stream_index=stream_index,
        frames_seekable=table.exact and first_has_pts,
        frames=table,
        warnings=tuple(warnings),
    )


def open_video_stream(
    path: Path, stream_index: int
) -> tuple[av.container.InputContainer, av.video.VideoStream]:
    """Open `path` and return it with its video stream `stream_index` (as recorded by `probe`)."""
    container = _open(path)
    return container, container.streams[stream_index]


def _check_readable_file(path: Path) -> int:
    size = regular_file(path, "video file", VideoError).stat().st_size
    if size == 0:
        raise VideoError(f"{path} is empty (0 bytes). It may still be copying, or the recording failed.")
    return size


def _open(path: Path) -> av.container.InputContainer:
    try:
        return av.open(str(path), metadata_errors="ignore")
    except av.error.InvalidDataError:
        raise VideoError(_invalid_data_message(path)) from None
    except av.error.FFmpegError as e:
        raise VideoError(f"FFmpeg cannot open {path}: {e.strerror or e}.") from None


def _invalid_data_message(path: Path) -> str:
    with path.open("rb") as f:
        head = f.read(12)
    if head[4:8] == b"ftyp":
        return (
            f"{path} is an MP4/MOV file whose index is missing: the recording or the copy was cut off "
            "before it finished. Copy it again from the source, or recover it with a repair tool "
            "such as untrunc."
        )
    return f"{path} is not a video FFmpeg can read: the data is damaged or it is another kind of file."


def main_video_stream(container: av.container.InputContainer) -> av.video.VideoStream | None:
    """The stream `probe` reads: the largest video stream that is not cover art; None if there is none."""
    streams = [s for s in container.streams.video if s.codec_context is not None]
    # Cover art is stored as a one-picture "video" stream; prefer a real one.
    real = [s for s in streams if not (s.disposition & av.stream.Disposition.attached_pic)]
    return max(real, key=lambda s: (s.codec_context.width or 0) * (s.codec_context.height or 0), default=None)


def _video_stream(container: av.container.InputContainer, path: Path) -> av.video.VideoStream:
    stream = main_video_stream(container)
    if stream is None:
        kind = "an audio file" if container.streams.audio else "not a video"
        raise VideoError(f"{path} has no video stream ({kind}).")
    return stream


def _decode_first_frame(
    container: av.container.InputContainer, stream: av.video.VideoStream, path: Path
) -> av.VideoFrame:
    codec = stream.codec_context.name
    try:
        for frame in container.decode(stream):
            return frame
    except av.error.FFmpegError as e:
        raise VideoError(
            f"The video stream of {path} ({codec}) cannot be decoded: {e.strerror or e}. "
            "The file is damaged, or re-encode it, e.g. `ffmpeg -i IN -c:v libx264 -c:a copy OUT.mp4`."
        ) from None
    raise VideoError(f"{path} contains no decodable video frames ({codec}). The file is damaged or empty.")


def _is_image_demuxer(name: str) -> bool:
    """FFmpeg opens still pictures (PNG, JPEG, ...) with `image2` or a `*_pipe` demuxer."""
    return name == "image2" or name.endswith("_pipe")


def _container_name(container: av.container.InputContainer, path: Path) -> str:
    names = container.format.name.split(",")
    ext = path.suffix.lower().lstrip(".")
    return ext if ext in names else names[0]


def _cached_frame_table(path: Path, identity: str, stream: av.video.VideoStream) -> FrameTable:
    """The frame table of `stream`, from the cache when a sound entry of this file is there."""
    cache = CacheFolder("frame_tables")
    key = f"{identity}-{stream.index}"
    name = f"{key}.v2.npz"  # v2: the entry holds its key (v1 entries are left unread)

    def parse(data: bytes) -> FrameTable:
        table = FrameTable.from_bytes(data, key)
        if stream.time_base and table.time_base != stream.time_base:
            raise BadEntry(f"its time base {table.time_base} is not the stream's {stream.time_base}")
        return table

    table = cache.read(name, parse)
    if table is not None:
        return table
    with _open(path) as container:
        table = read_indexed_frame_table(path, container, container.streams[stream.index])
    if table is None:
        with _open(path) as container:
            table = read_frame_table(container, container.streams[stream.index])
    cache.write(name, table.to_bytes(key))
    return table
