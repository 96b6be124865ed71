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
from PySide6.QtCore import QLineF, QPointF, QRect, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPixmap,
    QPolygonF,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QToolTip, QWidget

from app.thumbnails import ThumbnailProducer
from app.timeline_lanes import HeatLane, Runs, SpanLane
from app.timeline_ruler import LABEL_PAD_PX, Ticks, ruler_ticks
from engine.timecode import format_timecode

# A dark palette of its own: an editing timeline stays dark whatever the desktop theme.
BACKGROUND = QColor("#16181d")
HEADER = QColor("#1f2228")
RULER = QColor("#23262d")
ROW = QColor("#1a1c22")
ROW_ALT = QColor("#1c1f25")
BORDER = QColor("#2e323b")
GRID = QColor("#23262d")
TEXT = QColor("#c5cad3")
TEXT_DIM = QColor("#7d8590")
INK_ON_LIGHT = QColor("#0d0f12")  # labels on light span colours
TICK_MAJOR = QColor("#8b939f")
TICK_MINOR = QColor("#4a505b")
TICK_FRAME = QColor("#5d6470")
STRIP_EMPTY = QColor("#24272e")
PLAYHEAD = QColor("#ff3b3b")
HOVER = QColor(255, 255, 255, 70)
HOVER_BADGE = QColor("#3a3f4a")
LANE_COLORS = ("#4f8cff", "#f2a93b", "#3ccf91", "#e5534b", "#a371f7", "#39c5cf", "#d9d957", "#ff7eb6")

HEADER_W = 112
RULER_H = 26
STRIP_H = 48
SPAN_LANE_H = 22
HEAT_LANE_H = 14
BOTTOM_PAD = 3
PLAYHEAD_HEAD_W = 11
ZOOM_STEP = 1.5  # zoom_in / zoom_out
WHEEL_ZOOM_STEP = 1.25  # per wheel notch
WHEEL_SCROLL = 0.1  # of the visible span per wheel notch
MIN_FRAMES_ACROSS = 10
FOLLOW_MARGIN = 0.05  # paging puts the playhead this fraction of the view in from the edge
THUMB_REQUEST_DELAY_MS = 120  # ask for dense thumbnails once the view rests
_SLACK_S = 5e-7  # half a microsecond: a time reported in whole microseconds still names its frame


