"""The picture: one frame painted aspect-fit on black, with overlays for that same frame, and clicks mapped
back to video pixels.

The widget draws what it is given (`show_frame(image, index)`), never "the current position", so an
overlay painter receives the index of the frame actually on screen (gui_patterns §2.3). Coordinates
crossing its boundary are displayed-video pixels (rotation applied): `to_video(pos)` inverts exactly the
transform used to paint. Without a video it shows how to open one; `set_message` shows a state over the
picture (loading, an error).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

OverlayPainter = Callable[[QPainter, int, QRectF], None]  # (painter in video pixels, frame index, video rect)
DRAG_PX = 6  # a press that moves less than this is a click
EMPTY_TEXT = "Open a video: File ▸ Open Video… (Ctrl+O), or drop a file here"


class VideoView(QWidget):
    clicked = Signal(float, float, object)  # x, y in video pixels, the Qt.MouseButton
    picked = Signal(float, float, object, object)  # a click released without a drag: x, y, button, modifiers
    box_drawn = Signal(float, float, float, float)  # a left drag while `draws_boxes`: x0, y0, x1, y1
    painted = Signal(int)  # the index of the frame just painted (its overlays included)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(320, 180)
        self.image: QImage | None = None
        self.frame_index = -1
        self.video_size: QSize | None = None  # displayed size of the video
        self.message = ""
        self.overlays: list[OverlayPainter] = []
        self.draws_boxes = False  # left drags draw a box (tracking mode) instead of being a click
        self._press: QPointF | None = None  # where the left button went down
        self._drag: QPointF | None = None  # where a box drag is now

    def sizeHint(self) -> QSize:
        return QSize(960, 540)

    # ----- what to show -------------------------------------------------------------------------------------
    def set_video_size(self, width: int, height: int) -> None:
        self.video_size = QSize(width, height)
        self.update()

    def show_frame(self, image: QImage, index: int) -> None:
        self.image, self.frame_index = image, index
        self.update()

    def clear(self) -> None:
        self.image, self.frame_index, self.video_size = None, -1, None
        self.update()

    def set_message(self, text: str) -> None:
        self.message = text
        self.update()

    # ----- geometry -----------------------------------------------------------------------------------------
    def video_rect(self) -> QRectF:
        """Where the video's pixels land in the widget: aspect-fit, centred."""
        if self.video_size is None or self.video_size.isEmpty():
            return QRectF()
        w, h = self.video_size.width(), self.video_size.height()
        scale = min(self.width() / w, self.height() / h)
        return QRectF((self.width() - w * scale) / 2, (self.height() - h * scale) / 2, w * scale, h * scale)

    def to_video(self, pos: QPointF) -> tuple[float, float] | None:
        """Widget position -> displayed-video pixels (floats), None outside the picture."""
        rect = self.video_rect()
        if rect.isEmpty() or not rect.contains(pos):
            return None
        assert self.video_size is not None
        w, h = self.video_size.width(), self.video_size.height()
        x, y = (pos.x() - rect.x()) * w / rect.width(), (pos.y() - rect.y()) * h / rect.height()
        return min(x, math.nextafter(w, 0)), min(y, math.nextafter(h, 0))  # the far edge is outside

    # ----- Qt -----------------------------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        try:
            self._paint(painter)
        finally:  # a painter left active by a failing overlay crashes the process
            painter.end()
        self.painted.emit(self.frame_index)

    def _paint(self, painter: QPainter) -> None:
        painter.fillRect(self.rect(), QColor(0, 0, 0))
        rect = self.video_rect()
        if self.image is not None and not rect.isEmpty():
            painter.setRenderHint(
                QPainter.RenderHint.SmoothPixmapTransform, rect.width() < self.image.width()
            )
            painter.drawImage(rect, self.image)
            if self.overlays and self.video_size is not None:
                painter.save()
                painter.translate(rect.topLeft())
                painter.scale(
                    rect.width() / self.video_size.width(), rect.height() / self.video_size.height()
                )
                for overlay in self.overlays:
                    overlay(
                        painter,
                        self.frame_index,
                        QRectF(0, 0, self.video_size.width(), self.video_size.height()),
                    )
                painter.restore()
        if self._press is not None and self._drag is not None:
            painter.setPen(QPen(QColor(255, 255, 255), 1, Qt.PenStyle.DashLine))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(QRectF(self._press, self._drag).normalized())
        text = self.message or ("" if self.video_size is not None else EMPTY_TEXT)
        if text:
            self._draw_message(painter, text)

    def _draw_message(self, painter: QPainter, text: str) -> None:
        font = QFont(self.font())
        font.setPointSizeF(max(10.0, font.pointSizeF() * 1.15))
        painter.setFont(font)
        metrics = painter.fontMetrics()
        width = min(self.width() - 40, metrics.horizontalAdvance(text) + 32)
        box = QRectF((self.width() - width) / 2, (self.height() - 44) / 2, width, 44)
        if self.image is not None:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(0, 0, 0, 170))
            painter.drawRoundedRect(box, 6, 6)
        painter.setPen(QColor(225, 225, 225))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, text)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        where = self.to_video(event.position())
        if where is not None:
            self.clicked.emit(where[0], where[1], event.button())
            self._press = event.position()
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        pressed = self._press is not None and self.draws_boxes and event.buttons() & Qt.MouseButton.LeftButton
        if pressed and (
            self._drag is not None or (event.position() - self._press).manhattanLength() >= DRAG_PX
        ):
            self._drag = self._inside(event.position())
            self.update()
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        press, drag, self._press, self._drag = self._press, self._drag, None, None
        if press is not None and drag is not None:
            start, end = self.to_video(press), self.to_video(drag)
            if start is not None and end is not None and start[0] != end[0] and start[1] != end[1]:
                self.box_drawn.emit(*start, *end)
            self.update()
        elif press is not None and (where := self.to_video(press)) is not None:
            self.picked.emit(where[0], where[1], event.button(), event.modifiers())
        super().mouseReleaseEvent(event)

    def _inside(self, pos: QPointF) -> QPointF:
        rect = self.video_rect()
        return QPointF(
            min(max(pos.x(), rect.left()), rect.right()), min(max(pos.y(), rect.top()), rect.bottom())
        )
