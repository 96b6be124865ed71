"""Which frames to show the model: the reference InternVideo2.5 rules, and the paper's adaptive rule.

The reference (`get_index` and `get_num_frames_by_duration` of the published model card) picks the
midpoint of N equal segments of frame indices. `reference_frame_indices` is that code, rule for rule,
including its `round(seconds * fps)` bounds, so that it reproduces the published indices. On real files
`sample_frames` takes the bounds of a time range from the true timestamps instead, which agrees with the
reference on constant-frame-rate video and stays right on variable-frame-rate video. Unlike the
reference, it never asks for more frames than the range holds: 128 segments of a 40-frame clip would
show each frame three times or more, costing vision passes and context for nothing, so the count stops
at the range's frames (in whole groups). Only the reference duration rule keeps its repeats.

The model merges tokens over groups of 4 frames (HiCo), so every count handed to it is a multiple of 4.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from engine.video.frame_table import FrameTable

GROUP = 4  # frames per HiCo merge group
MIN_DURATION_FRAMES, MAX_DURATION_FRAMES = 128, 512  # clamp of the reference duration rule
DENSE_FPS, SPARSE_FPS = 15.0, 1.0  # adaptive rule: densest for short clips, sparsest for long ones
SHORT_CLIP_S, LONG_CLIP_S = 30.0, 600.0  # adaptive rule: at most this long is short, at least this is long
DEFAULT_BUDGET = 512  # most frames the adaptive rule asks for
DEFAULT_FRAMES = 128  # the model card's load_video(num_segments=128)
MAX_FPS = 1000.0  # highest sampling rate accepted (rates above a video's own give all its frames anyway)


def segment_midpoints(start_idx: int, end_idx: int, count: int) -> np.ndarray:
    """[count] int64: the reference spacing, midpoints of `count` equal segments of [start_idx, end_idx].

    `np.round` rounds halves to even, as the reference does.
    """
    seg = float(end_idx - start_idx) / count
    return np.array([int(start_idx + seg / 2 + np.round(seg * i)) for i in range(count)], dtype=np.int64)


def reference_frame_indices(
    num_segments: int,
    fps: float,
    max_frame: int,
    bound: tuple[float, float] | None = None,
    first_idx: int = 0,
) -> np.ndarray:
    """The published `get_index(bound, fps, max_frame, first_idx, num_segments)`, exactly.

    `max_frame` is the last frame index (frame count - 1) and `bound` a (start, end) range in seconds.
    """
    start, end = bound if bound is not None else (-100000, 100000)
    start_idx = max(first_idx, round(start * fps))
    end_idx = min(round(end * fps), max_frame)
    return segment_midpoints(start_idx, end_idx, num_segments)


def num_frames_by_duration(duration_s: float) -> int:
    """The published `get_num_frames_by_duration`: 4 * floor(duration / 4), clamped to 128..512."""
    groups = int(duration_s // GROUP)
    frames = GROUP if groups == 0 else GROUP * groups
    return max(MIN_DURATION_FRAMES, min(frames, MAX_DURATION_FRAMES))


def adaptive_frame_count(duration_s: float, budget: int = DEFAULT_BUDGET) -> int:
    """The paper's adaptive rule: dense sampling for short clips, sparse for long ones, within a budget.

    Up to `SHORT_CLIP_S` seconds the rate is `DENSE_FPS`; from `LONG_CLIP_S` on it is `SPARSE_FPS`; in
    between it falls geometrically. The count is then capped by `budget` (in frames) and rounded down
    to whole groups of 4, never below one group.
    """
    if duration_s <= SHORT_CLIP_S:
        rate = DENSE_FPS
    elif duration_s >= LONG_CLIP_S:
        rate = SPARSE_FPS
    else:
        t = math.log(duration_s / SHORT_CLIP_S) / math.log(LONG_CLIP_S / SHORT_CLIP_S)
        rate = DENSE_FPS * (SPARSE_FPS / DENSE_FPS) ** t
    frames = min(duration_s * rate, float(budget))
    return max(GROUP, int(frames // GROUP) * GROUP)


def round_to_groups(count: int) -> int:
    """The nearest multiple of 4 frames at or above `count` (the model takes whole groups)."""
    return max(GROUP, math.ceil(count / GROUP) * GROUP)


@dataclass(frozen=True)
class Sampling:
    """How to choose frames. Also the cache key of the visual tokens computed from them."""

    mode: Literal["frames", "fps", "auto", "duration"]
    value: float = 0.0  # frames for "frames", frames per second for "fps", budget for "auto"
    start_s: float | None = None
    end_s: float | None = None

    def key(self) -> str:
        return f"{self.mode}:{self.value:g}:{self.start_s}:{self.end_s}"

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "value": self.value, "start_s": self.start_s, "end_s": self.end_s}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Sampling:
        start, end = data.get("start_s"), data.get("end_s")
        return cls(
            mode=data["mode"],
            value=float(data.get("value", 0.0)),
            start_s=None if start is None else float(start),
            end_s=None if end is None else float(end),
        )


@dataclass(frozen=True)
class SampledFrames:
    """The chosen frames: presentation-order indices (sorted; repeated only on ranges of fewer than 5
    frames, where one group of 4 needs them, or by the reference duration rule) and their times."""

    indices: np.ndarray  # [N] int64
    times_s: np.ndarray  # [N] float64, true presentation times
    sampling: Sampling

    def __len__(self) -> int:
        return len(self.indices)

    def to_list(self) -> list[dict[str, float]]:
        return [
            {"index": int(i), "time_s": round(float(t), 6)}
            for i, t in zip(self.indices, self.times_s, strict=True)
        ]

    @classmethod
    def from_list(cls, items: list[dict[str, float]], sampling: Sampling) -> SampledFrames:
        """The inverse of `to_list` (times to the microsecond), given the sampling."""
        return cls(
            indices=np.array([f["index"] for f in items], dtype=np.int64),
            times_s=np.array([f["time_s"] for f in items], dtype=np.float64),
            sampling=sampling,
        )

    def to_dict(self) -> dict[str, Any]:
        """Exact plain form (times unrounded), with the sampling that chose the frames."""
        return {
            "indices": self.indices.tolist(),
            "times_s": self.times_s.tolist(),
            "sampling": self.sampling.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SampledFrames:
        return cls(
            indices=np.asarray(data["indices"], dtype=np.int64),
            times_s=np.asarray(data["times_s"], dtype=np.float64),
            sampling=Sampling.from_dict(data["sampling"]),
        )


def sample_frames(table: FrameTable, sampling: Sampling) -> SampledFrames:
    """Choose frames of a video by `sampling`. The count is always a whole number of groups of 4, and
    (but for the reference duration rule) at most the frames the range holds."""
    start_idx, end_idx, start_s, end_s = _range_bounds(table, sampling)
    duration = end_s - start_s
    most = max(GROUP, (end_idx - start_idx + 1) // GROUP * GROUP)  # frames of the range, whole groups
    if sampling.mode == "frames":
        # Segment midpoints are distinct only while segments are at least one frame apart: at most as many
        # as the range has gaps between frames (100 midpoints of 100 frames would show some twice).
        spaced = max(GROUP, (end_idx - start_idx) // GROUP * GROUP)
        indices = segment_midpoints(start_idx, end_idx, min(round_to_groups(int(sampling.value)), spaced))
    elif sampling.mode == "duration":
        if sampling.start_s is None and sampling.end_s is None:
            duration = (table.frame_count - 1) / table.average_fps  # the reference's max_frame / fps
        indices = segment_midpoints(start_idx, end_idx, num_frames_by_duration(duration))
    elif sampling.mode in ("fps", "auto"):
        if sampling.mode == "fps":
            if not 0 < sampling.value <= MAX_FPS:
                rate = sampling.value
                raise ValueError(f"frames per second must be above 0 and at most {MAX_FPS:g}, not {rate}")
            count = round_to_groups(round(duration * sampling.value))
        else:
            count = adaptive_frame_count(duration, int(sampling.value) or DEFAULT_BUDGET)
        indices = _time_midpoints(table, start_s, end_s, min(count, most))
    else:
        raise ValueError(f"unknown sampling mode {sampling.mode!r}")
    return SampledFrames(indices=indices, times_s=table.times_s[indices], sampling=sampling)


def sampled_range_s(table: FrameTable, sampling: Sampling) -> tuple[float, float]:
    """Start and end in seconds of the part of the video `sampling` chooses from (ValueError if empty)."""
    video_end = table.duration_s
    start_s = 0.0 if sampling.start_s is None else max(0.0, sampling.start_s)
    end_s = video_end if sampling.end_s is None else min(video_end, sampling.end_s)
    if end_s <= start_s:
        raise ValueError(
            f"the range {start_s:.3f}-{end_s:.3f} s is empty (the video lasts {video_end:.3f} s)"
        )
    return start_s, end_s


def _range_bounds(table: FrameTable, sampling: Sampling) -> tuple[int, int, float, float]:
    """First and last frame index of the range, and its start and end in seconds."""
    start_s, end_s = sampled_range_s(table, sampling)
    start_idx = table.nearest_index(start_s) if sampling.start_s is not None else 0
    last = table.frame_count - 1
    end_idx = min(table.nearest_index(end_s), last) if sampling.end_s is not None else last
    return start_idx, max(start_idx, end_idx), start_s, end_s


def _time_midpoints(table: FrameTable, start_s: float, end_s: float, count: int) -> np.ndarray:
    """[count] the frames on screen at the midpoints of `count` equal time segments."""
    step = (end_s - start_s) / count
    return np.array([table.index_at(start_s + step * (i + 0.5)) for i in range(count)], dtype=np.int64)
