"""The "Key bindings" page of the settings dialog: every action with its keys, editable, conflicts shown.

It takes the actions as `(name, label, default_keys)` rows (app.keymap's table gives them) and the user's
overrides (`Settings.keys`), and gives back the overrides: the actions whose keys differ from the defaults.
A key given to two actions is a conflict: both cells are marked, a line under the table names them, and
the dialog refuses OK until it is resolved.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QKeySequenceEdit,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

Action = tuple[str, str, Sequence[str]]  # name, label (may hold "&" mnemonics), default keys
PORTABLE = QKeySequence.SequenceFormat.PortableText
NATIVE = QKeySequence.SequenceFormat.NativeText
CONFLICTS_SHOWN = 3


class KeyBindingsPage(QWidget):
    def __init__(
        self, actions: Sequence[Action], overrides: Mapping[str, Sequence[str]], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.actions = [(name, label.replace("&", ""), list(keys)) for name, label, keys in actions]
        self.labels = {name: label for name, label, _ in self.actions}
        columns = max([2, *(len(keys) for _, _, keys in self.actions), *(len(k) for k in overrides.values())])

        self.filter = QLineEdit(placeholderText="Filter by action or key…", clearButtonEnabled=True)
        self.filter.textChanged.connect(self._apply_filter)
        self.table = QTableWidget(len(self.actions), 1 + columns)
        self.table.setHorizontalHeaderLabels(["Action", "Shortcut", *["Alternative"] * (columns - 1)])
        self.table.verticalHeader().hide()
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.edits: dict[str, list[QKeySequenceEdit]] = {}
        for row, (name, label, _) in enumerate(self.actions):
            item = QTableWidgetItem(label)
            item.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self.table.setItem(row, 0, item)
            self.edits[name] = []
            for column in range(1, 1 + columns):
                edit = QKeySequenceEdit(maximumSequenceLength=1, clearButtonEnabled=True)
                edit.setObjectName(f"{name}/{column - 1}")
                edit.setAccessibleName(f"{label}, {'shortcut' if column == 1 else 'alternative shortcut'}")
                edit.keySequenceChanged.connect(self._update_conflicts)
                self.table.setCellWidget(row, column, edit)
                self.edits[name].append(edit)
        for column in range(1, 1 + columns):
            header.resizeSection(column, 150)
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Fixed)
        self.table.verticalHeader().setDefaultSectionSize(
            self.table.verticalHeader().defaultSectionSize() + 6
        )

        self.conflict_label = QLabel(objectName="conflicts", wordWrap=True)
        self.conflict_label.hide()
        reset = QPushButton("Reset All to Defaults")
        reset.clicked.connect(self.reset_to_defaults)
        self.reset_button = reset

        bottom = QHBoxLayout()
        bottom.addWidget(self.conflict_label, 1)
        bottom.addWidget(reset, 0, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.addWidget(self.filter)
        layout.addWidget(self.table, 1)
        layout.addLayout(bottom)
        self.set_overrides(overrides)

    # ----- the bindings -------------------------------------------------------------------------------------
    def set_overrides(self, overrides: Mapping[str, Sequence[str]]) -> None:
        for name, _, defaults in self.actions:
            keys = list(overrides.get(name, defaults))
            for i, edit in enumerate(self.edits[name]):
                edit.setKeySequence(QKeySequence(keys[i]) if i < len(keys) else QKeySequence())
        self._update_conflicts()

    def reset_to_defaults(self) -> None:
        self.set_overrides({})

    def bindings(self) -> dict[str, list[str]]:
        """Every action's keys as shown, in QKeySequence portable text, each key once."""
        result = {}
        for name, edits in self.edits.items():
            keys = [edit.keySequence().toString(PORTABLE) for edit in edits]
            result[name] = list(dict.fromkeys(key for key in keys if key))
        return result

    def overrides(self) -> dict[str, list[str]]:
        """The actions whose keys differ from their defaults (what Settings.keys stores)."""
        current = self.bindings()
        return {
            name: current[name] for name, _, defaults in self.actions if current[name] != _normal(defaults)
        }

    def conflicts(self) -> dict[str, list[str]]:
        """Each key given to more than one action -> those actions' names, in table order."""
        owners: dict[str, list[str]] = {}
        for name, keys in self.bindings().items():
            for key in keys:
                owners.setdefault(key, []).append(name)
        return {key: names for key, names in owners.items() if len(names) > 1}

    def reveal_first_conflict(self) -> QKeySequenceEdit | None:
        """Scroll to the first key given to two actions (clearing the filter) and return its cell."""
        conflicts = self.conflicts()
        for row, (name, _, _) in enumerate(self.actions):
            for edit in self.edits[name]:
                if edit.keySequence().toString(PORTABLE) in conflicts:
                    self.filter.clear()
                    self.table.scrollToItem(self.table.item(row, 0))
                    return edit
        return None

    def conflict_message(self) -> str | None:
        """One line naming the conflicts, or None."""
        conflicts = self.conflicts()
        if not conflicts:
            return None
        parts = [
            f"{_native(key)} is bound to {' and '.join(self.labels[n] for n in names)}"
            for key, names in list(conflicts.items())[:CONFLICTS_SHOWN]
        ]
        more = len(conflicts) - CONFLICTS_SHOWN
        tail = f" (and {more} more)" if more > 0 else ""
        return f"{'; '.join(parts)}{tail}: give each key to one action"

    # ----- display ------------------------------------------------------------------------------------------
    def _update_conflicts(self) -> None:
        conflicts = self.conflicts()
        for name, edits in self.edits.items():
            for edit in edits:
                key = edit.keySequence().toString(PORTABLE)
                others = [self.labels[n] for n in conflicts.get(key, []) if n != name]
                mark_invalid(edit, bool(others))
                edit.setToolTip(f"Also bound to {', '.join(others)}" if others else "")
        message = self.conflict_message()
        self.conflict_label.setText(message or "")
        self.conflict_label.setVisible(message is not None)

    def _apply_filter(self, text: str) -> None:
        needle, bindings = text.strip().lower(), self.bindings()
        for row, (name, label, _) in enumerate(self.actions):
            keys = " ".join(_native(key) for key in bindings[name]).lower()
            self.table.setRowHidden(row, bool(needle) and needle not in label.lower() and needle not in keys)


def _normal(keys: Sequence[str]) -> list[str]:
    """Key texts as the page writes them (portable text, each once), to compare with the defaults."""
    return list(dict.fromkeys(QKeySequence(k).toString(PORTABLE) for k in keys if k))


def _native(key: str) -> str:
    return QKeySequence(key).toString(NATIVE)


def mark_invalid(widget: QWidget, invalid: bool) -> None:
    """Set the `invalid` property the dialog's style sheet draws in red (restyling the widget's parts too:
    a QKeySequenceEdit draws its frame with an inner QLineEdit)."""
    if widget.property("invalid") != invalid:
        widget.setProperty("invalid", invalid)
        for part in (widget, *widget.findChildren(QLineEdit)):
            part.style().unpolish(part)
            part.style().polish(part)
