"""The timeline's lanes, top to bottom under the thumbnail strip: what each holds, its colour, where it is
drawn, and what a point in it hits.

    stack = LaneStack()
    stack.put_spans("Moments", [1.0, 8.0], [4.0, 9.5])      # a new lane takes the next palette colour
    stack.rect("Moments", top=74, width=900)                # QRect(0, 74, 900, 22), its header included
    stack.span_at("Moments", 2.0, slack_s=0.1)              # (0, None): the first span's body

The Timeline widget owns one and turns mouse positions into times; this module knows nothing of views.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QRect
from PySide6.QtGui import QColor

from app.timeline_lanes import HeatLane, SpanLane
from app.timeline_paint import LANE_COLORS, ROW, lane_height
from engine.timecode import format_timecode


class LaneStack:
    def __init__(self) -> None:
        self.lanes: dict[str, SpanLane | HeatLane] = {}  # in drawing order, top first
        self.editable: set[str] = set()  # lanes whose spans are clicked and whose edges are dragged
        self._colors_used = 0

    def put_spans(
        self,
        name: str,
        starts: Sequence[float] | np.ndarray,
        ends: Sequence[float] | np.ndarray,
        colors: QColor | str | Sequence[QColor | str] | None = None,
        scores: Sequence[float] | np.ndarray | None = None,
        labels: Sequence[str] | None = None,
    ) -> None:
        """Replace `name`'s spans (a new lane goes at the bottom); a lane keeps its colour when refilled."""
        old = self.lanes.get(name)
        if isinstance(old, SpanLane):
            default = old.color
        else:
            default = QColor(LANE_COLORS[self._colors_used % len(LANE_COLORS)])
            self._colors_used += 1
        self.lanes[name] = SpanLane(name, starts, ends, colors, scores, labels, default, ROW)

    def put_heat(self, lane: HeatLane, duration_s: float) -> None:
        lane.build(duration_s)
        self.lanes[lane.name] = lane

    def rebuild_heat(self, duration_s: float) -> None:
        """The video's length changed: heat strips are images over the whole video."""
        for lane in self.lanes.values():
            if isinstance(lane, HeatLane):
                lane.build(duration_s)

    def remove(self, name: str) -> bool:
        return self.lanes.pop(name, None) is not None

    def height(self) -> int:
        return sum(map(lane_height, self.lanes.values()))

    def rect(self, name: str, top: int, width: int) -> QRect:
        """Where lane `name` is drawn when the first lane starts at `top` (header included)."""
        y = top
        for other, item in self.lanes.items():
            if other == name:
                return QRect(0, y, width, lane_height(item))
            y += lane_height(item)
        raise KeyError(name)

    def at(self, y: float, top: int) -> str | None:
        """The lane drawn at height `y`, if any."""
        row = top
        for name, item in self.lanes.items():
            if row <= y < row + lane_height(item):
                return name
            row += lane_height(item)
        return None

    def span_at(self, name: str, time_s: float, slack_s: float) -> tuple[int, str | None] | None:
        """What a press at `time_s` grabs in editable lane `name`: (span index as given to `put_spans`,
        "start"/"end" for an edge within `slack_s`, None for the span's body), or None."""
        lane = self.lanes.get(name)
        if name not in self.editable or not isinstance(lane, SpanLane):
            return None
        edge = lane.edge_at(time_s, slack_s)
        if edge is not None:
            return int(lane.order[edge[0]]), edge[1]
        found = lane.span_at(time_s, 0.0)
        return None if found is None else (int(lane.order[found]), None)

    def describe(self, name: str | None, time_s: float, slack_s: float) -> list[str]:
        """What hovering over lane `name` at `time_s` tells: the span's label and score, and its times."""
        lane = self.lanes.get(name) if name is not None else None
        if not isinstance(lane, SpanLane):
            return []
        found = lane.span_at(time_s, slack_s)
        if found is None:
            return []
        label = lane.labels[found] if lane.labels is not None else lane.name
        score = f"  score {lane.scores[found]:.2f}" if lane.scores is not None else ""
        return [
            f"{label}{score}",
            f"{format_timecode(lane.starts[found])} – {format_timecode(lane.ends[found])}",
        ]
