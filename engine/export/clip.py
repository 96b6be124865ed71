"""`export_clip`: one frame-accurate H.264/AAC MP4 clip of a video, written atomically.

How the video is cut:
- copy: when the clip's frames are exactly one clean run of packets that starts at an IDR picture
  (`video_track.can_copy`), the packets are copied: lossless and fast.
- smart cut: otherwise, when the clip holds an IDR picture, only the frames before it (and the few at
  the end whose packets reach past the clip) are re-encoded and the packets between are copied
  (`smart_cut`); the track is then tagged `avc3`. `EncodeSettings(smart_cut=False)` turns this off.
- re-encode: otherwise every frame of the clip is decoded and encoded with x264 (CRF 18 by default,
  visually lossless), keeping the source's size, pixel format, colours, frame times and rotation.
The audio is copied or re-encoded independently (see `audio_track`), over exactly the clip's time.
The clip's timestamps start at 0; streams other than the video and the first audio are not kept.
"""

from __future__ import annotations

import heapq
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import av

from engine.atomic import atomic_path
from engine.errors import ExportError
from engine.export import audio_track, video_track
from engine.export.frames import FrameRange, frame_range
from engine.export.smart_cut import SmartCut, add_smart_cut_stream, plan_smart_cut, smart_cut_packets
from engine.timecode import format_timecode
from engine.video import VideoInfo

_MP4_OPTIONS = {"movflags": "+faststart"}  # index at the front: players start before reading it all
CRF_RANGE = (0, 51)  # x264's constant-quality scale for 8-bit video: 0 lossless .. 51 worst
AUDIO_BITRATE_RANGE = (8_000, 320_000)  # AAC bits per second per channel that FFmpeg's encoder takes


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


def export_clip(
    info: VideoInfo,
    start_s: float,
    end_s: float,
    path: str | os.PathLike,
    *,
    reencode: bool = False,
    overwrite: bool = False,
    settings: EncodeSettings | None = None,
    frame_done: Callable[[], None] | None = None,
    cancel: threading.Event | None = None,
) -> Clip:
    """Cut [start_s, end_s) of `info`'s video into an MP4 at `path` (see `frames.frame_range`).

    `reencode=True` re-encodes even where a copy would be exact. `frame_done` is called once per
    frame written; `cancel` stops the export with InterruptedError. Whatever happens, `path` is
    either the complete clip or untouched: the clip is written to a temporary file and renamed.
    """
    path = Path(path)
    try:
        frames = frame_range(info.frames, start_s, end_s)
    except ValueError as e:
        lasts = format_timecode(info.duration_s)
        raise ExportError(f"Cannot cut {info.path.name}: {e} (it lasts {lasts}).") from None
    settings = settings or EncodeSettings()
    cut = _video_cut(info, frames, reencode, settings.smart_cut)
    cancel = cancel or threading.Event()
    done = frame_done or (lambda: None)
    try:
        with (
            atomic_path(path, overwrite=overwrite) as tmp,
            av.open(str(info.path)) as source,
            av.open(str(tmp), "w", format="mp4", options=_MP4_OPTIONS) as output,
        ):
            tracks, audio = _tracks(info, frames, source, output, cut, reencode, settings, done, cancel)
            for packet in heapq.merge(*tracks, key=_decode_time):
                output.mux(packet)
    except FileExistsError:
        raise ExportError(f"{path} already exists. Choose another folder, or allow overwriting.") from None
    except InterruptedError:
        raise
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


def _tracks(info, frames, source, output, cut, reencode, settings, done, cancel):
    """Add the clip's streams to `output`; return their packet iterators and how audio is made."""
    video_source = source.streams[info.stream_index]
    if cut == "copy":
        stream = video_track.add_copy_stream(output, video_source, info)
        tracks = [video_track.copy_packets(info, frames, stream, done, cancel)]
    elif isinstance(cut, SmartCut):
        stream = add_smart_cut_stream(output, video_source, info)
        crf, preset = settings.crf, settings.preset
        tracks = [smart_cut_packets(info, frames, cut, stream, crf, preset, done, cancel)]
    else:
        stream = video_track.add_encode_stream(output, video_source, info, settings.crf, settings.preset)
        tracks = [video_track.encode_packets(info, frames, stream, done, cancel)]
    if not source.streams.audio:
        return tracks, None
    audio_source = source.streams.audio[0]
    # The file's own clock: frame times are measured from its start time.
    start_s, end_s = frames.start_s + info.frames.start_s, frames.end_s + info.frames.start_s
    if not reencode and audio_track.can_copy(audio_source):
        stream = audio_track.add_copy_stream(output, audio_source)
        tracks.append(audio_track.copy_packets(info.path, start_s, end_s, stream, cancel))
        return tracks, "copy"
    stream = audio_track.add_encode_stream(output, audio_source, settings.audio_bitrate)
    tracks.append(audio_track.encode_packets(info.path, start_s, end_s, stream, cancel))
    return tracks, "encode"


def _decode_time(packet: av.Packet):
    """When the muxer needs the packet, for interleaving the tracks (exact: a Fraction)."""
    return (packet.dts if packet.dts is not None else packet.pts) * packet.time_base


def _require_whole(name: str, value: object, limits: tuple[int, int], meaning: str, advice: str) -> None:
    low, high = limits
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ExportError(
            f"{name} must be a whole number from {low} to {high} ({meaning}), not {value!r}. {advice}."
        )
