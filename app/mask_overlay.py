"""Masks, contours, ids and boxes of the tracked objects, painted over the frame the view shows.

    overlay = MaskOverlay(store)            # an engine.tracking.TrackStore the controller fills
    overlay.colors = {1: QColor("#ff5a5a")}
    view.overlays.append(overlay.paint)     # VideoView calls it with the index of the frame on screen

The frame is the one VideoView was handed with its picture (`show_frame(image, index)`), never a clock,
so a mask can only be drawn over its own frame. All objects of a frame become one indexed image (0 is
clear, object slot k its fill, 128 + k its outline) turned into a premultiplied ARGB image once and
kept per frame, keyed by the masks themselves and the look: painting a frame seen before is one
drawImage. A frame's first paint decodes only each mask's box of its RLE (`decode_box`) and outlines it
with one erosion, a few milliseconds for 3 objects at 1080p, so a seek's first picture keeps up too;
`prepare` does that ahead for the frame playback reaches next (the window calls it once the view has
painted the frame before, so it never delays a frame already waiting to be painted).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import cv2
import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen

from engine.tracking import FrameMask, TrackStore, decode_box

CACHED_FRAMES = 48  # prepared frames kept: at most 8 MiB each at 1080p
OUTLINE = 128  # ids at and above it are outlines
POSITIVE, NEGATIVE = QColor("#3ddc84"), QColor("#ff4d4d")
STEP = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))  # one erosion step: the 4 neighbours


@dataclass
class OverlayStyle:
    """How the masks look; the Objects page and its keys change it."""

    opacity: float = 0.5  # of the fill; outlines are opaque
    contours: bool = True
    boxes: bool = False
    labels: bool = True  # the object's id and name at its box
    hidden: bool = False  # hide all masks (clicks stay visible)


class MaskOverlay:
    def __init__(self, store: TrackStore | None = None) -> None:
        self.store = store
        self.style = OverlayStyle()
        self.colors: dict[int, QColor] = {}  # the objects drawn, with their colours, in drawing order
        self.names: dict[int, str] = {}
        # LRU: frame index -> (key, (top-left, image))
        self._frames: OrderedDict[int, tuple[tuple, tuple[QPointF, QImage]]] = OrderedDict()

    def clear(self) -> None:
        self._frames.clear()

    # ----- painting -----------------------------------------------------------------------------------------
    def paint(self, painter: QPainter, frame_index: int, rect: QRectF) -> None:
        """VideoView's overlay: `painter` is in video pixels, `frame_index` the frame under it."""
        if self.store is None or frame_index < 0:
            return
        masks = self._masks(frame_index)
        if masks and not self.style.hidden:
            prepared = self.prepare(frame_index, masks)
            if prepared is not None:
                painter.drawImage(*prepared)
            if self.style.boxes or self.style.labels:
                self._paint_boxes(painter, masks)
        self._paint_clicks(painter, frame_index)

    def prepare(
        self, frame_index: int, masks: dict[int, FrameMask] | None = None
    ) -> tuple[QPointF, QImage] | None:
        """The frame's mask image and where it goes (made now if not kept yet); None when nothing shows."""
        if self.store is None:
            return None
        masks = self._masks(frame_index) if masks is None else masks
        if not masks:
            return None
        key = (
            tuple((obj, m.rle, self.colors[obj].rgba()) for obj, m in masks.items()),
            round(self.style.opacity, 3),
            self.style.contours,
        )
        kept = self._frames.get(frame_index)
        if kept is not None and kept[0] == key:
            self._frames.move_to_end(frame_index)
            return kept[1]
        image = self._render(masks)
        self._frames[frame_index] = (key, image)
        self._frames.move_to_end(frame_index)
        while len(self._frames) > CACHED_FRAMES:
            self._frames.popitem(last=False)
        return image

    def _masks(self, frame_index: int) -> dict[int, FrameMask]:
        assert self.store is not None
        found = {obj: self.store.get(obj, frame_index) for obj in self.colors}
        return {obj: m for obj, m in found.items() if m is not None and m.area > 0}

    def _render(self, masks: dict[int, FrameMask]) -> tuple[QPointF, QImage]:
        """The masks as one image over the union of their boxes (a small object costs a small image)."""
        store = self.store
        assert store is not None
        x0 = min(m.bbox[0] for m in masks.values())
        y0 = min(m.bbox[1] for m in masks.values())
        x1 = max(m.bbox[0] + m.bbox[2] for m in masks.values())
        y1 = max(m.bbox[1] + m.bbox[3] for m in masks.values())
        ids = np.zeros((y1 - y0, x1 - x0), np.uint8)
        table = [0] * 256
        thickness = max(1, round(max(store.width, store.height) / 600))
        for slot, (obj, m) in enumerate(masks.items(), start=1):
            x, y, w, h = m.bbox
            inside = decode_box(m.rle, store.height, m.bbox)
            region = ids[y - y0 : y - y0 + h, x - x0 : x - x0 + w]
            region[inside] = slot
            if self.style.contours:
                region[_outline(inside, thickness)] = OUTLINE + slot
            color = self.colors[obj]
            fill = QColor(color)
            fill.setAlphaF(max(0.0, min(1.0, self.style.opacity)))
            table[slot], table[OUTLINE + slot] = fill.rgba(), color.rgba()
        indexed = QImage(ids.data, ids.shape[1], ids.shape[0], ids.shape[1], QImage.Format.Format_Indexed8)
        indexed.setColorTable(table)
        # convertToFormat copies, so `ids` may go
        return QPointF(x0, y0), indexed.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)

    def _paint_boxes(self, painter: QPainter, masks: dict[int, FrameMask]) -> None:
        painter.save()
        font = QFont(painter.font())
        font.setBold(True)
        to_widget = painter.transform()
        for obj, m in masks.items():
            x, y, w, h = m.bbox
            color = self.colors[obj]
            if self.style.boxes:
                pen = QPen(color, 2)
                pen.setCosmetic(True)
                painter.setPen(pen)
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawRect(QRectF(x, y, w, h))
            if self.style.labels:
                corner = to_widget.map(QPointF(x, y))
                painter.save()
                painter.resetTransform()  # text at the screen's size, whatever the zoom
                painter.setFont(font)
                text = f"{obj} {self.names.get(obj, '')}".strip()
                box = painter.fontMetrics().boundingRect(text).adjusted(-4, -2, 4, 2)
                box.moveBottomLeft(corner.toPoint())
                if box.top() < 0:
                    box.moveTop(corner.toPoint().y())
                painter.fillRect(box, color)
                painter.setPen(QColor(0, 0, 0) if color.lightnessF() > 0.5 else QColor(255, 255, 255))
                painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
                painter.restore()
        painter.restore()

    def _paint_clicks(self, painter: QPainter, frame_index: int) -> None:
        """The clicks given on this frame: green keeps, red leaves out, a dashed box."""
        assert self.store is not None
        prompts = [
            (obj, p) for obj in self.colors for p in self.store.prompts(obj) if p.frame_index == frame_index
        ]
        if not prompts:
            return
        to_widget = painter.transform()
        painter.save()
        painter.resetTransform()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        for obj, prompt in prompts:
            if prompt.box is not None:
                x0, y0, x1, y1 = prompt.box
                pen = QPen(self.colors[obj], 1.5, Qt.PenStyle.DashLine)
                painter.setPen(pen)
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawRect(QRectF(to_widget.map(QPointF(x0, y0)), to_widget.map(QPointF(x1, y1))))
            for (x, y), label in zip(prompt.points, prompt.labels, strict=True):
                painter.setPen(QPen(QColor(0, 0, 0), 1.5))
                painter.setBrush(POSITIVE if label else NEGATIVE)
                painter.drawEllipse(to_widget.map(QPointF(x, y)), 5, 5)
        painter.restore()


def _outline(inside: np.ndarray, thickness: int) -> np.ndarray:
    """The mask's pixels at most `thickness` 4-neighbour steps from a pixel outside it; beyond the box
    (so beyond the frame) counts as outside."""
    core = cv2.erode(inside.view(np.uint8), STEP, iterations=thickness, borderValue=0)
    return inside & ~core.view(bool)
