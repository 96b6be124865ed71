"""Video files: probe them, choose frames, decode just those frames.

    info = probe("clip.mp4")                                  # VideoInfo, true per-frame timestamps
    chosen = sample_frames(info.frames, Sampling("frames", 128))
    for frame in decode_frames(info, chosen.indices, size=448):
        frame.index, frame.time_s, frame.image               # [448, 448, 3] uint8 RGB

Times are seconds of presentation time from the start of the file; frame indices count frames in
presentation order and stay inside this package and its callers' bookkeeping.
"""

from engine.video.decode import (
    DecodeStats,
    Frame,
    NativeFrame,
    decode_frames,
    decode_native_frames,
    resize_frame,
)
from engine.video.frame_table import FrameTable
from engine.video.probe import VideoInfo, main_video_stream, open_video_stream, probe
from engine.video.sampling import (
    SampledFrames,
    Sampling,
    adaptive_frame_count,
    num_frames_by_duration,
    reference_frame_indices,
    sample_frames,
    sampled_range_s,
)
from engine.video.seeking import Landing, decode_packet, seek_to_keyframe

__all__ = [
    "DecodeStats",
    "Frame",
    "FrameTable",
    "Landing",
    "NativeFrame",
    "SampledFrames",
    "Sampling",
    "VideoInfo",
    "adaptive_frame_count",
    "decode_frames",
    "decode_native_frames",
    "decode_packet",
    "main_video_stream",
    "num_frames_by_duration",
    "open_video_stream",
    "probe",
    "reference_frame_indices",
    "resize_frame",
    "sample_frames",
    "sampled_range_s",
    "seek_to_keyframe",
]
