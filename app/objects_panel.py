"""The Objects page of the side panel: the tracked objects and how their masks are drawn.

A row per object (colour, id and name, where it shows), buttons to add, rename, recolour and remove,
tracking mode and propagation with its progress, time left and Cancel, and the overlay's look: opacity,
contours, boxes, hide all. It draws the controller's state and calls it; it holds none of its own.
"""

from __future__ import annotations

import math

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QColorDialog,
    QComboBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from app.mask_overlay import OverlayStyle
from app.progress_bar import ProgressBar
from app.tracking_controller import TrackingController
from engine.timecode import format_timecode

HINT = (
    "Press T (or Track) and click an object: left click keeps a point, right click or Alt+click leaves it "
    "out, a drag draws a box. N starts another object; 1-9 pick one. Ctrl+T tracks it."
)


class ObjectsPanel(QWidget):
    style_changed = Signal()  # the overlay's look changed: repaint

    def __init__(self, controller: TrackingController, style: OverlayStyle, parent: QWidget | None = None):
        super().__init__(parent)
        self.controller, self.style = controller, style
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 10, 10, 10)
        layout.setSpacing(8)

        top = QHBoxLayout()
        self.mode = QPushButton("Track (T)")
        self.mode.setCheckable(True)
        self.mode.setToolTip("Tracking mode: clicks on the picture segment the selected object")
        self.mode.toggled.connect(controller.set_mode)
        self.add = QPushButton("New object (N)")
        self.add.clicked.connect(controller.new_object)
        top.addWidget(self.mode)
        top.addWidget(self.add)
        layout.addLayout(top)

        self.hint = QLabel(HINT)
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: palette(mid);")
        layout.addWidget(self.hint)

        self.list = QListWidget()
        self.list.currentItemChanged.connect(self._picked)
        self.list.itemDoubleClicked.connect(lambda _item: self._rename())
        layout.addWidget(self.list, 1)

        edit = QHBoxLayout()
        self.rename = QPushButton("Rename…")
        self.rename.clicked.connect(self._rename)
        self.color = QPushButton("Colour…")
        self.color.clicked.connect(self._recolor)
        self.remove = QPushButton("Remove")
        self.remove.clicked.connect(self._remove)
        for button in (self.rename, self.color, self.remove):
            edit.addWidget(button)
        layout.addLayout(edit)

        run = QHBoxLayout()
        self.scope = QComboBox()
        self.scope.addItems(["Moment (or ±10 s)", "Whole video"])
        self.scope.setToolTip("What Propagate tracks: the moment under the playhead, or the whole video")
        self.propagate = QPushButton("Propagate (Ctrl+T)")
        self.propagate.clicked.connect(lambda: controller.propagate(whole=self.scope.currentIndex() == 1))
        run.addWidget(self.scope, 1)
        run.addWidget(self.propagate)
        layout.addLayout(run)

        self.busy_row = QWidget()
        busy = QVBoxLayout(self.busy_row)
        busy.setContentsMargins(0, 0, 0, 0)
        bar = QHBoxLayout()
        self.progress = ProgressBar()
        self.progress.setTextVisible(False)
        self.cancel = QPushButton("Cancel")
        self.cancel.clicked.connect(controller.cancel)
        bar.addWidget(self.progress, 1)
        bar.addWidget(self.cancel)
        self.left = QLabel("")
        busy.addLayout(bar)
        busy.addWidget(self.left)
        self.busy_row.hide()
        layout.addWidget(self.busy_row)

        look = QHBoxLayout()
        look.addWidget(QLabel("Opacity"))
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setToolTip("Mask opacity (Ctrl+[ / Ctrl+])")
        self.opacity.valueChanged.connect(self._opacity)
        look.addWidget(self.opacity, 1)
        layout.addLayout(look)
        toggles = QHBoxLayout()
        self.contours = QCheckBox("Contours (C)")
        self.boxes = QCheckBox("Boxes (B)")
        self.hidden = QCheckBox("Hide all (H)")
        for box, name in ((self.contours, "contours"), (self.boxes, "boxes"), (self.hidden, "hidden")):
            box.toggled.connect(lambda on, name=name: self._toggle(name, on))
            toggles.addWidget(box)
        layout.addLayout(toggles)

        controller.objects_changed.connect(self.refresh)
        controller.presence_changed.connect(self.refresh)
        controller.mode_changed.connect(self._mode)
        controller.busy_changed.connect(self._busy)
        controller.progress_changed.connect(self._progress)
        self.show_style()
        self.refresh()

    # ----- from the controller ------------------------------------------------------------------------------
    def refresh(self) -> None:
        c = self.controller
        self.list.blockSignals(True)
        self.list.clear()
        for obj in c.objects():
            item = QListWidgetItem(
                _swatch(obj.color), f"{obj.obj_id}  {obj.name}    {self._where(obj.obj_id)}"
            )
            item.setData(Qt.ItemDataRole.UserRole, obj.obj_id)
            self.list.addItem(item)
            if obj.obj_id == c.current:
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)
        chosen = self._chosen() is not None
        for button in (self.rename, self.color, self.remove):
            button.setEnabled(chosen)
        self.propagate.setEnabled(bool(c.objects()) and not c.busy)
        self.hint.setVisible(not c.objects())

    def show_style(self) -> None:
        """Show the overlay's look as it is now (after a key changed it)."""
        for widget, value in (
            (self.opacity, round(self.style.opacity * 100)),
            (self.contours, self.style.contours),
            (self.boxes, self.style.boxes),
            (self.hidden, self.style.hidden),
        ):
            widget.blockSignals(True)
            widget.setValue(value) if isinstance(widget, QSlider) else widget.setChecked(value)
            widget.blockSignals(False)

    def _where(self, obj_id: int) -> str:
        if self.controller.info is None:
            return ""
        starts, ends = self.controller.presence(obj_id)
        if not len(starts):
            return "not tracked yet"
        return f"{format_timecode(float(starts[0]))} – {format_timecode(float(ends[-1]))}"

    def _mode(self, on: bool) -> None:
        self.mode.blockSignals(True)
        self.mode.setChecked(on)
        self.mode.blockSignals(False)

    def _busy(self, busy: bool) -> None:
        self.busy_row.setVisible(busy)
        self.progress.setRange(0, 0)  # busy until the first frames say how many
        self.left.setText("starting…")
        self.refresh()

    def _progress(self, done: int, total: int, left_s: float) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        left = "" if math.isnan(left_s) else f", about {_duration(left_s)} left"
        self.left.setText(f"Tracking: {done:,} of {total:,} frames{left}")

    # ----- to the controller --------------------------------------------------------------------------------
    def _chosen(self) -> int | None:
        item = self.list.currentItem()
        return None if item is None else item.data(Qt.ItemDataRole.UserRole)

    def _picked(self, item: QListWidgetItem | None, _previous) -> None:
        if item is not None:
            self.controller.pick(item.data(Qt.ItemDataRole.UserRole))

    def _rename(self) -> None:
        obj_id = self._chosen()
        if obj_id is None:
            return
        old = next(o.name for o in self.controller.objects() if o.obj_id == obj_id)
        name, ok = QInputDialog.getText(self, "Rename object", "Name:", text=old)
        if ok:
            self.controller.rename(obj_id, name)

    def _recolor(self) -> None:
        obj_id = self._chosen()
        if obj_id is None:
            return
        old = next(o.color for o in self.controller.objects() if o.obj_id == obj_id)
        color = QColorDialog.getColor(QColor(old), self, "Object colour")
        if color.isValid():
            self.controller.set_color(obj_id, color.name())

    def _remove(self) -> None:
        obj_id = self._chosen()
        if obj_id is not None:
            self.controller.remove(obj_id)

    def _opacity(self, value: int) -> None:
        self.style.opacity = value / 100
        self.style_changed.emit()

    def _toggle(self, name: str, on: bool) -> None:
        setattr(self.style, name, on)
        self.style_changed.emit()


def _duration(seconds: float) -> str:
    """ "8 s", "3 min 05 s", "1 h 02 min": the time left, as precise as it is worth."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def _swatch(color: str) -> QIcon:
    pixmap = QPixmap(14, 14)
    pixmap.fill(QColor(color))
    return QIcon(pixmap)
