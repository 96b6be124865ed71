"""One timeline lane per tracked object: the runs of frames where it shows, in its colour.

A lane is named by the object's id and name, so a rename replaces its lane; a click on a lane seeks
there like anywhere on the timeline.
"""

from __future__ import annotations

from app.timeline import Timeline
from app.tracking_controller import TrackingController


class ObjectLanes:
    def __init__(self, timeline: Timeline, controller: TrackingController) -> None:
        self.timeline, self.controller = timeline, controller
        self.lanes: dict[int, str] = {}  # object id -> its lane's name
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
        for obj in c.objects():
            starts, ends = c.presence(obj.obj_id)
            self.timeline.set_spans(wanted[obj.obj_id], starts, ends, colors=obj.color)
            self.lanes[obj.obj_id] = wanted[obj.obj_id]
