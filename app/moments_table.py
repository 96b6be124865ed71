"""The moments as a table model for the Moments page's list: one row per moment, in time order.

Columns: state, start, end, duration, score, source (text, curve, both, or "by hand"), and what the
moment is: its label, else (dimmed) the query that found it, as the timeline's lane writes it. The sort
role gives numbers for the time and score columns, so a proxy sorts them as numbers. The label is
edited in place (F2 or a slow second click): that is a rename, an undoable edit. While a refined moment
waits to be kept or reverted, its start and end cells also show where it was before. Every cell's
tooltip says all of its row, so a column the page hides to fit (or an elided text) is still there.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor

from app.moment import Moment
from app.moments import MomentsController
from app.theme import DIM
from engine.timecode import format_timecode

COLUMNS = ("", "Start", "End", "Length", "Score", "Source", "Label")
TITLE_TIPS = (
    "Accepted ✔, rejected ✘ or undecided ○ (A / R)",
    "Where the moment starts",
    "Where it ends",
    "How long it lasts",
    "How well it matches the query, 0 to 1",
    "What found it: the model's text, its relevance curve, both, or by hand",
    "The moment's label (F2 renames it), else (dimmed) the query that found it",
)
LABEL_COLUMN = COLUMNS.index("Label")
SORT_ROLE = Qt.ItemDataRole.UserRole
ID_ROLE = Qt.ItemDataRole.UserRole + 1
STATE_COLORS = {"undecided": "#5b9bd5", "accepted": "#4caf50", "rejected": "#9e5a5a"}
STATE_MARKS = {"undecided": "○", "accepted": "✔", "rejected": "✘"}
SOURCE_NAMES = {"text": "text", "curve": "curve", "both": "both", "user": "by hand"}
Index = QModelIndex | QPersistentModelIndex
_ROOT = QModelIndex()


class MomentsTable(QAbstractTableModel):
    def __init__(self, controller: MomentsController) -> None:
        super().__init__(controller)
        self.controller = controller
        self._rows: list[Moment] = []
        controller.changed.connect(self._refresh)
        self._refresh()

    def _refresh(self) -> None:
        moments = list(self.controller.moments)
        if [m.id for m in moments] != [m.id for m in self._rows]:
            self.beginResetModel()
            self._rows = moments
            self.endResetModel()
        elif moments != self._rows or self.controller.refine_before is not None:
            self._rows = moments
            self.dataChanged.emit(self.index(0, 0), self.index(len(moments) - 1, len(COLUMNS) - 1))

    def rowCount(self, parent: Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.ToolTipRole:
            return TITLE_TIPS[section]
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        return flags | Qt.ItemFlag.ItemIsEditable if index.column() == LABEL_COLUMN else flags

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        moment, column = self._rows[index.row()], index.column()
        span = moment.span
        if role == ID_ROLE:
            return moment.id
        if role == SORT_ROLE:
            keys = (moment.state, span.start_s, span.end_s, span.duration_s, span.score or -1.0)
            return keys[column] if column < len(keys) else (self.data(index) or "")
        if role == Qt.ItemDataRole.ForegroundRole and column == 0:
            return QColor(STATE_COLORS[moment.state])
        if role == Qt.ItemDataRole.ForegroundRole and column == LABEL_COLUMN and not span.label:
            return DIM  # the query, standing in for a label
        if role == Qt.ItemDataRole.ToolTipRole:
            return _tooltip(moment)
        if role == Qt.ItemDataRole.EditRole and column == LABEL_COLUMN:
            return span.label or ""
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        before = self.controller.refine_before if moment.id in self.controller.refined_ids else None
        if column == 0:
            return STATE_MARKS[moment.state]
        if column in (1, 2):
            now = span.start_s if column == 1 else span.end_s
            text = _clock(now)
            if before is not None:
                was = before.span.start_s if column == 1 else before.span.end_s
                text += f"  (was {_clock(was)})"
            return text
        if column == 3:
            return f"{span.duration_s:.2f} s"
        if column == 4:
            return "—" if span.score is None else f"{span.score:.2f}"
        if column == 5:
            return SOURCE_NAMES.get(span.source, span.source)
        return span.label or _query(moment)

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if role != Qt.ItemDataRole.EditRole or index.column() != LABEL_COLUMN:
            return False
        self.controller.rename(str(value), self._rows[index.row()].id)
        return True

    def row_of(self, moment_id: str | None) -> int:
        return next((i for i, m in enumerate(self._rows) if m.id == moment_id), -1)


def _query(moment: Moment) -> str:
    return moment.span.query or moment.provenance.get("query") or ""


def _tooltip(moment: Moment) -> str:
    """All of a row in a few lines: the label and query in full, the times, score and source."""
    span = moment.span
    score = "no score" if span.score is None else f"score {span.score:.2f}"
    lines = [
        f"{STATE_MARKS[moment.state]} {moment.state}: {_clock(span.start_s)} – {_clock(span.end_s)} "
        f"({span.duration_s:.2f} s), {score}, from {SOURCE_NAMES.get(span.source, span.source)}",
        *([f"Label: {span.label}"] if span.label else []),
        *([f"Query: {_query(moment)}"] if _query(moment) else []),
    ]
    return "\n".join(lines)


def _clock(seconds: float) -> str:
    """A timecode without the hours while they are 0 (the list is narrow): 01:23.450."""
    text = format_timecode(seconds)
    return text[3:] if text.startswith("00:") else text
