"""The moments of the open video: the list, the selection, every edit with undo, and finding them.

    controller = MomentsController(window.worker, window.player, frame_budget=lambda: 128)
    controller.set_video(info, handle, session, mark_dirty)   # the session's moments, no model run
    controller.find("a white van stops at the gate")          # ground: curve partials, then moments
    controller.split_at(controller.position_s); controller.undo.undo()

Moments are immutable (`app/moment.py`) and kept in time order; every edit replaces the list, and the
undo stack keeps (moments, selection) before and after each one, so undo is exact whatever the edit.
Each change is written to the session (`session.moments`) and marked for saving. Finding runs the
worker's `ground`; its "curve" partials grow `curve` as the scan goes (the timeline's heat strip), which
the session keeps when the search ends (`session.relevance`; what came of a cancelled one too), so a
reopen shows it without the model. The spans found become undecided moments with their provenance
(query, model, sampling), replacing the undecided moments an earlier search for the same query found
(a span that is mostly a moment already accepted or rejected for that query is left out: the analyst
decided it). Refine asks the worker's `refine_span` for the selected moment and keeps the moment as it
was (`refine_before`) until the analyst keeps or reverts the new extent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from app.moment import Moment
from app.moment_edits import FrameGrid, in_time_order, merged, moved_edge, split
from app.relevance import Relevance
from app.session import Session
from app.worker_client import Call
from engine.grounding.spans import NMS_IOU, iou
from engine.spans import Span
from engine.timecode import format_timecode
from engine.video import VideoInfo

MODEL_SETUP = "internvideo"  # what `model_setup_requested` asks to set up
NO_CURVE = (np.zeros(0), np.zeros(0), np.zeros(0))
STAGE_TEXT = {  # the worker's progress stages of ground and refine_span, counted, for the page's status
    "encode": "encoding frame {done} of {total}",
    "answer": "writing the answer, token {done} of {total}",
    "scan": "scoring window {done} of {total}",
    "refine": "refining the edges, {done} of {total}",
}


@dataclass(frozen=True)
class Scan:
    """What the search is doing, for the page: "idle", "busy" (with progress) or "error"."""

    state: str = "idle"
    message: str = ""
    fraction: float | None = None
    model_missing: bool = False  # the error is the model's: offer to set it up


class _Change(QUndoCommand):
    """One edit: the moments and selection before and after it."""

    def __init__(self, controller: MomentsController, text: str, before: tuple, after: tuple) -> None:
        super().__init__(text)
        self.controller, self.before, self.after = controller, before, after

    def redo(self) -> None:
        self.controller._restore(self.after)

    def undo(self) -> None:
        self.controller._restore(self.before)


class MomentsController(QObject):
    changed = Signal()  # the moments, the selection or the drag preview changed
    selection_changed = Signal(object)  # the selected moment's Span, or None
    curve_changed = Signal()  # the relevance curve grew or was replaced
    scan_changed = Signal(object)  # Scan
    message = Signal(str)  # a one-line note for the status bar
    seek_requested = Signal(float)
    model_setup_requested = Signal(str)  # "internvideo"

    def __init__(self, worker, player=None, frame_budget: Callable[[], int] = lambda: 128, parent=None):
        super().__init__(parent)
        self.worker, self.player, self.frame_budget = worker, player, frame_budget
        self.undo = QUndoStack(self)
        self.moments: list[Moment] = []
        self.selected_id: str | None = None
        self.preview: Moment | None = None  # a moment while its edge is dragged (not yet an edit)
        self.refine_before: Moment | None = None  # the selected moment before Refine, until kept/reverted
        self.refined_ids: tuple[str, ...] = ()
        self.curve = NO_CURVE  # starts_s, ends_s, scores
        self.scan = Scan()
        self.position_s = 0.0
        self.mark_in_s: float | None = None
        self.looping = False
        self.info: VideoInfo | None = None
        self.grid: FrameGrid | None = None
        self.handle: str | None = None
        self._session: Session | None = None
        self._mark_dirty: Callable[[], None] = lambda: None
        self._call: Call | None = None
        self._refine_call: Call | None = None
        self._busy_text = ""
        if player is not None:  # a pause (Space, a step) ends the loop: playing on is not looping
            player.state_changed.connect(lambda state: state == "playing" or self._stop_looping())

    # ----- the video and its session ----------------------------------------------------------------------
    def set_video(self, info: VideoInfo, handle: str, session: Session | None, mark_dirty=None) -> None:
        """A video was opened: its moments come from its session (no model runs), the undo stack starts."""
        self.cancel_find()
        self._call = self._refine_call = None  # what they still send is about the video before
        self.info, self.handle, self._session = info, handle, session
        self.grid = FrameGrid(info.frames.times_s, info.duration_s)
        self._mark_dirty = mark_dirty or (lambda: None)
        self.undo.clear()
        self.preview = self.refine_before = self.mark_in_s = None
        self.refined_ids = ()
        saved = session.relevance if session is not None else None
        self.curve = NO_CURVE if saved is None else (saved.starts_s, saved.ends_s, saved.scores)
        self.curve_changed.emit()
        self._restore((tuple(in_time_order(session.moments if session else [])), None), save=False)
        self._set_scan(Scan())

    # ----- what the others use ----------------------------------------------------------------------------
    def selected(self) -> Moment | None:
        return next((m for m in self.moments if m.id == self.selected_id), None)

    def selected_span(self) -> Span | None:
        moment = self.selected()
        return None if moment is None else moment.span

    def accepted_or_selected(self) -> list[Span]:
        """The accepted moments in time order; when none is accepted, the selected one (or nothing)."""
        accepted = [m.span for m in self.moments if m.state == "accepted"]
        if accepted:
            return accepted
        span = self.selected_span()
        return [] if span is None else [span]

    def add_moment(self, span: Span) -> None:
        """A moment made elsewhere (the chat's "make a moment"): added undecided and selected."""
        moment = Moment(span=span)
        self._edit("Add moment", [*self.moments, moment], moment.id)

    # ----- selection and moving between moments ----------------------------------------------------------
    def select(self, moment_id: str | None) -> None:
        if moment_id != self.selected_id:
            self.selected_id = moment_id if any(m.id == moment_id for m in self.moments) else None
            self.looping = self.looping and self.selected_id is not None
            self.changed.emit()
            self.selection_changed.emit(self.selected_span())

    def select_index(self, index: int) -> None:
        self.select(self.moments[index].id if 0 <= index < len(self.moments) else None)

    def index_of(self, moment_id: str | None) -> int:
        return next((i for i, m in enumerate(self.moments) if m.id == moment_id), -1)

    def step(self, direction: int) -> None:
        """Select the next (1) or previous (-1) moment and seek to its start, counted from the selected
        moment, else from the playhead. With none that way, nothing moves and the status bar says so."""
        current = self.selected()
        here = current.span.start_s if current is not None else self.position_s
        starts = [m.span.start_s for m in self.moments]
        if direction > 0:
            ahead = [i for i, s in enumerate(starts) if s > here + 1e-9]
        else:
            ahead = [i for i, s in enumerate(starts) if s < here - 1e-9][::-1]
        if not ahead:
            where = "the playhead" if current is None else "this one"
            self.message.emit(f"No moment {'after' if direction > 0 else 'before'} {where}.")
            return
        self.select_index(ahead[0])
        self.seek_requested.emit(self.moments[ahead[0]].span.start_s)

    def position_changed(self, seconds: float) -> None:
        """The playhead moved: I/O and split use it; a moment playing in a loop starts over at its end."""
        self.position_s = seconds
        moment = self.selected()
        playing = self.player is not None and self.player.state == "playing"
        outside = moment is not None and not moment.span.start_s - 1e-6 <= seconds < moment.span.end_s
        if self.looping and playing and outside:
            self.player.seek(moment.span.start_s)

    def toggle_loop(self) -> None:
        """Play the selected moment over and over; again (or a pause) stops."""
        moment = self.selected()
        if self.player is None or moment is None:
            self.message.emit("Select a moment to play it in a loop.")
            return
        if self.looping:
            self.looping = False
            self.player.pause()
            return
        self.looping = True
        self.player.seek(moment.span.start_s)
        self.player.play()

    def _stop_looping(self) -> None:
        self.looping = False

    # ----- edits (each one undoable) ---------------------------------------------------------------------
    def drag_edge(self, moment_id: str, edge: str, seconds: float, finished: bool) -> None:
        """An edge dragged on the timeline: previewed while the mouse moves, one edit when released."""
        moment = next((m for m in self.moments if m.id == moment_id), None)
        if moment is None or self.grid is None:
            return
        moved = moved_edge(moment, edge, seconds, self.grid)
        if not finished:
            self.preview = moved
            self.changed.emit()
            return
        self.preview = None
        if moved != moment:
            self.select(moment_id)
            self._edit(f"Move {edge}", self._replaced(moment, [moved]), moment_id)
        else:
            self.changed.emit()

    def set_edge(self, edge: str, seconds: float) -> None:
        """Move an edge of the selected moment (the list's and the tests' way to the same edit)."""
        moment = self.selected()
        if moment is not None:
            self.drag_edge(moment.id, edge, seconds, finished=True)

    def split_at(self, seconds: float) -> None:
        moment = self.selected() or self._moment_at(seconds)
        halves = None if moment is None or self.grid is None else split(moment, seconds, self.grid)
        if halves is None:
            self.message.emit("Put the playhead inside a moment to split it there.")
            return
        self._edit("Split moment", self._replaced(moment, list(halves)), halves[0].id)

    def merge_next(self) -> None:
        moment = self.selected()
        index = self.index_of(self.selected_id)
        if moment is None or index + 1 >= len(self.moments):
            self.message.emit("Select a moment that has another after it to merge them.")
            return
        following = self.moments[index + 1]
        rest = [m for m in self.moments if m.id not in (moment.id, following.id)]
        self._edit("Merge moments", [*rest, merged(moment, following)], moment.id)

    def delete(self) -> None:
        moment = self.selected()
        if moment is None:
            self.message.emit("Select a moment to delete it.")
            return
        index = self.index_of(moment.id)
        rest = [m for m in self.moments if m.id != moment.id]
        after = rest[min(index, len(rest) - 1)].id if rest else None
        self._edit("Delete moment", rest, after)

    def rename(self, label: str, moment_id: str | None = None) -> None:
        moment = next((m for m in self.moments if m.id == (moment_id or self.selected_id)), None)
        label = label.strip() or None
        if moment is not None and label != moment.span.label:
            self._edit("Rename moment", self._replaced(moment, [moment.with_span(label=label)]), moment.id)

    def decide(self, state: str) -> None:
        """Accept or reject the selected moment; the same key again makes it undecided."""
        moment = self.selected()
        if moment is None:
            self.message.emit("Select a moment to accept or reject it.")
            return
        new = "undecided" if moment.state == state else state
        text = {"accepted": "Accept", "rejected": "Reject", "undecided": "Undecide"}[new]
        self._edit(f"{text} moment", self._replaced(moment, [replace(moment, state=new)]), moment.id)

    def mark_in(self) -> None:
        self.mark_in_s = self.position_s
        self.message.emit(f"In at {format_timecode(self.position_s)}: press O at the moment's end.")
        self.changed.emit()

    def mark_out(self) -> None:
        """With an in point set (I): a new moment between it and the playhead (an out before the in is
        the moment's start, the in its end: both marks count, whichever came first)."""
        start, end = self.mark_in_s, self.position_s
        if start is None or self.grid is None:
            self.message.emit("Press I at the moment's start first, then O at its end.")
            return
        start, end = min(start, end), max(start, end)
        if end == start:
            end = self.grid.after(start)  # O on the in point's frame: a moment of that one frame
        self.mark_in_s = None
        moment = Moment(span=Span(start, end))
        self._edit("Add moment", [*self.moments, moment], moment.id)

    # ----- finding and refining --------------------------------------------------------------------------
    def find(self, query: str) -> Call | None:
        """Run `ground` for `query` over the whole video (at the frame budget of the settings)."""
        query = query.strip()
        if self.handle is None or not query:
            self.message.emit("Open a video first." if query else "Describe the moment to find first.")
            return None
        self.cancel_find()
        sampling = {"mode": "frames", "value": self.frame_budget()}
        call = self.worker.request("ground", video=self.handle, query=query, sampling=sampling)
        self._call = call
        self.curve = NO_CURVE
        self.curve_changed.emit()
        self._busy(f"Looking for “{query}”…")
        call.partial.connect(self._while_current(call, self._curve_piece))
        call.progress.connect(self._while_current(call, self._scan_progress))
        call.finished.connect(self._while_current(call, lambda data: self._found(query, sampling, data)))
        call.failed.connect(self._while_current(call, lambda error: self._find_failed(query, error)))
        return call

    def cancel_find(self) -> None:
        for call in (self._call, self._refine_call):
            if call is not None and not call.done:
                self.worker.cancel(call)

    def busy(self) -> bool:
        return any(c is not None and not c.done for c in (self._call, self._refine_call))

    def refine_selected(self, fallback_query: str = "") -> Call | None:
        """The dense second look at the selected moment; its old extent stays shown until kept or reverted."""
        moment = self.selected()
        if moment is None or self.handle is None:
            self.message.emit("Select a moment to refine it.")
            return None
        query = moment.span.query or moment.provenance.get("query") or fallback_query.strip()
        if not query:
            self.message.emit("Refining looks for a description: type one above first.")
            return None
        sampling = moment.provenance.get("sampling") or {"mode": "frames", "value": self.frame_budget()}
        span = replace(moment.span, query=query)
        call = self.worker.request("refine_span", video=self.handle, span=span.to_dict(), sampling=sampling)
        self._refine_call = call
        self._busy("Refining the moment…")
        call.progress.connect(self._while_current(call, self._scan_progress))
        call.finished.connect(self._while_current(call, lambda data: self._refined(moment, data)))
        call.failed.connect(self._while_current(call, self._failed))
        return call

    def keep_refined(self) -> None:
        self.refine_before, self.refined_ids = None, ()
        self.changed.emit()

    def revert_refined(self) -> None:
        """Put the moment back as it was before Refine (an edit of its own: undo refines again)."""
        old = self.refine_before
        if old is None:
            return
        rest = [m for m in self.moments if m.id not in self.refined_ids]
        self.refine_before, self.refined_ids = None, ()
        self._edit("Revert refine", [*rest, old], old.id)

    # ----- worker answers --------------------------------------------------------------------------------
    def _while_current(self, call: Call, slot: Callable[..., object]) -> Callable[..., None]:
        """`slot` for `call`'s events, dropped once the call is not this controller's (another video)."""

        def forward(*args) -> None:
            if call is self._call or call is self._refine_call:
                slot(*args)

        return forward

    def _curve_piece(self, kind: str, data: dict) -> None:
        if kind != "curve":
            return
        starts, ends, scores = self.curve
        self.curve = (
            np.concatenate([starts, np.asarray(data["starts_s"], np.float64)]),
            np.concatenate([ends, np.asarray(data["ends_s"], np.float64)]),
            np.concatenate([scores, np.asarray(data["scores"], np.float64)]),
        )
        self.curve_changed.emit()

    def _busy(self, text: str) -> None:
        self._busy_text = text
        self._set_scan(Scan("busy", text))

    def _scan_progress(self, progress) -> None:
        detail = progress.message or progress.stage
        if not progress.message and progress.total:
            counted = STAGE_TEXT.get(progress.stage, progress.stage + " {done} of {total}")
            detail = counted.format(done=f"{progress.done:g}", total=f"{progress.total:g}")
        self._set_scan(Scan("busy", f"{self._busy_text} — {detail}", progress.fraction))

    def _found(self, query: str, sampling: dict, data: dict) -> None:
        points = data.get("curve") or []
        keys = ("start_s", "end_s", "score")
        self.curve = tuple(np.array([p[k] for p in points], np.float64) for k in keys)
        self.curve_changed.emit()
        self._keep_curve(query)
        provenance = {"query": query, "model": data.get("model"), "sampling": data.get("sampling", sampling)}
        same_query = [m for m in self.moments if m.provenance.get("query") == query]
        decided = [(m.span.start_s, m.span.end_s) for m in same_query if m.state != "undecided"]
        found = [
            Moment(span=span, provenance=provenance)
            for span in map(Span.from_dict, data.get("spans", []))
            if all(iou((span.start_s, span.end_s), d) <= NMS_IOU for d in decided)  # decided already
        ]
        kept = [m for m in self.moments if not (m.state == "undecided" and m in same_query)]
        count = f"{len(found)} moment{'s' * (len(found) != 1)}" if found else "No new moments"
        self._set_scan(Scan("idle", f"{count} for “{query}”."))
        if found or len(kept) != len(self.moments):
            self._edit(f"Find “{query}”", [*kept, *found], found[0].id if found else None)

    def _find_failed(self, query: str, error: dict) -> None:
        self._keep_curve(query)  # cancelled or failed: what of the curve came stays shown, and saved
        self._failed(error)

    def _keep_curve(self, query: str) -> None:
        """The curve the search ended with, in the session (none when nothing of it came)."""
        if self._session is not None:
            starts, ends, scores = self.curve
            self._session.relevance = Relevance(query, starts, ends, scores) if len(starts) else None
            self._mark_dirty()

    def _refined(self, old: Moment, data: dict) -> None:
        current = next((m for m in self.moments if m.id == old.id), None)
        pieces = [Span.from_dict(s) for s in data.get("spans", [])]
        if current is None or not pieces:
            self._set_scan(Scan("idle", "The moment changed meanwhile: refine it again."))
            return
        provenance = {**current.provenance, "refined": True}
        new = [replace(current, span=pieces[0], provenance=provenance)]
        new += [Moment(span=p, state=current.state, provenance=provenance) for p in pieces[1:]]
        self.refine_before, self.refined_ids = current, tuple(m.id for m in new)
        self._set_scan(Scan("idle", "Refined: keep the new extent or revert to the old one."))
        self._edit("Refine moment", self._replaced(current, new), current.id)

    def _failed(self, error: dict) -> None:
        code, message, hint = error.get("code"), error.get("message") or "unknown error", error.get("hint")
        if code == "cancelled":
            self._set_scan(Scan("idle", "Cancelled."))
            return
        text = message if not hint else f"{message} {hint}"
        self._set_scan(Scan("error", text, model_missing=code == "model_error"))

    def _set_scan(self, scan: Scan) -> None:
        self.scan = scan
        self.scan_changed.emit(scan)

    # ----- the undo machinery ----------------------------------------------------------------------------
    def _edit(self, text: str, moments: list[Moment], selected: str | None) -> None:
        before = (tuple(self.moments), self.selected_id)
        self.undo.push(_Change(self, text, before, (tuple(in_time_order(moments)), selected)))

    def _restore(self, state: tuple, save: bool = True) -> None:
        moments, selected = state
        old_span = self.selected_span()
        self.moments, self.selected_id, self.preview = list(moments), selected, None
        if self.refine_before is not None and not all(self.index_of(i) >= 0 for i in self.refined_ids):
            self.refine_before, self.refined_ids = None, ()  # the refined moment is gone (undone, deleted)
        if save and self._session is not None:
            self._session.moments = list(self.moments)
            self._mark_dirty()
        self.changed.emit()
        if self.selected_span() != old_span:
            self.selection_changed.emit(self.selected_span())

    def _replaced(self, old: Moment, new: list[Moment]) -> list[Moment]:
        return [m for m in self.moments if m.id != old.id] + new

    def _moment_at(self, seconds: float) -> Moment | None:
        return next((m for m in self.moments if m.span.start_s < seconds < m.span.end_s), None)
