"""The window's tracking (issue 13): clicks in tracking mode, masks over the picture, the Objects page, a
lane per object, and the actions of the Tracking menu.

    window.tracking_handlers = wire_tracking(window)   # keymap action name -> what it does

It adds `masks` (the overlay), `objects_panel`, `object_lanes` and `track_button` to the window, and
connects them, the player and the picture to the window's `TrackingController`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QToolButton

from app.mask_overlay import MaskOverlay
from app.object_lanes import ObjectLanes
from app.objects_panel import ObjectsPanel

if TYPE_CHECKING:
    from app.main_window import MainWindow


def wire_tracking(window: MainWindow) -> dict[str, Callable[[], object]]:
    t, view, masks = window.tracking, window.view, MaskOverlay()
    window.masks = masks
    view.overlays.append(masks.paint)
    window.objects_panel = ObjectsPanel(t, masks.style)
    window.side.set_page("Objects", window.objects_panel)
    window.object_lanes = ObjectLanes(window.timeline, t)
    window.track_button = QToolButton(text="Track", checkable=True, toolTip="Tracking mode (T)")
    window.track_button.toggled.connect(t.set_mode)
    window.transport.add_tool(window.track_button)

    def objects_changed() -> None:
        masks.store = t.store
        masks.colors = {o.obj_id: QColor(o.color) for o in t.objects()}
        masks.names = {o.obj_id: o.name for o in t.objects()}
        view.update()

    def mode_changed(on: bool) -> None:
        view.draws_boxes = on
        view.setCursor(Qt.CursorShape.CrossCursor if on else Qt.CursorShape.ArrowCursor)
        window.track_button.setChecked(on)
        if on and window.sessions.session is not None:
            window.side.setCurrentWidget(window.objects_panel)

    def frame_shown(_image, index: int) -> None:
        t.frame_index = index

    # The frame playback shows next is made once this one is on screen: a prepare queued when the
    # frame arrived ran before its paint and delayed it by as much as it saved the next one. One timer,
    # so the paints of one frame (and a burst of them) ask once.
    ahead, painted_index = QTimer(window, singleShot=True, interval=0), -1

    def painted(index: int) -> None:
        nonlocal painted_index
        painted_index = index
        ahead.start()

    ahead.timeout.connect(
        lambda: masks.prepare(painted_index + (-1 if window.player.state == "reverse" else 1))
    )

    def picked(x: float, y: float, button, modifiers) -> None:
        alt = bool(modifiers & Qt.KeyboardModifier.AltModifier)
        if button in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton):
            t.click(x, y, positive=button == Qt.MouseButton.LeftButton and not alt)

    def restyle(change) -> None:
        change(masks.style)
        window.objects_panel.show_style()
        view.update()

    def track_in_selected_moment() -> None:
        span = window.moments.selected_span()
        if span is None:
            window.statusBar().showMessage("Select a moment to track in it.", 5000)
        else:
            window.track_in_moment(span.start_s, span.end_s)

    t.objects_changed.connect(objects_changed)
    t.masks_changed.connect(
        lambda frames: view.update() if frames is None or view.frame_index in frames else None
    )
    t.mode_changed.connect(mode_changed)
    t.message.connect(lambda text: window.statusBar().showMessage(text, 6000))
    t.failed.connect(lambda text: window.banner.show_message(text, "warning"))
    window.objects_panel.style_changed.connect(view.update)
    window.video_opened.connect(lambda info: t.set_video(info, window.video_handle))
    window.player.frame_shown.connect(frame_shown)
    view.painted.connect(painted)
    view.picked.connect(picked)
    view.box_drawn.connect(t.drag_box)
    return {
        "tracking_mode": lambda: t.set_mode(not t.mode),
        "new_object": t.new_object,
        **{f"pick_object_{n}": (lambda n=n: t.pick(n)) for n in range(1, 10)},
        "propagate": t.propagate,
        "propagate_whole": lambda: t.propagate(whole=True),
        "cancel_tracking": t.cancel,
        "hide_masks": lambda: restyle(lambda s: setattr(s, "hidden", not s.hidden)),
        "mask_contours": lambda: restyle(lambda s: setattr(s, "contours", not s.contours)),
        "mask_boxes": lambda: restyle(lambda s: setattr(s, "boxes", not s.boxes)),
        "mask_fainter": lambda: restyle(lambda s: setattr(s, "opacity", max(0.0, s.opacity - 0.1))),
        "mask_stronger": lambda: restyle(lambda s: setattr(s, "opacity", min(1.0, s.opacity + 0.1))),
        "track_in_moment": track_in_selected_moment,
    }