class Timeline(QWidget):
    seek_requested = Signal(float, bool)  # seconds (a frame's own time when frame times are set), dragging
    view_changed = Signal(float, float)  # visible start and end, seconds

    def __init__(
        self, parent: QWidget | None = None, *, strip_height: int = STRIP_H, thumbnails: bool = True
    ):
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the window owns the keys; setFocusPolicy to reach it
        self.setMouseTracking(True)
        self.setAccessibleName("Timeline")
        self.follow_playhead = True
        self.static_builds = 0  # how often the cached layers were painted (the playhead never causes one)
        self.last_runs: dict[str, int] = {}  # rectangles drawn per span lane in the last static paint
        self.last_labels: list[tuple[QRectF, str]] = []  # ruler labels of the last static paint
        self.ticks: Ticks | None = None  # the ruler's ticks in the last static paint
        self._strip_h = strip_height if thumbnails else 0
        self._duration = 0.0
        self._frame_times: np.ndarray | None = None
        self._start = self._span = 0.0
        self._position = 0.0
        self._lanes: dict[str, SpanLane | HeatLane] = {}
        self._colors_used = 0
        self._version = 0
        self._static: QPixmap | None = None
        self._static_key: tuple | None = None
        self._scrub: float | None = None  # last time sent while the left button is down
        self._pan: tuple[float, float] | None = None  # (mouse x, view start) while the middle button is down
        self._hover_x: float | None = None
        self._font = QFont(self.font())
        self._font.setPixelSize(10)
        self._metrics = QFontMetricsF(self._font)
        self.thumbnails: ThumbnailProducer | None = None
        if thumbnails:
            self.thumbnails = producer = ThumbnailProducer(height=2 * strip_height)
            producer.changed.connect(self._content_changed)
            self.destroyed.connect(lambda: producer.close())
            self._thumb_timer = QTimer(self, singleShot=True, interval=THUMB_REQUEST_DELAY_MS)
            self._thumb_timer.timeout.connect(self._request_thumbnails)
        self._relayout()

    # ----- the video
    def set_video(self, path: str | None, duration_s: float, frame_times: np.ndarray | None = None) -> None:
        """A new video: its length, its frames' times (None: unknown) and thumbnails of `path`."""
        self.set_frame_times(frame_times)
        self.set_duration(duration_s)
        self._set_view(0.0, self._duration)
        if self.thumbnails is not None:
            self.thumbnails.open(path, self._duration)
            self._thumb_timer.start()

    def set_duration(self, seconds: float) -> None:
        seconds = max(0.0, float(seconds))
        if seconds != self._duration:
            self._duration = seconds
            for lane in self._lanes.values():
                if isinstance(lane, HeatLane):
                    lane.build(seconds)
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

    def x_of(self, seconds: float) -> float:
        return HEADER_W + (seconds - self._start) * self._px_per_s()

    def time_at(self, x: float) -> float:
        return self._start + (x - HEADER_W) / self._px_per_s()

    def _px_per_s(self) -> float:
        return self._track_width() / self._span if self._span > 0 else 1.0

    def _track_width(self) -> int:
        return max(1, self.width() - HEADER_W)

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
        old = self._lanes.get(lane)
        if isinstance(old, SpanLane):
            default = old.color
        else:
            default = QColor(LANE_COLORS[self._colors_used % len(LANE_COLORS)])
            self._colors_used += 1
        self._put_lane(lane, SpanLane(lane, starts, ends, colors, scores, labels, default, ROW))

    def set_heat(
        self,
        lane: str,
        starts: Sequence[float] | np.ndarray,
        ends: Sequence[float] | np.ndarray,
        values: Sequence[float] | np.ndarray,
    ) -> None:
        """Show a relevance curve in `lane` as a heat strip: value in [0, 1] of each bin [start, end)."""
        heat = HeatLane(lane, starts, ends, values)
        heat.build(self._duration)
        self._put_lane(lane, heat)

    def remove_lane(self, lane: str) -> None:
        if self._lanes.pop(lane, None) is not None:
            self._relayout()

    def lanes(self) -> list[str]:
        return list(self._lanes)

    def lane_rect(self, lane: str) -> QRect:
        """Where a lane is drawn (header included)."""
        y = RULER_H + self._strip_h
        for name, item in self._lanes.items():
            height = _lane_height(item)
            if name == lane:
                return QRect(0, y, self.width(), height)
            y += height
        raise KeyError(lane)

    def _put_lane(self, lane: str, item: SpanLane | HeatLane) -> None:
        self._lanes[lane] = item
        self._relayout()

    def _relayout(self) -> None:
        self.setFixedHeight(
            RULER_H + self._strip_h + sum(map(_lane_height, self._lanes.values())) + BOTTOM_PAD
        )
        self._content_changed()

    def _content_changed(self) -> None:
        self._version += 1
        self.update()

    # ----- painting
    def paintEvent(self, event: QPaintEvent) -> None:
        key = (self.width(), self.height(), self.devicePixelRatioF(), self._start, self._span, self._version)
        if key != self._static_key:
            self._static, self._static_key = self._paint_static(), key
        painter = QPainter(self)
        painter.drawPixmap(0, 0, self._static)
        if self._duration > 0:
            self._paint_hover(painter)
            self._paint_playhead(painter)
        painter.end()

    def _paint_static(self) -> QPixmap:
        self.static_builds += 1
        ratio = self.devicePixelRatioF()
        pixmap = QPixmap(round(self.width() * ratio), round(self.height() * ratio))
        pixmap.setDevicePixelRatio(ratio)
        pixmap.fill(BACKGROUND)
        p = QPainter(pixmap)
        p.setFont(self._font)
        track = QRectF(HEADER_W, 0, self._track_width(), self.height())
        p.fillRect(QRectF(0, 0, HEADER_W, self.height()), HEADER)
        p.fillRect(QRectF(HEADER_W, 0, self._track_width(), RULER_H), RULER)
        self.ticks = None
        self.last_labels, self.last_runs = [], {}
        if self._duration > 0:
            self.ticks = ruler_ticks(
                self._start,
                self._start + self._span,
                HEADER_W,
                self._track_width(),
                self._duration,
                self._metrics.horizontalAdvance,
                self._frame_times,
            )
            p.setClipRect(track)
            self._paint_ruler(p, self.ticks)
            self._paint_rows(p, self.ticks)
            p.setClipping(False)
        else:
            p.setPen(TEXT_DIM)
            p.drawText(track, Qt.AlignmentFlag.AlignCenter, "No video")
        self._paint_headers(p)
        p.setPen(BORDER)
        p.drawLine(QPointF(HEADER_W - 0.5, 0), QPointF(HEADER_W - 0.5, self.height()))
        p.drawLine(QPointF(0, RULER_H - 0.5), QPointF(self.width(), RULER_H - 0.5))
        p.end()
        return pixmap

    def _paint_ruler(self, p: QPainter, ticks: Ticks) -> None:
        bottom = RULER_H - 1
        for xs, top, color in (
            (ticks.frame_x, bottom - 4, TICK_FRAME),
            (ticks.minor_x, bottom - 5, TICK_MINOR),
            (ticks.major_x, 3, TICK_MAJOR),
        ):
            p.setPen(color)
            _vertical_lines(p, xs, top, bottom)
        for x, label in zip(ticks.major_x, ticks.labels, strict=True):
            rect = QRectF(x + LABEL_PAD_PX, 3, self._metrics.horizontalAdvance(label), self._metrics.height())
            if rect.left() >= HEADER_W:  # half a label at the left edge reads as a different time
                self.last_labels.append((rect, label))
        p.setPen(TEXT)
        ascent = self._metrics.ascent()
        for rect, label in self.last_labels:
            p.drawText(QPointF(rect.left(), rect.top() + ascent), label)

    def _paint_rows(self, p: QPainter, ticks: Ticks) -> None:
        width = self._track_width()
        top = RULER_H + self._strip_h
        if self._strip_h:
            self._paint_strip(p, QRectF(HEADER_W, RULER_H, width, self._strip_h))
        rows = []
        for i, lane in enumerate(self._lanes.values()):
            y = top + sum(r.height() for r in rows)
            rows.append(QRectF(HEADER_W, y, width, _lane_height(lane)))
            p.fillRect(rows[-1], ROW if i % 2 == 0 else ROW_ALT)
        p.setPen(GRID)
        _vertical_lines(p, ticks.major_x, top, self.height())
        for (name, lane), row in zip(self._lanes.items(), rows, strict=True):
            if isinstance(lane, SpanLane):
                runs = lane.runs(self._start, self._px_per_s(), width)
                self.last_runs[name] = len(runs.x0)
                self._paint_runs(p, lane, runs, row)
            elif lane.image is not None:
                cps = lane.columns_per_s
                source = QRectF(self._start * cps, 0, self._span * cps, 1)
                p.drawImage(row.adjusted(0, 2, 0, -3), lane.image, source)
        p.setPen(BORDER)
        p.drawLines([QLineF(HEADER_W, r.bottom() - 0.5, self.width(), r.bottom() - 0.5) for r in rows])

    def _paint_strip(self, p: QPainter, area: QRectF) -> None:
        p.fillRect(area, BACKGROUND)
        inner = area.height() - 4
        slot_px = self._slot_px()
        video_end = self.x_of(self._duration)
        for t in self._slot_times(slot_px):
            x = self.x_of(t)
            cell = QRectF(x, area.top() + 2, min(slot_px - 1, video_end - x), inner)
            found = self.thumbnails.at_or_before(t) if self.thumbnails else None
            if found is None:
                p.fillRect(cell, STRIP_EMPTY)
                continue
            pixmap = found[1]
            p.save()
            p.setClipRect(cell.intersected(area))
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            p.drawPixmap(
                QRectF(x, cell.top(), inner * pixmap.width() / pixmap.height(), inner),
                pixmap,
                QRectF(pixmap.rect()),
            )
            p.restore()

    def _slot_px(self) -> float:
        """A strip slot's width: one thumbnail at the strip's height, and a 1 px gap."""
        first = self.thumbnails.cache.at_or_before(math.inf) if self.thumbnails else None
        aspect = first[1].width() / first[1].height() if first else 16 / 9
        return max(8.0, round((self._strip_h - 4) * aspect)) + 1

    def strip_slots(self) -> list[tuple[float, float]]:
        """Where each visible thumbnail slot starts (x) and the time it stands for."""
        return [(self.x_of(t), t) for t in self._slot_times(self._slot_px())] if self._strip_h else []

    def thumbnails_pending(self) -> bool:
        """Thumbnails for the current view are still being asked for or made."""
        return self.thumbnails is not None and (self._thumb_timer.isActive() or not self.thumbnails.idle())

    def _slot_times(self, slot_px: float) -> list[float]:
        """The left-edge times of the strip's visible slots: the grid is fixed in time, so slots scroll with
        the video, and each shows the latest keyframe at or before its left edge."""
        slot_s = slot_px / self._px_per_s()
        first = math.floor(self._start / slot_s)
        last = math.ceil((self._start + self._span) / slot_s)
        return [k * slot_s for k in range(first, last) if k * slot_s < self._duration]

    def _paint_runs(self, p: QPainter, lane: SpanLane, runs: Runs, row: QRectF) -> None:
        top, height = row.top() + 3, row.height() - 7
        own = (runs.span >= 0) & (runs.x1 - runs.x0 >= 4)  # a span of its own, wide enough for edges
        lefts, widths = row.left() + runs.x0, runs.x1 - runs.x0 - own  # a 1 px gap after such a span
        for style in np.unique(runs.style):  # in style order: the most prominent on top
            color, chosen = lane.style_colors[style], runs.style == style
            xs, ws = lefts[chosen].tolist(), widths[chosen].tolist()
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(color)
            p.drawRects([QRectF(x, top, w, height) for x, w in zip(xs, ws, strict=True)])
            p.setPen(color.lighter(130))  # a lit top edge on spans of their own
            edges = (lefts[chosen & own].tolist(), widths[chosen & own].tolist())
            p.drawLines([QLineF(x, top + 0.5, x + w, top + 0.5) for x, w in zip(*edges, strict=True)])
        p.setBrush(Qt.BrushStyle.NoBrush)
        if lane.labels is None:
            return
        for i in np.flatnonzero(own):
            visible = QRectF(lefts[i], top, widths[i], height).intersected(row)
            if visible.width() > 24:
                p.setPen(INK_ON_LIGHT if _luminance(lane.style_colors[runs.style[i]]) > 0.58 else TEXT)
                label = lane.labels[runs.span[i]]
                text = self._metrics.elidedText(label, Qt.TextElideMode.ElideRight, visible.width() - 8)
                p.drawText(visible.adjusted(5, 0, -3, 0), Qt.AlignmentFlag.AlignVCenter, text)

    def _paint_headers(self, p: QPainter) -> None:
        y = RULER_H
        rows: list[tuple[str, int, QColor | None]] = []
        if self._strip_h:
            rows.append(("Video", self._strip_h, None))
        for name, lane in self._lanes.items():
            swatch = lane.color if isinstance(lane, SpanLane) else QColor.fromRgba(0xFFDE4968)
            rows.append((name, _lane_height(lane), swatch))
        for name, height, swatch in rows:
            if swatch is not None:
                p.fillRect(QRectF(6, y + 4, 3, height - 8), swatch)
            p.setPen(TEXT)
            text = self._metrics.elidedText(name, Qt.TextElideMode.ElideRight, HEADER_W - 22)
            p.drawText(QRectF(14, y, HEADER_W - 18, height), Qt.AlignmentFlag.AlignVCenter, text)
            p.setPen(BORDER)
            p.drawLine(QPointF(0, y + height - 0.5), QPointF(HEADER_W, y + height - 0.5))
            y += height

    def _paint_playhead(self, p: QPainter) -> None:
        p.setFont(self._font)
        p.setPen(TEXT)
        clock = QRectF(0, 0, HEADER_W - 1, RULER_H - 1)
        p.fillRect(clock, HEADER)
        p.drawText(clock, Qt.AlignmentFlag.AlignCenter, format_timecode(self._position))
        x = self.x_of(self._position)
        if not HEADER_W <= x < self.width():
            return
        xi = math.floor(x) + 0.5
        p.setPen(PLAYHEAD)
        p.drawLine(QPointF(xi, RULER_H - 8), QPointF(xi, self.height()))
        half = PLAYHEAD_HEAD_W / 2
        head = QPolygonF(
            [
                QPointF(xi - half, RULER_H - 13),
                QPointF(xi + half, RULER_H - 13),
                QPointF(xi + half, RULER_H - 7),
                QPointF(xi, RULER_H - 1),
                QPointF(xi - half, RULER_H - 7),
            ]
        )
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setBrush(PLAYHEAD)
        p.drawPolygon(head)

    def _paint_hover(self, p: QPainter) -> None:
        """A faint line under the mouse and its time in a badge on the ruler."""
        if self._hover_x is None or self._scrub is not None:
            return
        xi = math.floor(self._hover_x) + 0.5
        p.setPen(HOVER)
        p.drawLine(QPointF(xi, RULER_H), QPointF(xi, self.height()))
        badge = self._hover_badge(self._hover_x)
        p.fillRect(badge, HOVER_BADGE)
        p.setPen(TEXT)
        p.setFont(self._font)
        p.drawText(badge, Qt.AlignmentFlag.AlignCenter, self.hover_text(self._hover_x, 0))

    def _hover_badge(self, x: float) -> QRectF:
        width = self._metrics.horizontalAdvance("00:00:00.000") + 10
        left = min(max(x - width / 2, HEADER_W), self.width() - width)
        return QRectF(left, 1, width, RULER_H - 10)

    def _update_hover(self, x: float | None) -> None:
        if x is not None:
            self.update(QRect(round(x) - 2, RULER_H, 5, self.height()))
            self.update(self._hover_badge(x).toAlignedRect().adjusted(-1, -1, 1, 1))

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
        if event.button() == Qt.MouseButton.LeftButton:
            self.follow_playhead = True
            self._scrub = math.nan
            self._scrub_to(x, dragging=True)
        elif event.button() == Qt.MouseButton.MiddleButton:
            self._pan = (x, self._start)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        x = event.position().x()
        if self._scrub is not None:
            self._scrub_to(x, dragging=True)
        elif self._pan is not None:
            self.follow_playhead = False
            self._set_view(self._pan[1] - (x - self._pan[0]) / self._px_per_s())
        else:
            self._hover(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self._scrub is not None:
            self._scrub_to(event.position().x(), dragging=False)
            self._scrub = None
        elif event.button() == Qt.MouseButton.MiddleButton:
            self._pan = None

    def _scrub_to(self, x: float, dragging: bool) -> None:
        t = self.frame_time_at(min(max(self.time_at(x), 0.0), self._duration))
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
            self._zoom(WHEEL_ZOOM_STEP**notches, self.time_at(x), (x - HEADER_W) / self._track_width())
            if not self._start <= self._position <= self._start + self._span:
                self.follow_playhead = False
        else:
            self.follow_playhead = False
            self._set_view(self._start - notches * WHEEL_SCROLL * self._span)
        event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Only when focused (the policy is NoFocus unless the window changes it)."""
        actions = {
            Qt.Key.Key_Plus: self.zoom_in,
            Qt.Key.Key_Equal: self.zoom_in,
            Qt.Key.Key_Minus: self.zoom_out,
            Qt.Key.Key_0: self.zoom_fit,
            Qt.Key.Key_Left: lambda: self._set_view(self._start - WHEEL_SCROLL * self._span),
            Qt.Key.Key_Right: lambda: self._set_view(self._start + WHEEL_SCROLL * self._span),
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
        lines = [format_timecode(self.frame_time_at(t))]  # where a click here would seek to
        for name, lane in self._lanes.items():
            if isinstance(lane, SpanLane) and self.lane_rect(name).contains(round(x), round(y)):
                found = lane.span_at(t, 3 / self._px_per_s())
                if found is not None:
                    label = lane.labels[found] if lane.labels is not None else name
                    score = f"  score {lane.scores[found]:.2f}" if lane.scores is not None else ""
                    lines.append(f"{label}{score}")
                    lines.append(
                        f"{format_timecode(lane.starts[found])} – {format_timecode(lane.ends[found])}"
                    )
        return "\n".join(lines)

    def leaveEvent(self, event) -> None:
        self._update_hover(self._hover_x)
        self._hover_x = None
        super().leaveEvent(event)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self.thumbnails is not None:
            self._thumb_timer.start()

    def _request_thumbnails(self) -> None:
        if self.thumbnails is not None and self._duration > 0:
            self.thumbnails.request(self._slot_times(self._slot_px()))


def _vertical_lines(p: QPainter, xs: list[float], top: float, bottom: float) -> None:
    """One-pixel lines on the pixel columns of `xs` (a line on a pixel's centre covers just that pixel)."""
    p.drawLines([QLineF(math.floor(x) + 0.5, top, math.floor(x) + 0.5, bottom) for x in xs])


def _luminance(color: QColor) -> float:
    """Perceived brightness in [0, 1] (Rec. 601 weights): picks dark or light text on a span."""
    return 0.299 * color.redF() + 0.587 * color.greenF() + 0.114 * color.blueF()


def _lane_height(lane: SpanLane | HeatLane) -> int:
    return SPAN_LANE_H if isinstance(lane, SpanLane) else HEAT_LANE_H
