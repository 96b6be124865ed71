"""Which frames a clip holds, and whether its packets can be copied as they are.

The rule: a clip of [start_s, end_s) holds every frame whose presentation time lies in
[start_s, end_s), and at least the frame on screen at start_s. So it begins at the first frame shown
at or after start_s and stops before the first frame shown at or after end_s. Its duration (from its
first frame to the end of its last) differs from end_s - start_s by less than one frame, the longer
of the two on screen at the cut points, on constant and variable frame rate alike; and two clips
that meet at a time share no frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.video import FrameTable


@dataclass(frozen=True)
class FrameRange:
    """Frames first..last (presentation order, inclusive) and the time they cover in the source."""

    first: int
    last: int
    start_s: float  # presentation time of the first frame
    end_s: float  # when the last frame stops being shown

    @property
    def frame_count(self) -> int:
        return self.last - self.first + 1

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


def frame_range(table: FrameTable, start_s: float, end_s: float) -> FrameRange:
    """The frames of [start_s, end_s) by the rule above (`FrameTable.frames_in`), clamped to the video.

    Raises ValueError when the range lies wholly after the video's last frame.
    """
    first, last = table.frames_in(start_s, end_s)
    end = table.time_of(last + 1) if last + 1 < table.frame_count else table.duration_s
    return FrameRange(first=first, last=last, start_s=table.time_of(first), end_s=end)


def packets_copyable(table: FrameTable, frames: FrameRange) -> bool:
    """True when the packets of exactly these frames form one clean run that decodes on its own.

    Needs: the first frame is a keyframe, and the frames' packets occupy consecutive decode
    positions starting at that keyframe's. Then the run holds no frame from outside the range
    (no B-frame shown before the keyframe that needs the previous GOP, no reference frame shown after
    the last frame, no hidden edit-list packet), and every frame in it is decoded from packets in it.
    The caller still checks that the keyframe is an IDR picture (`h264.is_idr`): only then do the
    frames after it never reach back before it.
    """
    if not table.exact or not table.keyframe[frames.first]:
        return False
    return clean_run_end(table, frames.first, frames.last) == frames.last


def clean_run_end(table: FrameTable, first: int, last: int) -> int:
    """The last frame j in first..last whose frames first..j occupy consecutive decode positions from first's.

    With a keyframe at `first`, frames first..j then form a clean run as `packets_copyable` asks.
    """
    positions = table.decode_pos[first : last + 1]  # [N] int64, all different
    steps = np.arange(len(positions))
    clean = (np.minimum.accumulate(positions) == positions[0]) & (
        np.maximum.accumulate(positions) == positions[0] + steps
    )
    return first + int(np.flatnonzero(clean)[-1])
