"""One timeline lane per tracked object: the runs of frames where it shows, in its colour.

A lane is named by the object's id and name, so a rename replaces its lane; a click on a lane seeks
there like anywhere on the timeline.
"""

from __future__ import annotations

import numpy as np

from app.timeline import Timeline
from app.tracking_controller import TrackingController


class ObjectLanes:
    def __init__(self, timeline: Timeline, controller: TrackingController) -> None:
        self.timeline, self.controller = timeline, controller
        self.lanes: dict[int, str] = {}  # object id -> its lane's name
        self.shown: dict[int, tuple] = {}  # object id -> (starts, ends, colour) the lane shows
        controller.presence_changed.connect(self.refresh)

    def refresh(self) -> None:
        c = self.controller
        if c.info is None:
            return
        wanted = {o.obj_id: f"{o.obj_id} {o.name}" for o in c.objects()}
        for obj_id, lane in list(self.lanes.items()):
            if wanted.get(obj_id) != lane:
                self.timeline.remove_lane(lane)
                del self.lanes[obj_id]
                self.shown.pop(obj_id, None)
        for obj in c.objects():
            shown = (*c.presence(obj.obj_id), obj.color)
            if self.lanes.get(obj.obj_id) != wanted[obj.obj_id] or not _same(
                self.shown.get(obj.obj_id), shown
            ):
                self.timeline.set_spans(wanted[obj.obj_id], shown[0], shown[1], colors=obj.color)
            self.lanes[obj.obj_id], self.shown[obj.obj_id] = wanted[obj.obj_id], shown


def _same(a: tuple | None, b: tuple) -> bool:
    """The same spans in the same colour (a lane is only redrawn when what it shows changed)."""
    return a is not None and a[2] == b[2] and np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
