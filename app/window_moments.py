"""The window's moments (issue 12): the Moments page, the moments and "before" lanes on the timeline,
the controller fed by the open video and the playhead, and the actions of the Moments menu.

    window.moments_handlers = wire_moments(window)   # keymap action name -> what it does

It adds `moments_page` and `moments_lane` to the window.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QInputDialog

from app.moments_lane import MomentsLane
from app.moments_page import MomentsPage

if TYPE_CHECKING:
    from app.main_window import MainWindow


def wire_moments(window: MainWindow) -> dict[str, Callable[[], object]]:
    m = window.moments
    window.moments_page = MomentsPage(m)
    window.side.set_page("Moments", window.moments_page)
    window.moments_lane = MomentsLane(m, window.timeline)
    window.video_opened.connect(
        lambda info: m.set_video(
            info, window.video_handle, window.sessions.session, window.sessions.keeper.mark_dirty
        )
    )
    window.player.position_changed.connect(lambda _index, t: m.position_changed(t))
    m.seek_requested.connect(window.player.seek)
    m.message.connect(lambda text: window.statusBar().showMessage(text, 5000))
    m.model_setup_requested.connect(window.model_setup_requested)
    m.selection_changed.connect(
        lambda span: window.tracking.set_moment_range(*((span.start_s, span.end_s) if span else (None,)))
    )

    def find() -> None:
        window.side.setCurrentWidget(window.moments_page)
        window.moments_page.focus_and_find()

    def rename() -> None:
        moment = m.selected()
        if moment is not None:
            label, ok = QInputDialog.getText(window, "Rename moment", "Label:", text=moment.span.label or "")
            if ok:
                m.rename(label)

    return {
        "find_moments": find,
        "accept_moment": lambda: m.decide("accepted"),
        "reject_moment": lambda: m.decide("rejected"),
        "next_moment": lambda: m.step(1),
        "previous_moment": lambda: m.step(-1),
        "loop_moment": m.toggle_loop,
        "mark_in": m.mark_in,
        "mark_out": m.mark_out,
        "split_moment": lambda: m.split_at(m.position_s),
        "merge_moments": m.merge_next,
        "rename_moment": rename,
        "refine_moment": lambda: m.refine_selected(window.moments_page.query.text()),
        "delete_moment": m.delete,
        "undo": m.undo.undo,
        "redo": m.undo.redo,
    }
