"""The frame table: every frame of a video stream, in presentation order, with its true timestamp.

Frame index `i` means the i-th frame shown, as a player shows them, and `time_s` is its presentation
time in seconds from the start of the file (the clock Qt's player and ffmpeg's `-ss` use). The table
comes from one pass over the packets (no decoding), so it is exact on variable-frame-rate footage
where `index / fps` is not.
"""

from __future__ import annotations

import bisect
import functools
import io
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av
import numpy as np

# A frame whose duration differs from the typical one by more than this is a frame-rate change.
# One tick of slack absorbs timestamps rounded to a coarse time base (e.g. milliseconds at 29.97 fps).
_VFR_RELATIVE_TOLERANCE = 0.01
# Times typed by people or reported by Qt come in whole microseconds: half of one still names the frame.
_SLACK_S = 5e-7


@dataclass(frozen=True, eq=False)
class FrameTable:
    """Timestamps and keyframes of one video stream, indexed by presentation order."""

    pts: np.ndarray  # [F] int64, stream time-base ticks, strictly increasing
    keyframe: np.ndarray  # [F] bool, the frame's packet is a keyframe (decoding can start there)
    decode_pos: np.ndarray  # [F] int64, ordinal of the frame's packet in decode (file) order
    end_pts: int  # where the last frame stops being shown, in ticks
    packet_count: int  # packets of the stream in the file, shown or not (edit lists can hide some)
    time_base: Fraction
    start_s: float  # the file's start time; times are measured from it
    exact: bool  # False: the container had no usable timestamps and times were spaced evenly

    @property
    def frame_count(self) -> int:
        return len(self.pts)

    @functools.cached_property
    def times_s(self) -> np.ndarray:
        """[F] float64 presentation time of each frame, seconds from the start of the file."""
        return self.pts.astype(np.float64) * float(self.time_base) - self.start_s

    @property
    def duration_s(self) -> float:
        """From the file's start to the end of the last frame."""
        return float(self.end_pts * self.time_base) - self.start_s

    @functools.cached_property
    def _times_list(self) -> list[float]:
        return self.times_s.tolist()

    def time_of(self, index: int) -> float:
        return self._times_list[index]

    def index_at(self, time_s: float) -> int:
        """The frame on screen at `time_s`: the last one whose time is at or before it (clamped)."""
        i = bisect.bisect_right(self._times_list, time_s + _SLACK_S) - 1
        return min(max(i, 0), self.frame_count - 1)

    def nearest_index(self, time_s: float) -> int:
        """The frame whose timestamp is closest to `time_s` (the earlier one on a tie)."""
        times = self._times_list
        i = bisect.bisect_left(times, time_s)
        if i == 0:
            return 0
        if i == len(times):
            return len(times) - 1
        return i if times[i] - time_s < time_s - times[i - 1] else i - 1

    def frames_in(self, start_s: float | None = None, end_s: float | None = None) -> tuple[int, int]:
        """First and last frame of the time range [start_s, end_s) (None: the video's start / end).

        The one rule for "the frames of a range", used by clips, burn-in and tracking alike: every
        frame whose presentation time lies in [start_s, end_s), and at least the frame on screen at
        start_s. Times outside the video are clamped to it; a range after the last frame, or empty,
        raises ValueError. Two ranges that meet at a time share no frame.
        """
        start = 0.0 if start_s is None else start_s
        end = self.duration_s if end_s is None else end_s
        if start >= self.duration_s or end <= max(start, 0.0):
            raise ValueError(f"the range {start:.3f}..{end:.3f} s holds no frame of the video")
        times = self._times_list
        first = bisect.bisect_left(times, start - _SLACK_S)
        stop = bisect.bisect_left(times, end - _SLACK_S)  # the first frame at or after the end
        if stop <= first:  # no frame starts inside the range: the one on screen at its start
            first = self.index_at(start)
            stop = first + 1
        return first, stop - 1

    @functools.cached_property
    def seek_keyframe(self) -> np.ndarray:
        """[F] int64: for each frame, the index of the keyframe to start decoding from.

        The last keyframe shown at or before the frame. Decoding from there reaches the frame even in
        open-GOP streams, whose leading frames are shown before their keyframe but need the one before.
        """
        marks = np.where(self.keyframe, np.arange(self.frame_count), -1)
        first = np.maximum.accumulate(marks)
        # Frames shown before the first keyframe (broken files) can only be reached from the start.
        return np.where(first < 0, 0, first)

    @functools.cached_property
    def frame_durations(self) -> np.ndarray:
        """[F] float64 seconds each frame stays on screen."""
        edges = np.append(self.pts, self.end_pts).astype(np.float64)
        return np.diff(edges) * float(self.time_base)

    @functools.cached_property
    def is_vfr(self) -> bool:
        """True when frame durations vary: then `index / fps` drifts from the real times."""
        if self.frame_count < 3:
            return False
        deltas = np.diff(self.pts)
        typical = float(np.median(deltas))
        slack = max(1.0, typical * _VFR_RELATIVE_TOLERANCE)
        return bool(np.any(np.abs(deltas - typical) > slack))

    def to_bytes(self, key: str = "") -> bytes:
        """Serialize for the on-disk cache (numpy .npz, no pickle); `key` says what the table is of."""
        buf = io.BytesIO()
        np.savez(
            buf,
            key=np.array(key),
            pts=self.pts,
            keyframe=self.keyframe,
            decode_pos=self.decode_pos,
            scalars=np.array(
                [self.end_pts, self.packet_count, self.time_base.numerator, self.time_base.denominator],
                dtype=np.int64,
            ),
            start_s=np.array(self.start_s, dtype=np.float64),
            exact=np.array(self.exact),
        )
        return buf.getvalue()

    def to_dict(self) -> dict[str, Any]:
        """Plain data (lists of ints), exact: what the worker sends a window that draws frames by time."""
        return {
            "pts": self.pts.tolist(),
            "keyframe": self.keyframe.astype(bool).tolist(),
            "decode_pos": self.decode_pos.tolist(),
            "end_pts": int(self.end_pts),
            "packet_count": int(self.packet_count),
            "time_base": [self.time_base.numerator, self.time_base.denominator],
            "start_s": self.start_s,
            "exact": self.exact,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FrameTable:
        num, den = data["time_base"]
        return cls(
            pts=np.asarray(data["pts"], dtype=np.int64),
            keyframe=np.asarray(data["keyframe"], dtype=bool),
            decode_pos=np.asarray(data["decode_pos"], dtype=np.int64),
            end_pts=int(data["end_pts"]),
            packet_count=int(data["packet_count"]),
            time_base=Fraction(int(num), int(den)),
            start_s=float(data["start_s"]),
            exact=bool(data["exact"]),
        )

    @classmethod
    def from_bytes(cls, data: bytes, key: str = "") -> FrameTable:
        """The table `to_bytes(key)` wrote. ValueError for anything else: bytes written for another key,
        damaged, or a table that breaks a rule everything downstream relies on (`problem`)."""
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            if str(z["key"]) != key:
                raise ValueError(f"it is the table of {str(z['key'])!r}, not of {key!r}")
            scalars, start_s, exact = z["scalars"], z["start_s"], z["exact"]
            if scalars.dtype != np.int64 or scalars.shape != (4,) or start_s.shape or exact.shape:
                raise ValueError("its scalars are malformed")
            end_pts, packet_count, num, den = (int(x) for x in scalars)
            if num <= 0 or den <= 0:
                raise ValueError(f"its time base {num}/{den} is not positive")
            table = cls(
                pts=z["pts"],
                keyframe=z["keyframe"],
                decode_pos=z["decode_pos"],
                end_pts=end_pts,
                packet_count=packet_count,
                time_base=Fraction(num, den),
                start_s=float(start_s),
                exact=bool(exact),
            )
        problem = table.problem()
        if problem:
            raise ValueError(problem)
        return table

    def problem(self) -> str:
        """What is wrong with the table ("" when nothing): arrays of one length and type, times strictly
        increasing and finite, the last frame ending after it starts, each packet used once."""
        n = self.frame_count
        if (self.pts.dtype, self.keyframe.dtype, self.decode_pos.dtype) != (np.int64, np.bool_, np.int64):
            return f"its arrays have types {self.pts.dtype}, {self.keyframe.dtype}, {self.decode_pos.dtype}"
        if self.pts.shape != (n,) or self.keyframe.shape != (n,) or self.decode_pos.shape != (n,):
            return f"its arrays have shapes {self.pts.shape}, {self.keyframe.shape}, {self.decode_pos.shape}"
        if n and not (np.all(np.diff(self.pts) > 0) and self.end_pts > self.pts[-1]):
            return "its frame times do not increase"
        if not math.isfinite(self.start_s):
            return f"its start time {self.start_s} is not a number"
        packets_fit = n == 0 or (self.decode_pos.min() >= 0 and self.decode_pos.max() < self.packet_count)
        if n > self.packet_count or not packets_fit:
            return f"its {n} frames do not fit its {self.packet_count} packets"
        if len(np.unique(self.decode_pos)) != n:
            return "two frames share a packet"
        return ""

    @property
    def average_fps(self) -> float:
        if self.frame_count < 2 or self.duration_s <= 0:
            return 0.0
        return self.frame_count / float((self.end_pts - self.pts[0]) * self.time_base)


def read_frame_table(container: av.container.InputContainer, stream: av.video.VideoStream) -> FrameTable:
    """Demux every packet of `stream` (no decoding) and build its frame table.

    Stops quietly at the first unreadable packet of a damaged file: the table then holds the frames
    before the damage, which is what can be decoded.
    """
    # pts, dts, keyframe, decode position, duration, corrupt
    shown: list[tuple[int | None, int | None, bool, int, int, bool]] = []
    packet_count = 0
    try:
        for packet in container.demux(stream):
            if packet.size == 0:
                continue
            if not packet.is_discard:  # discarded packets (edit-list pre-roll) are decoded, never shown
                shown.append(
                    (
                        packet.pts,
                        packet.dts,
                        packet.is_keyframe,
                        packet_count,
                        packet.duration or 0,
                        packet.is_corrupt,
                    )
                )
            packet_count += 1
    except (av.error.InvalidDataError, av.error.EOFError, OSError):
        pass
    # A file cut off mid-packet ends with a partial, corrupt packet: it cannot be decoded.
    while shown and shown[-1][5] and shown[-1][3] == packet_count - 1:
        shown.pop()
        packet_count -= 1
    return frame_table_from_packets(container, stream, shown, packet_count)


def frame_table_from_packets(
    container: av.container.InputContainer,
    stream: av.video.VideoStream,
    shown: list[tuple[int | None, int | None, bool, int, int, bool]],
    packet_count: int,
) -> FrameTable:
    """The table of packets `shown` (pts, dts, keyframe, decode position, duration, corrupt) in file order."""
    time_base = stream.time_base or Fraction(1, 90000)
    start_s = container.start_time / 1e6 if container.start_time is not None else 0.0
    nominal_ticks = _nominal_ticks(stream, time_base)
    keyframe = np.array([p[2] for p in shown], dtype=bool)
    decode_pos = np.array([p[3] for p in shown], dtype=np.int64)

    stamps = [p[0] for p in shown]
    if None in stamps:
        stamps = [p[1] for p in shown]  # no pts: decode order is display order, dts will do
    exact = len(shown) > 0 and None not in stamps and len(set(stamps)) == len(stamps)
    if exact:
        order = np.argsort(np.array(stamps, dtype=np.int64), kind="stable")
        pts = np.array(stamps, dtype=np.int64)[order]
        keyframe, decode_pos = keyframe[order], decode_pos[order]
        last_duration = shown[order[-1]][4]
        if last_duration <= 0:
            last_duration = int(np.median(np.diff(pts))) if len(pts) > 1 else nominal_ticks
        end_pts = int(pts[-1]) + last_duration
    else:
        # Timestamps missing or repeated: frames come in file order, spaced at the nominal rate.
        first = round(start_s / float(time_base))
        pts = first + nominal_ticks * np.arange(len(shown), dtype=np.int64)
        end_pts = first + nominal_ticks * len(shown)
    return FrameTable(
        pts=pts,
        keyframe=keyframe,
        decode_pos=decode_pos,
        end_pts=end_pts,
        packet_count=packet_count,
        time_base=time_base,
        start_s=start_s,
        exact=exact,
    )


def _nominal_ticks(stream: av.video.VideoStream, time_base: Fraction) -> int:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate or Fraction(25)
    return max(1, round(1 / (rate * time_base)))
