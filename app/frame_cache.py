"""Decoded frames around the playhead, bounded in bytes.

When full, the cache drops the frame farthest from the playhead, counting frames behind the direction
of travel as `BEHIND_WEIGHT` times farther: those are the frames the user is moving away from. Plain
LRU would be wrong here: refilling the frames below the playhead for backward stepping decodes a whole
stretch from its keyframe, and LRU would let those far frames push out the ones next to the playhead
that were decoded earlier and are about to be shown.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from typing import Generic, TypeVar

T = TypeVar("T")

BEHIND_WEIGHT = 8


class FrameCache(Generic[T]):
    """Frames by index with their sizes; at most `limit_bytes` of them."""

    def __init__(self, limit_bytes: int) -> None:
        self.limit_bytes = limit_bytes
        self.bytes = 0
        self.largest_frame_bytes = 0  # the biggest frame offered so far: sizes the prefetch window
        self._frames: dict[int, tuple[T, int]] = {}
        self._indices: list[int] = []  # sorted: the farthest frame is always the first or the last
        self._playhead = 0
        self._direction = 1

    def __len__(self) -> int:
        return len(self._frames)

    def __contains__(self, index: int) -> bool:
        return index in self._frames

    def get(self, index: int) -> T | None:
        entry = self._frames.get(index)
        return entry[0] if entry else None

    def indices(self) -> list[int]:
        return list(self._indices)

    def focus(self, playhead: int, direction: int) -> None:
        """Where the user is and which way (+1 forward, -1 backward) they are stepping."""
        self._playhead = playhead
        self._direction = 1 if direction >= 0 else -1

    def distance(self, index: int) -> int:
        """How far `index` is from the playhead, frames behind the direction of travel weighted."""
        ahead = (index - self._playhead) * self._direction
        return ahead if ahead >= 0 else -ahead * BEHIND_WEIGHT

    def would_keep(self, index: int, size: int) -> bool:
        """Whether `put(index, ..., size)` would keep the frame."""
        if size > self.limit_bytes:
            return False
        free = self.limit_bytes - self.bytes
        if size <= free:
            return True
        # Room is made only from frames farther than this one, farthest first.
        distance = self.distance(index)
        for i in self._farthest_first():
            if self.distance(i) <= distance:
                return False
            free += self._frames[i][1]
            if size <= free:
                return True
        return False

    def put(self, index: int, frame: T, size: int) -> bool:
        """Store `frame`; drop farther frames to make room. False (and nothing dropped) if it is not kept."""
        self.largest_frame_bytes = max(self.largest_frame_bytes, size)
        if index in self._frames:
            return True
        if not self.would_keep(index, size):
            return False
        while self.bytes + size > self.limit_bytes:
            self._drop(self._farthest())
        self._frames[index] = (frame, size)
        bisect.insort(self._indices, index)
        self.bytes += size
        return True

    def clear(self) -> None:
        self._frames.clear()
        self._indices.clear()
        self.bytes = 0

    def capacity_frames(self) -> int:
        """About how many frames fit (0 until a frame was offered)."""
        return self.limit_bytes // self.largest_frame_bytes if self.largest_frame_bytes else 0

    def _farthest(self) -> int:
        return next(self._farthest_first())

    def _farthest_first(self) -> Iterator[int]:
        """Cached indices, farthest first: distance grows away from the playhead on either side."""
        lo, hi = 0, len(self._indices) - 1
        while lo <= hi:
            if self.distance(self._indices[lo]) > self.distance(self._indices[hi]):
                yield self._indices[lo]
                lo += 1
            else:
                yield self._indices[hi]
                hi -= 1

    def _drop(self, index: int) -> None:
        _, size = self._frames.pop(index)
        del self._indices[bisect.bisect_left(self._indices, index)]
        self.bytes -= size
