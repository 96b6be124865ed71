"""`export_clip`: one frame-accurate H.264/AAC MP4 clip of a video, written atomically.

How the video is cut:
- copy: when the clip's frames are exactly one clean run of packets that starts at an IDR picture
  (`video_track.can_copy`), the packets are copied: lossless and fast.
- smart cut: otherwise, when the clip holds an IDR picture, only the frames before it (and the few at
  the end whose packets reach past the clip) are re-encoded and the packets between are copied
  (`smart_cut`); the track is then tagged `avc3`. `EncodeSettings(smart_cut=False)` turns this off.
- re-encode: otherwise every frame of the clip is decoded and encoded with x264 (CRF 18 by default,
  visually lossless), keeping the source's size, pixel format, colours, frame times and rotation.
- burn-in: with `tracks`, every frame is re-encoded with the tracked masks and ids drawn in
  (`burn_in`), upright: in display orientation, with no rotation flag.
The audio is copied or re-encoded independently (see `audio_track`), over exactly the clip's time.
The clip's timestamps start at 0; streams other than the video and the first audio are not kept.
"""

from __future__ import annotations

import heapq
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av

from engine.atomic import atomic_path
from engine.errors import ExportError
from engine.export import audio_track, burn_in, video_track
from engine.export.frames import FrameRange, frame_range
from engine.export.smart_cut import SmartCut, add_smart_cut_stream, plan_smart_cut, smart_cut_packets
from engine.jobs import Job, job_or_new
from engine.timecode import format_timecode
from engine.tracking import TrackStore
from engine.video import VideoInfo

_MP4_OPTIONS = {"movflags": "+faststart"}  # index at the front: players start before reading it all
CRF_RANGE = (0, 51)  # x264's constant-quality scale for 8-bit video: 0 lossless .. 51 worst
AUDIO_BITRATE_RANGE = (8_000, 320_000)  # AAC bits per second per channel that FFmpeg's encoder takes


X264_PRESETS = (
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
)


@dataclass(frozen=True)
class EncodeSettings:
    """How re-encoded clips are made. Copied packets are never touched."""

    crf: int = 18  # x264 constant quality: 18 is visually lossless, lower is bigger
    preset: str = "medium"  # x264 speed/size trade-off, "ultrafast" .. "veryslow"
    audio_bitrate: int = 96_000  # AAC bits per second per channel
    smart_cut: bool = True  # copy what can be copied between re-encoded ends; False: re-encode it all

    def __post_init__(self) -> None:
        _require_whole(
            "--crf", self.crf, CRF_RANGE, "x264 quality", "Use 18 (visually lossless) to 28 (small)"
        )
        _require_whole(
            "The audio bitrate", self.audio_bitrate, AUDIO_BITRATE_RANGE, "AAC, per channel", "Use 96000"
        )


