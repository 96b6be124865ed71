"""How the timeline looks: its palette and sizes, where its parts are (`Layout`), and the painting of its
layers. The static layers (ruler, thumbnail strip, lanes, names) are painted into one pixmap; the
playhead and the hover line are painted over it on every repaint.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QLineF, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPixmap, QPolygonF

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
HEAT_SWATCH = QColor("#de4968")
LANE_COLORS = ("#4f8cff", "#f2a93b", "#3ccf91", "#e5534b", "#a371f7", "#39c5cf", "#d9d957", "#ff7eb6")

HEADER_W = 112  # the lane names
RULER_H = 26
STRIP_H = 48
SPAN_LANE_H = 22
HEAT_LANE_H = 14
BOTTOM_PAD = 3
PLAYHEAD_HEAD_W = 11
FONT_PX = 10


def timeline_font(base: QFont) -> QFont:
    font = QFont(base)
    font.setPixelSize(FONT_PX)
    return font


def lane_height(lane: SpanLane | HeatLane) -> int:
    return SPAN_LANE_H if isinstance(lane, SpanLane) else HEAT_LANE_H


@dataclass(frozen=True)
class Layout:
    """Where the parts are for one size and view: names on the left, time to the right of HEADER_W."""

    width: int
    height: int
    strip_h: int  # 0: no thumbnail strip
    start_s: float
    span_s: float
    duration_s: float

    @property
    def track_width(self) -> int:
        return max(1, self.width - HEADER_W)

    @property
    def px_per_s(self) -> float:
        return self.track_width / self.span_s if self.span_s > 0 else 1.0

    def x_of(self, seconds: float) -> float:
        return HEADER_W + (seconds - self.start_s) * self.px_per_s

    def time_at(self, x: float) -> float:
        return self.start_s + (x - HEADER_W) / self.px_per_s

    def slot_times(self, slot_px: float) -> list[float]:
        """The left-edge times of the strip's visible slots: the grid is fixed in time, so slots scroll with
        the video, and each shows the latest keyframe at or before its left edge."""
        slot_s = slot_px / self.px_per_s
        first = math.floor(self.start_s / slot_s)
        last = math.ceil((self.start_s + self.span_s) / slot_s)
        return [k * slot_s for k in range(first, last) if k * slot_s < self.duration_s]


def slot_px(thumbnails: ThumbnailProducer | None, strip_h: int) -> float:
    """A strip slot's width: one thumbnail at the strip's height (16:9 until one is known), a 1 px gap."""
    first = thumbnails.cache.at_or_before(math.inf) if thumbnails else None
    aspect = first[1].width() / first[1].height() if first else 16 / 9
    return max(8.0, round((strip_h - 4) * aspect)) + 1


@dataclass
class Painted:
    """What a static paint drew, for tests and benchmarks."""

    ticks: Ticks | None = None
    labels: list[tuple[QRectF, str]] = field(default_factory=list)  # ruler labels, in order
    runs: dict[str, int] = field(default_factory=dict)  # rectangles per span lane


class StaticPainter:
    """Paints the static layers of one timeline into a pixmap."""

    def __init__(self, font: QFont) -> None:
        self.font = font
        self.metrics = QFontMetricsF(font)

    def paint(
        self,
        layout: Layout,
        ratio: float,
        lanes: dict[str, SpanLane | HeatLane],
        thumbnails: ThumbnailProducer | None,
        frame_times: np.ndarray | None,
    ) -> tuple[QPixmap, Painted]:
        pixmap = QPixmap(round(layout.width * ratio), round(layout.height * ratio))
        pixmap.setDevicePixelRatio(ratio)
        pixmap.fill(BACKGROUND)
        painted = Painted()
        p = QPainter(pixmap)
        p.setFont(self.font)
        track = QRectF(HEADER_W, 0, layout.track_width, layout.height)
        p.fillRect(QRectF(0, 0, HEADER_W, layout.height), HEADER)
        p.fillRect(QRectF(HEADER_W, 0, layout.track_width, RULER_H), RULER)
        if layout.duration_s > 0:
            end = layout.start_s + layout.span_s
            width = self.metrics.horizontalAdvance
            painted.ticks = ruler_ticks(
                layout.start_s, end, HEADER_W, layout.track_width, layout.duration_s, width, frame_times
            )
            p.setClipRect(track)
            self._ruler(p, painted)
            if layout.strip_h:
                self._strip(p, layout, thumbnails)
            self._lanes(p, layout, lanes, painted)
            p.setClipping(False)
        else:
            p.setPen(TEXT_DIM)
            p.drawText(track, Qt.AlignmentFlag.AlignCenter, "No video")
        self._names(p, layout, lanes)
        p.setPen(BORDER)
        p.drawLine(QPointF(HEADER_W - 0.5, 0), QPointF(HEADER_W - 0.5, layout.height))
        p.drawLine(QPointF(0, RULER_H - 0.5), QPointF(layout.width, RULER_H - 0.5))
        p.end()
        return pixmap, painted

    def _ruler(self, p: QPainter, painted: Painted) -> None:
        ticks, bottom = painted.ticks, RULER_H - 1
        for xs, top, color in (
            (ticks.frame_x, bottom - 4, TICK_FRAME),
            (ticks.minor_x, bottom - 5, TICK_MINOR),
            (ticks.major_x, 3, TICK_MAJOR),
        ):
            p.setPen(color)
            vertical_lines(p, xs, top, bottom)
        for x, label in zip(ticks.major_x, ticks.labels, strict=True):
            rect = QRectF(x + LABEL_PAD_PX, 3, self.metrics.horizontalAdvance(label), self.metrics.height())
            if rect.left() >= HEADER_W:  # half a label at the left edge reads as a different time
                painted.labels.append((rect, label))
        p.setPen(TEXT)
        ascent = self.metrics.ascent()
        for rect, label in painted.labels:
            p.drawText(QPointF(rect.left(), rect.top() + ascent), label)

    def _strip(self, p: QPainter, layout: Layout, thumbnails: ThumbnailProducer | None) -> None:
        area = QRectF(HEADER_W, RULER_H, layout.track_width, layout.strip_h)
        p.fillRect(area, BACKGROUND)
        inner, slot = area.height() - 4, slot_px(thumbnails, layout.strip_h)
        video_end = layout.x_of(layout.duration_s)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        for t in layout.slot_times(slot):
            x = layout.x_of(t)
            cell = QRectF(x, area.top() + 2, min(slot - 1, video_end - x), inner)
            found = thumbnails.at_or_before(t) if thumbnails else None
            if found is None:
                p.fillRect(cell, STRIP_EMPTY)
                continue
            pixmap = found[1]
            p.save()
            p.setClipRect(cell.intersected(area))
            target = QRectF(x, cell.top(), inner * pixmap.width() / pixmap.height(), inner)
            p.drawPixmap(target, pixmap, QRectF(pixmap.rect()))
            p.restore()
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)

    def _lanes(self, p: QPainter, layout: Layout, lanes: dict, painted: Painted) -> None:
        top = RULER_H + layout.strip_h
        rows = []
        for i, lane in enumerate(lanes.values()):
            y = top + sum(r.height() for r in rows)
            rows.append(QRectF(HEADER_W, y, layout.track_width, lane_height(lane)))
            p.fillRect(rows[-1], ROW if i % 2 == 0 else ROW_ALT)
        p.setPen(GRID)
        vertical_lines(p, painted.ticks.major_x, top, layout.height)
        for (name, lane), row in zip(lanes.items(), rows, strict=True):
            if isinstance(lane, SpanLane):
                runs = lane.runs(layout.start_s, layout.px_per_s, layout.track_width)
                painted.runs[name] = len(runs.x0)
                self._runs(p, lane, runs, row)
            elif lane.image is not None:
                cps = lane.columns_per_s
                source = QRectF(layout.start_s * cps, 0, layout.span_s * cps, 1)
                p.drawImage(row.adjusted(0, 2, 0, -3), lane.image, source)
        p.setPen(BORDER)
        p.drawLines([QLineF(HEADER_W, r.bottom() - 0.5, layout.width, r.bottom() - 0.5) for r in rows])

    def _runs(self, p: QPainter, lane: SpanLane, runs: Runs, row: QRectF) -> None:
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
                text = self.metrics.elidedText(label, Qt.TextElideMode.ElideRight, visible.width() - 8)
                p.drawText(visible.adjusted(5, 0, -3, 0), Qt.AlignmentFlag.AlignVCenter, text)

    def _names(self, p: QPainter, layout: Layout, lanes: dict) -> None:
        rows: list[tuple[str, int, QColor | None]] = (
            [("Video", layout.strip_h, None)] if layout.strip_h else []
        )
        for name, lane in lanes.items():
            rows.append((name, lane_height(lane), lane.color if isinstance(lane, SpanLane) else HEAT_SWATCH))
        y = RULER_H
        for name, height, swatch in rows:
            if swatch is not None:
                p.fillRect(QRectF(6, y + 4, 3, height - 8), swatch)
            p.setPen(TEXT)
            text = self.metrics.elidedText(name, Qt.TextElideMode.ElideRight, HEADER_W - 22)
            p.drawText(QRectF(14, y, HEADER_W - 18, height), Qt.AlignmentFlag.AlignVCenter, text)
            p.setPen(BORDER)
            p.drawLine(QPointF(0, y + height - 0.5), QPointF(HEADER_W, y + height - 0.5))
            y += height


def paint_playhead(p: QPainter, layout: Layout, position_s: float, font: QFont) -> None:
    """The playhead's time over the names, its line through the lanes and its head on the ruler."""
    p.setFont(font)
    p.setPen(TEXT)
    clock = QRectF(0, 0, HEADER_W - 1, RULER_H - 1)
    p.fillRect(clock, HEADER)
    p.drawText(clock, Qt.AlignmentFlag.AlignCenter, format_timecode(position_s))
    x = layout.x_of(position_s)
    if not HEADER_W <= x < layout.width:
        return
    xi = math.floor(x) + 0.5
    p.setPen(PLAYHEAD)
    p.drawLine(QPointF(xi, RULER_H - 8), QPointF(xi, layout.height))
    half = PLAYHEAD_HEAD_W / 2
    corners = ((-half, -13), (half, -13), (half, -7), (0, -1), (-half, -7))
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setBrush(PLAYHEAD)
    p.drawPolygon(QPolygonF([QPointF(xi + dx, RULER_H + dy) for dx, dy in corners]))


