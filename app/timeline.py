"""The timeline: one custom-painted widget with a ruler, keyframe thumbnails, lanes and the playhead.

Layout, top to bottom: a ruler whose ticks adapt to the zoom (1/2/5 x 10^k seconds, frame ticks when
frames are at least 6 px apart), a strip of keyframe thumbnails (app/thumbnails.py), then one lane per
thing the later issues add: moment spans, a relevance heat strip, one lane per tracked object. Lane
names sit in a column on the left.

Spans live in sorted numpy arrays per lane; painting merges everything that falls in the same pixel
column, so the cost follows the width, not the number of spans (gui_patterns §4.1). Everything but the
playhead is painted into a cached pixmap that is redrawn only when the view or the data change; a
position change paints the cached layer and one line.

Mouse: click or drag to scrub (`seek_requested(t, dragging)`, snapped to the frame on screen at t),
Ctrl+wheel zooms around the mouse, the wheel scrolls in time. While playing, the view pages to keep the
playhead in sight, unless the user scrolled away (until the next seek).
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPaintEvent, QPen, QPixmap, QWheelEvent
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from app.thumbnails import Thumbnails
from engine.timecode import format_timecode

LABEL_W = 96  # lane names
RULER_H = 26
THUMB_H = 46
LANE_H = 20
MIN_MAJOR_PX = 90  # major ticks at least this far apart
FRAME_TICK_PX = 6  # frames drawn as ticks once they are this far apart
ZOOM_STEP = 1.25
NICE_STEPS = (1, 2, 5)
COLOURS = {
    "background": QColor(30, 31, 34),
    "ruler": QColor(40, 42, 46),
    "lane": QColor(36, 38, 42),
    "lane_alt": QColor(33, 35, 38),
    "grid": QColor(58, 61, 66),
    "text": QColor(200, 203, 208),
    "dim": QColor(130, 134, 140),
    "playhead": QColor(255, 82, 82),
    "span": QColor(86, 156, 214),
    "thumb_missing": QColor(48, 50, 54),
}
HEAT_LOW, HEAT_HIGH = np.array([38, 40, 60]), np.array([255, 196, 60])  # relevance 0 .. 1


@dataclass
class Lane:
    name: str
    kind: str  # "spans" or "heat"
    starts: np.ndarray = field(default_factory=lambda: np.zeros(0))  # [N] seconds, sorted
    ends: np.ndarray = field(default_factory=lambda: np.zeros(0))
    values: np.ndarray | None = None  # heat: [N] in 0..1; spans: scores or None
    labels: list[str] | None = None  # spans: a caption per span for the hover
    colour: QColor = field(default_factory=lambda: QColor(COLOURS["span"]))


class Timeline(QWidget):
    seek_requested = Signal(float, bool)  # seconds, still dragging
    view_changed = Signal(float, float)  # start_s, end_s

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.setMouseTracking(True)
        self.duration_s = 0.0
        self.frame_times = np.zeros(0)
        self.position_s = 0.0
        self.start_s, self.span_s = 0.0, 1.0  # the view: [start_s, start_s + span_s)
        self.follow_playhead = True
        self.lanes: dict[str, Lane] = {}
        self.thumbnails = Thumbnails(THUMB_H - 4, self)
        self.thumbnails.ready.connect(self._thumbnails_arrived)
        self._thumb_times: list[float] = []
        self._layer: QPixmap | None = None
        self._layer_key: tuple | None = None
        self._dragging = False
        self._resize_height()

    # ----- data ---------------------------------------------------------------------------------------------
    def set_video(self, path: str, duration_s: float, frame_times: np.ndarray, start_s: float = 0.0,
                  rotation: int = 0) -> None:  # fmt: skip
        self.duration_s = max(duration_s, 1e-3)
        self.frame_times = np.asarray(frame_times, dtype=np.float64)
        self.position_s = 0.0
        self.follow_playhead = True
        self.thumbnails.open(path, start_s, rotation)
        self.zoom_fit()
        self.thumbnails.ask(np.linspace(0, self.duration_s, 100, endpoint=False))  # coarse, whole file

    def set_position(self, seconds: float) -> None:
        self.position_s = seconds
        if self.follow_playhead and not self.start_s <= seconds < self.start_s + self.span_s:
            self.set_view_range(seconds - self.span_s * 0.1, seconds + self.span_s * 0.9)
        self.update()

    def set_spans(
        self, lane: str, starts, ends, scores=None, labels=None, colour: QColor | None = None
    ) -> None:
        """Spans of one lane (the lane is added if new); they need not be sorted."""
        starts, ends = np.asarray(starts, dtype=np.float64), np.asarray(ends, dtype=np.float64)
        order = np.argsort(starts, kind="stable")
        scores = None if scores is None else np.asarray(scores, dtype=np.float64)[order]
        labels = None if labels is None else [labels[i] for i in order]
        old = self.lanes.get(lane)
        self.lanes[lane] = Lane(lane, "spans", starts[order], ends[order], scores, labels,
                                colour or (old.colour if old else QColor(COLOURS["span"])))  # fmt: skip
        self._changed(resize=old is None)

    def set_heat(self, lane: str, starts, ends, values) -> None:
        """A relevance strip: value (0..1) per window [start, end)."""
        starts = np.asarray(starts, dtype=np.float64)
        order = np.argsort(starts, kind="stable")
        is_new = lane not in self.lanes
        self.lanes[lane] = Lane(lane, "heat", starts[order], np.asarray(ends, dtype=np.float64)[order],
                                np.clip(np.asarray(values, dtype=np.float64)[order], 0, 1))  # fmt: skip
        self._changed(resize=is_new)

    def remove_lane(self, lane: str) -> None:
        if self.lanes.pop(lane, None) is not None:
            self._changed(resize=True)

    # ----- the view -----------------------------------------------------------------------------------------
    def view_range(self) -> tuple[float, float]:
        return self.start_s, self.start_s + self.span_s

    def set_view_range(self, start_s: float, end_s: float) -> None:
        span = min(max(end_s - start_s, self._min_span()), self.duration_s or 1.0)
        start = min(max(0.0, start_s), max(0.0, self.duration_s - span))
        if (start, span) != (self.start_s, self.span_s):
            self.start_s, self.span_s = start, span
            self._changed()
            self.view_changed.emit(start, start + span)
            self._ask_thumbnails()

    def zoom_in(self) -> None:
        self._zoom(1 / ZOOM_STEP, self._zoom_anchor())

    def zoom_out(self) -> None:
        self._zoom(ZOOM_STEP, self._zoom_anchor())

    def zoom_fit(self) -> None:
        self.set_view_range(0.0, self.duration_s)

    def _zoom(self, factor: float, anchor_s: float) -> None:
        """Zoom so that `anchor_s` stays where it is on screen."""
        share = (anchor_s - self.start_s) / self.span_s
        span = self.span_s * factor
        self.set_view_range(anchor_s - share * span, anchor_s - share * span + span)

    def _zoom_anchor(self) -> float:
        inside = self.start_s <= self.position_s <= self.start_s + self.span_s
        return self.position_s if inside else self.start_s + self.span_s / 2

    def _min_span(self) -> float:
        """About ten frames across at the deepest zoom."""
        if len(self.frame_times) > 1:
            return max(1e-3, 10 * float(np.median(np.diff(self.frame_times[:1000]))))
        return 0.1

    # ----- coordinates --------------------------------------------------------------------------------------
    def time_area(self) -> QRectF:
        return QRectF(LABEL_W, 0, max(1, self.width() - LABEL_W), self.height())

    def x_of(self, seconds: float) -> float:
        area = self.time_area()
        return area.left() + (seconds - self.start_s) / self.span_s * area.width()

    def time_at(self, x: float) -> float:
        area = self.time_area()
        return min(self.duration_s, max(0.0, self.start_s + (x - area.left()) / area.width() * self.span_s))

    def snapped(self, seconds: float) -> float:
        """The start of the frame on screen at `seconds` (the greatest frame time <= it)."""
        if len(self.frame_times) == 0:
            return seconds
        index = max(0, int(np.searchsorted(self.frame_times, seconds + 5e-7, side="right")) - 1)
        return float(self.frame_times[index])

    # ----- painting -----------------------------------------------------------------------------------------
    def sizeHint(self) -> QSize:
        return QSize(1200, self._height())

    def _height(self) -> int:
        return RULER_H + THUMB_H + LANE_H * max(1, len(self.lanes)) + 2

    def _resize_height(self) -> None:
        self.setFixedHeight(self._height())

    def _changed(self, resize: bool = False) -> None:
        self._layer_key = None
        if resize:
            self._resize_height()
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        key = (self.width(), self.height(), self.start_s, self.span_s, self.devicePixelRatioF())
        if self._layer is None or self._layer_key != key:
            self._layer = self._paint_layer()
            self._layer_key = key
        painter = QPainter(self)
        painter.drawPixmap(0, 0, self._layer)
        if self.duration_s > 0:
            x = self.x_of(self.position_s)
            if LABEL_W <= x <= self.width():
                painter.setPen(QPen(COLOURS["playhead"], 1.5))
                painter.drawLine(QPointF(x, 0), QPointF(x, self.height()))
                painter.setBrush(COLOURS["playhead"])
                painter.setPen(Qt.PenStyle.NoPen)
                painter.drawPolygon([QPointF(x - 6, 0), QPointF(x + 6, 0), QPointF(x, 8)])
        painter.end()

    def _paint_layer(self) -> QPixmap:
        ratio = self.devicePixelRatioF()
        layer = QPixmap(QSize(max(1, self.width()), max(1, self.height())) * ratio)
        layer.setDevicePixelRatio(ratio)
        layer.fill(COLOURS["background"])
        painter = QPainter(layer)
        if self.duration_s > 0:
            self._paint_lanes(painter)
            self._paint_thumbnails(painter)
            self._paint_ruler(painter)
        painter.setPen(COLOURS["grid"])
        painter.drawLine(LABEL_W, 0, LABEL_W, self.height())
        painter.end()
        return layer

    def ticks(self) -> tuple[float, float, bool]:
        """(major step, minor step) in seconds for this zoom, and whether frames are drawn as ticks."""
        seconds_per_px = self.span_s / self.time_area().width()
        wanted = seconds_per_px * MIN_MAJOR_PX
        major = _nice_step(wanted)
        minor = major / _subdivisions(major)
        frame_px = (1 / max(self._frame_rate(), 1e-6)) / seconds_per_px
        return major, minor, frame_px >= FRAME_TICK_PX

    def _frame_rate(self) -> float:
        return 1 / float(np.median(np.diff(self.frame_times[:1000]))) if len(self.frame_times) > 1 else 25.0

    def _paint_ruler(self, painter: QPainter) -> None:
        painter.fillRect(QRectF(0, 0, self.width(), RULER_H), COLOURS["ruler"])
        major, minor, frames = self.ticks()
        end = self.start_s + self.span_s
        painter.setPen(COLOURS["dim"])
        if frames:
            lo, hi = np.searchsorted(self.frame_times, [self.start_s, end])
            for t in self.frame_times[lo:hi]:
                x = self.x_of(float(t))
                painter.drawLine(QPointF(x, RULER_H - 4), QPointF(x, RULER_H))
        else:
            for t in np.arange(math.floor(self.start_s / minor) * minor, end, minor):
                x = self.x_of(float(t))
                if x >= LABEL_W:
                    painter.drawLine(QPointF(x, RULER_H - 5), QPointF(x, RULER_H))
        font = painter.font()
        font.setPointSizeF(max(7.5, font.pointSizeF() * 0.85))
        painter.setFont(font)
        for t in np.arange(math.floor(self.start_s / major) * major, end + major, major):
            x = self.x_of(float(t))
            if x < LABEL_W or t > self.duration_s + 1e-9:
                continue
            painter.setPen(COLOURS["text"])
            painter.drawLine(QPointF(x, RULER_H - 11), QPointF(x, RULER_H))
            painter.drawText(QPointF(x + 3, 12), _tick_label(float(t), major))
        painter.setPen(COLOURS["dim"])
        painter.drawText(QRectF(8, 0, LABEL_W - 12, RULER_H), Qt.AlignmentFlag.AlignVCenter, "time")
        painter.setPen(COLOURS["grid"])
        painter.drawLine(0, RULER_H, self.width(), RULER_H)

    def _paint_thumbnails(self, painter: QPainter) -> None:
        top = RULER_H + 2
        painter.setPen(COLOURS["dim"])
        painter.drawText(QRectF(8, top, LABEL_W - 12, THUMB_H - 4), Qt.AlignmentFlag.AlignVCenter, "frames")
        images = self.thumbnails.images
        width = THUMB_H * 16 / 9
        if images:
            first = next(iter(images.values()))
            width = (THUMB_H - 4) * first.width() / max(1, first.height())
        x = float(LABEL_W)
        while x < self.width():
            t = self.time_at(x + width / 2)
            image = self._thumbnail_at(t)
            target = QRectF(x + 1, top, width - 2, THUMB_H - 4)
            if image is None:
                painter.fillRect(target, COLOURS["thumb_missing"])
            else:
                painter.drawImage(target, image)
            x += width
        painter.setPen(COLOURS["grid"])
        painter.drawLine(0, RULER_H + THUMB_H, self.width(), RULER_H + THUMB_H)

    def _thumbnail_at(self, seconds: float) -> QImage | None:
        """The thumbnail of the latest keyframe at or before `seconds` that has arrived."""
        times = self._thumb_times
        i = bisect.bisect_right(times, seconds + 1e-6) - 1
        return self.thumbnails.images.get(times[i]) if i >= 0 else None

    def _paint_lanes(self, painter: QPainter) -> None:
        area = self.time_area()
        if not self.lanes:
            top = RULER_H + THUMB_H
            painter.setPen(COLOURS["dim"])
            hint = "Moments, relevance and tracked objects appear here as lanes"
            painter.drawText(
                QRectF(LABEL_W + 10, top, area.width() - 20, LANE_H), Qt.AlignmentFlag.AlignVCenter, hint
            )
        for row, lane in enumerate(self.lanes.values()):
            top = RULER_H + THUMB_H + row * LANE_H
            painter.fillRect(QRectF(0, top, self.width(), LANE_H), COLOURS["lane" if row % 2 else "lane_alt"])
            painter.setPen(COLOURS["text"])
            label = painter.fontMetrics().elidedText(lane.name, Qt.TextElideMode.ElideRight, LABEL_W - 14)
            painter.drawText(QRectF(8, top, LABEL_W - 12, LANE_H), Qt.AlignmentFlag.AlignVCenter, label)
            if lane.kind == "heat":
                self._paint_heat(painter, lane, top, area)
            else:
                runs = self.span_columns(lane)
                outline = (
                    QColor(lane.colour).darker(170) if len(runs) < area.width() / 8 else Qt.PenStyle.NoPen
                )
                painter.setPen(outline)
                for x0, x1, alpha in runs:
                    colour = QColor(lane.colour)
                    colour.setAlphaF(alpha)
                    painter.setBrush(colour)
                    painter.drawRoundedRect(
                        QRectF(area.left() + x0, top + 3, max(1, x1 - x0), LANE_H - 6), 2, 2
                    )

    def span_columns(self, lane: Lane) -> list[tuple[int, int, float]]:
        """The lane's spans in view as runs of covered pixel columns: (x0, x1, opacity), x from the time
        area's left. Spans that share a column merge, so the runs are never more than the columns; spans that
        touch end to start stay apart by a pixel, so neighbours remain two."""
        width = int(self.time_area().width())
        end = self.start_s + self.span_s
        if len(lane.starts) == 0 or width <= 0:
            return []
        visible = (lane.ends > self.start_s) & (lane.starts < end)
        starts, ends = lane.starts[visible], lane.ends[visible]
        if len(starts) == 0:
            return []
        px = width / self.span_s
        x0 = np.clip(np.floor((starts - self.start_s) * px).astype(np.int64), 0, width - 1)
        x1 = np.clip(np.ceil((ends - self.start_s) * px).astype(np.int64) - 1, x0 + 1, width)
        cover = np.zeros(width + 1, dtype=np.int64)
        np.add.at(cover, x0, 1)
        np.add.at(cover, x1, -1)
        covered = np.cumsum(cover[:-1]) > 0
        best = np.zeros(width)
        scores = lane.values[visible] if lane.values is not None else np.ones(len(starts))
        np.maximum.at(best, x0, scores)  # a column's opacity follows the best span starting there
        edges = np.flatnonzero(np.diff(np.concatenate([[0], covered.astype(np.int8), [0]])))
        runs = []
        for a, b in zip(edges[::2], edges[1::2], strict=True):
            score = float(best[a:b].max()) if best[a:b].any() else 1.0
            runs.append((int(a), int(b), 0.45 + 0.55 * min(1.0, max(0.0, score))))
        return runs

    def _paint_heat(self, painter: QPainter, lane: Lane, top: float, area: QRectF) -> None:
        """One pixel row: each column takes the value of the window under its centre (none: lane colour)."""
        width = int(area.width())
        if width <= 0 or len(lane.starts) == 0 or lane.values is None:
            return
        times = self.start_s + (np.arange(width) + 0.5) * self.span_s / width  # [width] column centres
        i = np.clip(np.searchsorted(lane.starts, times, side="right") - 1, 0, None)
        inside = (times >= lane.starts[i]) & (times < lane.ends[i])
        rgb = np.empty((1, width, 3), np.uint8)
        rgb[0] = (36, 38, 42)
        rgb[0, inside] = (HEAT_LOW + (HEAT_HIGH - HEAT_LOW) * lane.values[i[inside], None]).astype(np.uint8)
        row = QImage(rgb.data, width, 1, 3 * width, QImage.Format.Format_RGB888)
        painter.drawImage(QRectF(area.left(), top + 3, width, LANE_H - 6), row)

    # ----- mouse --------------------------------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:
        if (
            event.button() == Qt.MouseButton.LeftButton
            and event.position().x() >= LABEL_W
            and self.duration_s
        ):
            self._dragging = True
            self.follow_playhead = True
            self.seek_requested.emit(self.snapped(self.time_at(event.position().x())), True)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        x = event.position().x()
        if self._dragging:
            self.seek_requested.emit(self.snapped(self.time_at(x)), True)
        elif x >= LABEL_W and self.duration_s:
            QToolTip.showText(event.globalPosition().toPoint(), self._hover_text(event.position()), self)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._dragging and event.button() == Qt.MouseButton.LeftButton:
            self._dragging = False
            self.seek_requested.emit(self.snapped(self.time_at(event.position().x())), False)

    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() / 120 or event.angleDelta().x() / 120
        if not steps or not self.duration_s:
            return
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self._zoom(ZOOM_STEP ** (-steps), self.time_at(event.position().x()))
        else:
            self.follow_playhead = False  # the user looks elsewhere until the next seek
            shift = -steps * self.span_s * 0.1
            self.set_view_range(self.start_s + shift, self.start_s + shift + self.span_s)
        event.accept()

    def _hover_text(self, pos: QPointF) -> str:
        t = self.time_at(pos.x())
        text = format_timecode(t)
        row = int((pos.y() - RULER_H - THUMB_H) // LANE_H)
        if pos.y() > RULER_H + THUMB_H and 0 <= row < len(self.lanes):
            lane = list(self.lanes.values())[row]
            i = int(np.searchsorted(lane.starts, t, side="right")) - 1
            if i >= 0 and t < lane.ends[i]:
                if lane.kind == "heat":
                    text += f"  {lane.name}: {lane.values[i]:.2f}"
                else:
                    caption = lane.labels[i] if lane.labels else lane.name
                    score = f" ({lane.values[i]:.2f})" if lane.values is not None else ""
                    text += f"  {caption}{score}"
        return text

    def _thumbnails_arrived(self) -> None:
        self._thumb_times = sorted(self.thumbnails.images)
        self._changed()

    def _ask_thumbnails(self) -> None:
        """Denser thumbnails for the range in view (one per slot), once the coarse ones are not enough."""
        slots = max(1, int(self.time_area().width() / (THUMB_H * 16 / 9)))
        if self.span_s < self.duration_s * 0.9:
            self.thumbnails.ask(self.start_s + (np.arange(slots) + 0.5) * self.span_s / slots)

    def closeEvent(self, event) -> None:
        self.thumbnails.close()
        super().closeEvent(event)


def _nice_step(at_least: float) -> float:
    """The smallest step >= at_least: 1, 2 or 5 x 10^k s below 10 s, clock steps (15 s ... 6 h) above."""
    clock = (10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600)
    if at_least >= 10:
        return float(next((s for s in clock if s >= at_least), math.ceil(at_least / 3600) * 3600))
    exponent = math.floor(math.log10(max(at_least, 1e-6)))
    for base in NICE_STEPS:
        if base * 10**exponent >= at_least:
            return base * 10**exponent
    return 10 ** (exponent + 1)


def _subdivisions(step: float) -> int:
    """Minor ticks per major step: 1 -> 5, 2 -> 4, 5 -> 5; 15 s and 30 s -> 3 (5 s, 10 s); 1 min -> 4."""
    clock = {15: 3, 30: 3, 60: 4, 120: 4, 900: 3, 1800: 3, 3600: 4, 7200: 4, 10800: 3, 21600: 6}
    if round(step) in clock and step >= 10:
        return clock[round(step)]
    leading = round(step / 10 ** math.floor(math.log10(step)))
    return 4 if leading == 2 else 5


def _tick_label(seconds: float, step: float) -> str:
    """HH:MM:SS for whole-second steps (MM:SS under an hour), SS.mmm or M:SS.mmm below a second."""
    if step >= 1:
        whole = round(seconds)
        h, rest = divmod(whole, 3600)
        m, s = divmod(rest, 60)
        return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"
    digits = max(1, min(3, -math.floor(math.log10(step))))
    m, s = divmod(seconds, 60)
    return f"{int(m)}:{s:0{3 + digits}.{digits}f}" if m else f"{s:.{digits}f}"