@dataclass(frozen=True)
class Clip:
    """A written clip and what it holds, in the source's time."""

    path: Path
    frames: FrameRange  # the source frames in the clip; frames.start_s is the clip's time 0
    video: str  # "copy", "smart" (ends encoded, rest copied), "encode", or "burn-in" (masks drawn in)
    audio: str | None  # "copy", "encode", or None when the source has no audio

    def to_dict(self) -> dict[str, Any]:
        frames = self.frames
        return {
            "path": str(self.path),
            "first_frame": frames.first,
            "last_frame": frames.last,
            "start_s": frames.start_s,
            "end_s": frames.end_s,
            "frames": frames.frame_count,
            "video": self.video,
            "audio": self.audio,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Clip:
        frames = FrameRange(
            int(data["first_frame"]), int(data["last_frame"]), float(data["start_s"]), float(data["end_s"])
        )
        return cls(Path(data["path"]), frames, data["video"], data["audio"])


def export_clip(
    info: VideoInfo,
    start_s: float,
    end_s: float,
    path: str | os.PathLike,
    *,
    reencode: bool = False,
    overwrite: bool = False,
    settings: EncodeSettings | None = None,
    tracks: TrackStore | None = None,
    job: Job | None = None,
) -> Clip:
    """Cut [start_s, end_s) of `info`'s video into an MP4 at `path` (see `frames.frame_range`).

    `reencode=True` re-encodes even where a copy would be exact (the audio too). `tracks`: draw these
    tracked masks into every frame (a "burn-in" clip; the store must be of this video). Progress: stage
    "export", frames written of the clip's frames; a cancelled `job` raises `Cancelled`. Whatever
    happens, `path` is either the complete clip or untouched: it is written to a temporary file and
    renamed.
    """
    path = Path(path)
    try:
        frames = frame_range(info.frames, start_s, end_s)
    except ValueError as e:
        lasts = format_timecode(info.duration_s)
        raise ExportError(f"Cannot cut {info.path.name}: {e} (it lasts {lasts}).") from None
    if tracks is not None:
        burn_in.check_tracks_fit(info, tracks)
    settings = settings or EncodeSettings()
    cut = "burn-in" if tracks is not None else _video_cut(info, frames, reencode, settings.smart_cut)
    job = job_or_new(job)
    written = 0

    def done() -> None:
        nonlocal written
        written += 1
        job.progress("export", written, frames.frame_count)

    try:
        with (
            atomic_path(path, overwrite=overwrite) as tmp,
            av.open(str(info.path)) as source,
            av.open(str(tmp), "w", format="mp4", options=_MP4_OPTIONS) as output,
        ):
            video_packets = _video_packets(info, frames, source, output, cut, settings, tracks, done, job)
            audio, audio_packets = _audio_packets(info, frames, source, output, reencode, settings, job)
            for packet in heapq.merge(video_packets, audio_packets, key=_decode_time):
                output.mux(packet)
    except FileExistsError:
        raise ExportError(f"{path} already exists. Choose another folder, or allow overwriting.") from None
    except OSError as e:
        raise ExportError(
            f"Cannot write {path}: {e.strerror or e}. Check the folder and free disk space."
        ) from None
    video = cut if isinstance(cut, str) else "smart"
    return Clip(path=path, frames=frames, video=video, audio=audio)


def _video_cut(info: VideoInfo, frames: FrameRange, reencode: bool, smart: bool) -> str | SmartCut:
    """How the clip's video is made: "copy", a SmartCut, or "encode"."""
    if reencode:
        return "encode"
    if video_track.can_copy(info, frames):
        return "copy"
    return (smart and plan_smart_cut(info, frames)) or "encode"


def _video_packets(info, frames, source, output, cut, settings, tracks, done, job):
    """Add the clip's video stream to `output`; return its packets."""
    video_source = source.streams[info.stream_index]
    crf, preset = settings.crf, settings.preset
    if cut == "copy":
        stream = video_track.add_copy_stream(output, video_source, info)
        return video_track.copy_packets(info, frames, stream, done, job)
    if isinstance(cut, SmartCut):
        stream = add_smart_cut_stream(output, video_source, info)
        return smart_cut_packets(info, frames, cut, stream, crf, preset, done, job)
    upright = cut == "burn-in"
    stream = video_track.add_encode_stream(output, video_source, info, crf, preset, upright=upright)
    if upright:
        pictures = burn_in.drawn_pictures(info, frames, tracks, stream.codec_context, job)
    else:
        pictures = video_track.native_pictures(info, range(frames.first, frames.last + 1), job)
    return video_track.encode_packets(info, frames, stream, pictures, done, job)


def _audio_packets(info, frames, source, output, reencode, settings, job):
    """Add the clip's audio stream to `output`; return how it is made ("copy", "encode" or None) and
    its packets."""
    if not source.streams.audio:
        return None, iter(())
    audio_source = source.streams.audio[0]
    # The file's own clock: frame times are measured from its start time.
    start_s, end_s = frames.start_s + info.frames.start_s, frames.end_s + info.frames.start_s
    if not reencode and audio_track.can_copy(audio_source):
        stream = audio_track.add_copy_stream(output, audio_source)
        return "copy", audio_track.copy_packets(info.path, start_s, end_s, stream, job)
    stream = audio_track.add_encode_stream(output, audio_source, settings.audio_bitrate)
    return "encode", audio_track.encode_packets(info.path, start_s, end_s, stream, job)


def _decode_time(packet: av.Packet):
    """When the muxer needs the packet, for interleaving the tracks (exact: a Fraction)."""
    return (packet.dts if packet.dts is not None else packet.pts) * packet.time_base


def _require_whole(name: str, value: object, limits: tuple[int, int], meaning: str, advice: str) -> None:
    low, high = limits
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ExportError(
            f"{name} must be a whole number from {low} to {high} ({meaning}), not {value!r}. {advice}."
        )
