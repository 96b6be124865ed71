"""The timeline: ruler, thumbnail strip, lanes and playhead in one custom-painted widget.

Everything but the playhead and the hover line is painted into a cached QPixmap keyed by (size, view,
content version), so a position change repaints two narrow strips over that pixmap. The view is a
start and a span in seconds, kept within the video (never scrolled past an end) and between the whole
video and about ten frames. Clicks and drags scrub, snapped to the frame on screen at the time under the
mouse when a frame-time table is set; Ctrl+wheel zooms around the mouse, the wheel scrolls; while
following, the view pages to keep the playhead visible.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QRect, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QFontMetricsF,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPixmap,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QToolTip, QWidget

from app.thumbnails import Source, ThumbnailProducer
from app.timeline_lanes import HeatLane, SpanLane
from app.timeline_paint import (
    BOTTOM_PAD,
    HEADER_W,
    PLAYHEAD_HEAD_W,
    RULER_H,
    STRIP_H,
    Layout,
    Painted,
    StaticPainter,
    hover_badge,
    paint_hover,
    paint_playhead,
    slot_px,
    timeline_font,
)
from app.timeline_stack import LaneStack
from engine.timecode import format_timecode

ZOOM_STEP = 1.5  # zoom_in / zoom_out
WHEEL_ZOOM_STEP = 1.25  # per wheel notch
WHEEL_SCROLL = 0.1  # of the visible span per wheel notch
MIN_FRAMES_ACROSS = 10
FOLLOW_MARGIN = 0.05  # paging puts the playhead this fraction of the view in from the edge
THUMB_REQUEST_DELAY_MS = 120  # ask for dense thumbnails once the view rests
THUMB_REPAINT_MS = 40
EDGE_GRAB_PX = 4  # a press this close to a span's edge in an editable lane drags the edge
_SLACK_S = 5e-7  # half a microsecond: a time reported in whole microseconds still names its frame


class Timeline(QWidget):
    seek_requested = Signal(float, bool)  # seconds (a frame's own time when frame times are set), dragging
    view_changed = Signal(float, float)  # visible start and end, seconds
    # In an editable lane (`set_editable`): a click on a span, and a drag of a span's edge. Indices are
    # those of the span in the lane's `set_spans` call; the time is under the mouse, not snapped.
    span_clicked = Signal(str, int)  # lane, index
    span_edge_dragged = Signal(str, int, str, float, bool)  # lane, index, "start"/"end", seconds, released

    def __init__(
        self, parent: QWidget | None = None, *, strip_height: int = STRIP_H, thumbnails: bool = True
    ):
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the window owns the keys; setFocusPolicy to reach it
        self.setMouseTracking(True)
        self.setAccessibleName("Timeline")
        self.follow_playhead = True
        self.static_builds = 0  # how often the cached layers were painted (the playhead never causes one)
        self.painted = Painted()  # what the last static paint drew
        self._strip_h = strip_height if thumbnails else 0
        self._duration = 0.0
        self._frame_times: np.ndarray | None = None
        self._start = self._span = 0.0
        self._position = 0.0
        self._stack = LaneStack()
        self._version = 0
        self._static: QPixmap | None = None
        self._static_key: tuple | None = None
        self._scrub: float | None = None  # last time sent while the left button is down
        self._pan: tuple[float, float] | None = None  # (mouse x, view start) while the middle button is down
        self._hover_x: float | None = None
        self._edge_drag: tuple[str, int, str] | None = None  # (lane, index, edge) while an edge is dragged
        self._font = timeline_font(self.font())
        self._metrics = QFontMetricsF(self._font)
        self._painter = StaticPainter(self._font)
        self.thumbnails: ThumbnailProducer | None = None
        if thumbnails:
            self.thumbnails = producer = ThumbnailProducer(height=2 * strip_height)
            # Thumbnails come every few ms at first: repaint for them at most every THUMB_REPAINT_MS.
            self._thumb_repaint = QTimer(self, singleShot=True, interval=THUMB_REPAINT_MS)
            self._thumb_repaint.timeout.connect(self._content_changed)
            producer.changed.connect(self._thumbnails_arrived)
            self._thumb_timer = QTimer(self, singleShot=True, interval=THUMB_REQUEST_DELAY_MS)
            self._thumb_timer.timeout.connect(self._request_thumbnails)
        self._relayout()

    # ----- the video
    def set_video(
        self,
        path: str | None,
        duration_s: float,
        frame_times: np.ndarray | None = None,
        start_s: float = 0.0,
        rotation: int = 0,
    ) -> None:
        """A new video: its length, its frames' times (None: unknown), and for the thumbnails of `path`
        its start time and display rotation as probed (`info.frames.start_s`, `info.rotation`)."""
        self.set_frame_times(frame_times)
        self.set_duration(duration_s)
        self._set_view(0.0, self._duration)
        if self.thumbnails is not None:
            self.thumbnails.open(None if path is None else Source(path, start_s, rotation), self._duration)
            self._thumb_timer.start()

    def set_duration(self, seconds: float) -> None:
        seconds = max(0.0, float(seconds))
        if seconds != self._duration:
            self._duration = seconds
            self._stack.rebuild_heat(seconds)
            self._position = min(self._position, seconds)
            self._set_view(0.0, seconds)
            self._content_changed()

    def set_frame_times(self, times: np.ndarray | None) -> None:
        """Every frame's presentation time, increasing: scrubbing lands on frames, the ruler shows them."""
        self._frame_times = None if times is None or len(times) == 0 else np.asarray(times, dtype=np.float64)
        self._set_view(self._start, self._span)
        self._content_changed()

    def set_position(self, seconds: float) -> None:
        """Move the playhead (the window calls this for every frame shown). Ignored while scrubbing."""
        if self._scrub is None:
            self._move_playhead(seconds)
            if self.follow_playhead and not self._start <= self._position <= self._start + self._span:
                ahead = self._position > self._start + self._span
                self._set_view(self._position - (FOLLOW_MARGIN if ahead else 1 - FOLLOW_MARGIN) * self._span)

    def position(self) -> float:
        return self._position

    def frame_time_at(self, seconds: float) -> float:
        """The time of the frame on screen at `seconds` (the last one at or before it); `seconds` itself
        when no frame times are set."""
        times = self._frame_times
        if times is None:
            return seconds
        return float(times[max(0, int(np.searchsorted(times, seconds + _SLACK_S, side="right")) - 1)])

    # ----- the view
    def view_range(self) -> tuple[float, float]:
        return self._start, self._start + self._span

    def set_view_range(self, start_s: float, end_s: float) -> None:
        self._set_view(start_s, end_s - start_s)

    def zoom_fit(self) -> None:
        self._set_view(0.0, self._duration)

    def zoom_in(self) -> None:
        self._zoom_at_playhead(ZOOM_STEP)

    def zoom_out(self) -> None:
        self._zoom_at_playhead(1 / ZOOM_STEP)

    def min_span(self) -> float:
        """The narrowest view: about MIN_FRAMES_ACROSS frames."""
        times = self._frame_times
        frame_s = float(np.median(np.diff(times))) if times is not None and len(times) > 1 else 1 / 30
        return min(self._duration, MIN_FRAMES_ACROSS * frame_s)

    def layout(self) -> Layout:
        """Where everything is for the current size and view."""
        return Layout(self.width(), self.height(), self._strip_h, self._start, self._span, self._duration)

    def x_of(self, seconds: float) -> float:
        return self.layout().x_of(seconds)

    def time_at(self, x: float) -> float:
        return self.layout().time_at(x)

    def _zoom_at_playhead(self, factor: float) -> None:
        end = self._start + self._span
        anchor = self._position if self._start <= self._position <= end else self._start + self._span / 2
        self._zoom(factor, anchor, (anchor - self._start) / self._span if self._span else 0.5)

    def _zoom(self, factor: float, anchor_s: float, anchor_fraction: float) -> None:
        span = min(max(self._span / factor, self.min_span()), self._duration)
        self._set_view(anchor_s - anchor_fraction * span, span)

    def _set_view(self, start_s: float, span_s: float | None = None) -> None:
        span = self._span if span_s is None else span_s
        span = min(max(span, self.min_span()), self._duration)
        start = min(max(start_s, 0.0), self._duration - span)
        if (start, span) != (self._start, self._span):
            self._start, self._span = start, span
            self.update()
            self.view_changed.emit(start, start + span)
            if self.thumbnails is not None:
                self._thumb_timer.start()

    # ----- lanes
    def set_spans(
        self,
        lane: str,
        starts: Sequence[float] | np.ndarray,
        ends: Sequence[float] | np.ndarray,
        colors: QColor | str | Sequence[QColor | str] | None = None,
        scores: Sequence[float] | np.ndarray | None = None,
        labels: Sequence[str] | None = None,
    ) -> None:
        """Show spans in `lane` (added at the bottom if new). `colors`: one for all or one per span (the
        lane's own colour by default); `scores` in [0, 1] shade them; `labels` show on hover."""
        self._stack.put_spans(lane, starts, ends, colors, scores, labels)
        self._relayout()

    def set_heat(
        self,
        lane: str,
        starts: Sequence[float] | np.ndarray,
        ends: Sequence[float] | np.ndarray,
        values: Sequence[float] | np.ndarray,
    ) -> None:
        """Show a relevance curve in `lane` as a heat strip: value in [0, 1] of each bin [start, end)."""
        self._stack.put_heat(HeatLane(lane, starts, ends, values), self._duration)
        self._relayout()

    def set_editable(self, lane: str, editable: bool = True) -> None:
        """Clicks on `lane`'s spans select them (`span_clicked`) and their edges can be dragged."""
        (self._stack.editable.add if editable else self._stack.editable.discard)(lane)

    def span_hit(self, x: float, y: float) -> tuple[str, int, str | None] | None:
        """What a press at (x, y) grabs in an editable lane: (lane, span index, "start"/"end" for an edge
        within EDGE_GRAB_PX, None for the span's body), or None."""
        name = self._stack.at(y, RULER_H + self._strip_h)
        if x < HEADER_W or self._duration <= 0 or name is None:
            return None
        found = self._stack.span_at(name, self.time_at(x), EDGE_GRAB_PX / self.layout().px_per_s)
        return None if found is None else (name, *found)

    def remove_lane(self, lane: str) -> None:
        if self._stack.remove(lane):
            self._relayout()

    def lanes(self) -> list[str]:
        return list(self._stack.lanes)

    def lane(self, name: str) -> SpanLane | HeatLane:
        """What lane `name` shows (KeyError if there is none)."""
        return self._stack.lanes[name]

    def lane_rect(self, lane: str) -> QRect:
        """Where a lane is drawn (header included)."""
        return self._stack.rect(lane, RULER_H + self._strip_h, self.width())

    def _relayout(self) -> None:
        self.setFixedHeight(RULER_H + self._strip_h + self._stack.height() + BOTTOM_PAD)
        self._content_changed()

    def _content_changed(self) -> None:
        self._version += 1
        self.update()

    # ----- painting
    def paintEvent(self, event: QPaintEvent) -> None:
        layout, ratio = self.layout(), self.devicePixelRatioF()
        key = (layout, ratio, self._version)
        if key != self._static_key:
            self.static_builds += 1
            self._static, self.painted = self._painter.paint(
                layout, ratio, self._stack.lanes, self.thumbnails, self._frame_times
            )
            self._static_key = key
        painter = QPainter(self)
        painter.drawPixmap(0, 0, self._static)
        if self._duration > 0:
            if self._hover_x is not None and self._scrub is None:
                paint_hover(painter, layout, self._hover_x, self.hover_text(self._hover_x, 0), self._font)
            paint_playhead(painter, layout, self._position, self._font)
        painter.end()

    def strip_slots(self) -> list[tuple[float, float]]:
        """Where each visible thumbnail slot starts (x) and the time it stands for."""
        layout = self.layout()
        return [(layout.x_of(t), t) for t in self._slot_times()] if self._strip_h else []

    def thumbnails_pending(self) -> bool:
        """Thumbnails for the current view are still being asked for or made."""
        if self.thumbnails is None:
            return False
        timers = (self._thumb_timer, self._thumb_repaint)
        return any(t.isActive() for t in timers) or not self.thumbnails.idle()

    def _slot_times(self) -> list[float]:
        return self.layout().slot_times(slot_px(self.thumbnails, self._strip_h))

    def _update_hover(self, x: float | None) -> None:
        if x is not None:
            self.update(QRect(round(x) - 2, RULER_H, 5, self.height()))
            badge = hover_badge(self.layout(), x, self._metrics)
            self.update(badge.toAlignedRect().adjusted(-1, -1, 1, 1))

    def _playhead_rect(self) -> QRect:
        x = round(self.x_of(self._position))
        return QRect(x - PLAYHEAD_HEAD_W, 0, 2 * PLAYHEAD_HEAD_W, self.height())

    def _move_playhead(self, seconds: float) -> None:
        old = self._playhead_rect()
        self._position = min(max(float(seconds), 0.0), self._duration)
        self.update(old.united(self._playhead_rect()).united(QRect(0, 0, HEADER_W, RULER_H)))

    # ----- input
    def mousePressEvent(self, event: QMouseEvent) -> None:
        x = event.position().x()
        if self._duration <= 0 or x < HEADER_W:
            return
        hit = self.span_hit(x, event.position().y()) if event.button() == Qt.MouseButton.LeftButton else None
        if hit is not None:
            lane, index, edge = hit
            self.span_clicked.emit(lane, index)
            self._edge_drag = None if edge is None else (lane, index, edge)
        elif event.button() == Qt.MouseButton.LeftButton:
            self.follow_playhead = True
            self._scrub = math.nan
            self._scrub_to(x, dragging=True)
        elif event.button() == Qt.MouseButton.MiddleButton:
            self._pan = (x, self._start)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        x = event.position().x()
        if self._edge_drag is not None:
            self.span_edge_dragged.emit(*self._edge_drag, self._clamped_time(x), False)
        elif self._scrub is not None:
            self._scrub_to(x, dragging=True)
        elif self._pan is not None:
            self.follow_playhead = False
            self._set_view(self._pan[1] - (x - self._pan[0]) / self.layout().px_per_s)
        else:
            self._hover(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self._edge_drag is not None:
            self.span_edge_dragged.emit(*self._edge_drag, self._clamped_time(event.position().x()), True)
            self._edge_drag = None
        elif event.button() == Qt.MouseButton.LeftButton and self._scrub is not None:
            self._scrub_to(event.position().x(), dragging=False)
            self._scrub = None
        elif event.button() == Qt.MouseButton.MiddleButton:
            self._pan = None

    def _clamped_time(self, x: float) -> float:
        return min(max(self.time_at(x), 0.0), self._duration)

    def _scrub_to(self, x: float, dragging: bool) -> None:
        t = self.frame_time_at(self._clamped_time(x))
        if dragging and t == self._scrub:
            return  # same frame: no new seek
        self._scrub = t
        self._move_playhead(t)
        self.seek_requested.emit(t, dragging)

    def wheelEvent(self, event: QWheelEvent) -> None:
        if self._duration <= 0:
            return
        delta = event.angleDelta()
        notches = (delta.x() if abs(delta.x()) > abs(delta.y()) else delta.y()) / 120
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            x = min(max(event.position().x(), HEADER_W), self.width())
            self._zoom(WHEEL_ZOOM_STEP**notches, self.time_at(x), (x - HEADER_W) / self.layout().track_width)
            if not self._start <= self._position <= self._start + self._span:
                self.follow_playhead = False
        else:
            self._scroll(-notches * WHEEL_SCROLL)
        event.accept()

    def _scroll(self, fraction: float) -> None:
        """Move the view by `fraction` of its span; scrolled by hand, it stops following the playhead."""
        self.follow_playhead = False
        self._set_view(self._start + fraction * self._span)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Only when focused (the policy is NoFocus unless the window changes it)."""
        actions = {
            Qt.Key.Key_Plus: self.zoom_in,
            Qt.Key.Key_Equal: self.zoom_in,
            Qt.Key.Key_Minus: self.zoom_out,
            Qt.Key.Key_0: self.zoom_fit,
            Qt.Key.Key_Left: lambda: self._scroll(-WHEEL_SCROLL),
            Qt.Key.Key_Right: lambda: self._scroll(WHEEL_SCROLL),
        }
        action = actions.get(Qt.Key(event.key()))
        if action is None:
            super().keyPressEvent(event)
        else:
            action()

    def _hover(self, event: QMouseEvent) -> None:
        x = event.position().x()
        self._update_hover(self._hover_x)
        self._hover_x = x if x >= HEADER_W and self._duration > 0 else None
        self._update_hover(self._hover_x)
        hit = self.span_hit(x, event.position().y())
        if hit is not None and hit[2] is not None:
            self.setCursor(Qt.CursorShape.SizeHorCursor)  # an edge to drag
        else:
            self.unsetCursor()
        over_span = self.hover_text(x, event.position().y()).partition("\n")[2]
        if over_span:
            QToolTip.showText(event.globalPosition().toPoint(), over_span, self)
        else:
            QToolTip.hideText()

    def hover_text(self, x: float, y: float) -> str:
        """What hovering at (x, y) shows: the time under the mouse and, over a span, its label and score."""
        if x < HEADER_W or self._duration <= 0:
            return ""
        t = min(max(self.time_at(x), 0.0), self._duration)
        lane = self._stack.at(y, RULER_H + self._strip_h)
        over = self._stack.describe(lane, t, 3 / self.layout().px_per_s)
        return "\n".join([format_timecode(self.frame_time_at(t)), *over])  # the time a click here seeks to

    def leaveEvent(self, event) -> None:
        self._update_hover(self._hover_x)
        self._hover_x = None
        super().leaveEvent(event)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self.thumbnails is not None:
            self._thumb_timer.start()

    def _thumbnails_arrived(self) -> None:
        if not self._thumb_repaint.isActive():
            self._thumb_repaint.start()

    def _request_thumbnails(self) -> None:
        if self.thumbnails is not None and self._duration > 0:
            self.thumbnails.request(self._slot_times())
