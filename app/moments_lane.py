"""The moments on the timeline: the relevance curve as a heat strip, the moments as an editable lane.

The Moments lane draws each moment in its state's colour, the selected one highlighted, and a moment
whose edge is being dragged where the drag has put it. Clicking a moment selects it; dragging an edge
moves it (snapped to frames by the controller, one undoable edit on release). While a refined moment
waits to be kept or reverted, a "Before refine" lane shows where it was.
"""

from __future__ import annotations

from PySide6.QtCore import QObject

from app.moments import MomentsController
from app.moments_table import STATE_COLORS
from app.timeline import Timeline

MOMENTS_LANE = "Moments"
HEAT_LANE = "Relevance"
BEFORE_LANE = "Before refine"
SELECTED_COLOR = "#f5c542"
BEFORE_COLOR = "#6d7280"


class MomentsLane(QObject):
    def __init__(self, controller: MomentsController, timeline: Timeline) -> None:
        super().__init__(controller)
        self.controller, self.timeline = controller, timeline
        self.shown_ids: list[str] = []  # the lane's spans, in the order given to `set_spans`
        timeline.set_editable(MOMENTS_LANE)
        controller.changed.connect(self.draw)
        controller.curve_changed.connect(self.draw_heat)
        timeline.span_clicked.connect(self._clicked)
        timeline.span_edge_dragged.connect(self._dragged)

    def draw(self) -> None:
        controller, timeline = self.controller, self.timeline
        preview = controller.preview
        moments = [preview if preview is not None and m.id == preview.id else m for m in controller.moments]
        self.shown_ids = [m.id for m in moments]
        if not moments:
            timeline.remove_lane(MOMENTS_LANE)
        else:
            timeline.set_spans(
                MOMENTS_LANE,
                [m.span.start_s for m in moments],
                [m.span.end_s for m in moments],
                colors=[
                    SELECTED_COLOR if m.id == controller.selected_id else STATE_COLORS[m.state]
                    for m in moments
                ],
                labels=[_label(m) for m in moments],
            )
        before = controller.refine_before
        if before is None:
            timeline.remove_lane(BEFORE_LANE)
        else:
            timeline.set_spans(BEFORE_LANE, [before.span.start_s], [before.span.end_s], colors=BEFORE_COLOR)

    def draw_heat(self) -> None:
        starts, ends, scores = self.controller.curve
        if len(starts) == 0:
            self.timeline.remove_lane(HEAT_LANE)
            return
        if HEAT_LANE not in self.timeline.lanes():  # the curve goes above the moments it leads to
            for lane in (MOMENTS_LANE, BEFORE_LANE):
                self.timeline.remove_lane(lane)
        self.timeline.set_heat(HEAT_LANE, starts, ends, scores)
        if MOMENTS_LANE not in self.timeline.lanes():
            self.draw()

    def _clicked(self, lane: str, index: int) -> None:
        if lane == MOMENTS_LANE and 0 <= index < len(self.shown_ids):
            self.controller.select(self.shown_ids[index])

    def _dragged(self, lane: str, index: int, edge: str, seconds: float, released: bool) -> None:
        if lane == MOMENTS_LANE and 0 <= index < len(self.shown_ids):
            self.controller.drag_edge(self.shown_ids[index], edge, seconds, released)


def _label(moment) -> str:
    span = moment.span
    name = span.label or span.query or "moment"
    score = "" if span.score is None else f"  score {span.score:.2f}"
    return f"{name} · {moment.state}{score}"