def hover_badge(layout: Layout, x: float, metrics: QFontMetricsF) -> QRectF:
    """Where the time under the mouse is shown on the ruler."""
    width = metrics.horizontalAdvance("00:00:00.000") + 10
    left = min(max(x - width / 2, HEADER_W), layout.width - width)
    return QRectF(left, 1, width, RULER_H - 10)


def paint_hover(p: QPainter, layout: Layout, x: float, text: str, font: QFont) -> None:
    """A faint line under the mouse and its time in a badge on the ruler."""
    p.setPen(HOVER)
    p.drawLine(QPointF(math.floor(x) + 0.5, RULER_H), QPointF(math.floor(x) + 0.5, layout.height))
    badge = hover_badge(layout, x, QFontMetricsF(font))
    p.fillRect(badge, HOVER_BADGE)
    p.setPen(TEXT)
    p.setFont(font)
    p.drawText(badge, Qt.AlignmentFlag.AlignCenter, text)


def vertical_lines(p: QPainter, xs: list[float], top: float, bottom: float) -> None:
    """One-pixel lines on the pixel columns of `xs` (a line on a pixel's centre covers just that pixel)."""
    p.drawLines([QLineF(math.floor(x) + 0.5, top, math.floor(x) + 0.5, bottom) for x in xs])


def _luminance(color: QColor) -> float:
    """Perceived brightness in [0, 1] (Rec. 601 weights): picks dark or light text on a span."""
    return 0.299 * color.redF() + 0.587 * color.greenF() + 0.114 * color.blueF()
