"""The Moments page of the side panel: describe a moment and find it, then review the list.

Top to bottom: the description box with Find (Ctrl+F focuses it and runs the search), one status line
(what to do when there is nothing yet, the scan's progress, or the error with its hint and, when the
model is missing, "Set up the model…"), the list (sortable; while it has the focus the arrow keys move
in it; Enter or a double click seeks to the moment; F2 renames), and the buttons for the selected
moment. The list and the timeline share one selection: the controller's.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QItemSelectionModel, QSortFilterProxyModel, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QStyle,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.moments import MODEL_SETUP, MomentsController, Scan
from app.moments_table import COLUMNS, ID_ROLE, SORT_ROLE, MomentsTable
from app.progress_bar import ProgressBar

Select = QItemSelectionModel.SelectionFlag
TITLE_PADDING_PX = 12  # around a column's title, so neighbouring titles do not run together
SCANNING_TEXT = (
    "Scanning the video: the relevance curve fills in on the timeline as it goes (brighter: more "
    "likely), and the moments appear here when it is done. Cancel in the status bar."
)
NO_VIDEO = "Open a video first (Ctrl+O): moments are found in the open video."
NO_VIDEO_TEXT = "No video open. Open one (Ctrl+O), then describe a moment above to find it there."
EMPTY_TEXT = (
    "No moments yet. Describe what you are looking for and press Find (Ctrl+F): the relevance curve "
    "fills in on the timeline, then the moments appear here.\nOr mark one by hand: I at its start, O at "
    "its end."
)


class MomentsList(QTableView):
    """The list; while it has the focus, the arrow and paging keys move in it rather than the playhead.

    Its columns fit its width, never a sideways scroll at the side panel's width: each is as wide as its
    contents, the last (label or query) the rest, elided, and when that would leave it less than
    `MIN_TEXT_PX` the columns of `HIDE_FIRST` are hidden, in that order, until it does (they come back
    as the panel widens; every row's tooltip says all of it)."""

    KEYS = (Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_PageUp, Qt.Key.Key_PageDown, Qt.Key.Key_Home,
            Qt.Key.Key_End, Qt.Key.Key_Return, Qt.Key.Key_Enter)  # fmt: skip
    HIDE_FIRST = tuple(COLUMNS.index(name) for name in ("End", "Source", "Length"))  # end: start + length
    MIN_TEXT_PX = 90

    def fit_columns(self, *_changed) -> None:
        model, header = self.model(), self.horizontalHeader()
        if model is None:
            return
        sized = range(model.columnCount() - 1)  # the last one stretches
        least = header.minimumSectionSize()
        needed = {c: max(self.sizeHintForColumn(c), self._title_width(c), least) for c in sized}
        room, hidden = self.viewport().width() - self.MIN_TEXT_PX, set()
        for column in self.HIDE_FIRST:
            if sum(w for c, w in needed.items() if c not in hidden) <= room:
                break
            hidden.add(column)
        for column, width in needed.items():
            self.setColumnHidden(column, column in hidden)
            header.resizeSection(column, width)
        shown = sum(w for c, w in needed.items() if c not in hidden)
        header.resizeSection(len(needed), max(self.MIN_TEXT_PX, self.viewport().width() - shown))

    def _title_width(self, column: int) -> int:
        """The header's text and margins, and the sort arrow only where it is (Qt's own size hint keeps
        room for an arrow in every column)."""
        header = self.horizontalHeader()
        margin = header.style().pixelMetric(QStyle.PixelMetric.PM_HeaderMargin, None, header)
        title = header.fontMetrics().horizontalAdvance(
            str(self.model().headerData(column, Qt.Orientation.Horizontal))
        )
        arrow = header.height() if column == header.sortIndicatorSection() else 0
        return title + 2 * margin + TITLE_PADDING_PX + arrow

    def viewportEvent(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize:  # also when a scroll bar comes or goes
            self.fit_columns()
        return super().viewportEvent(event)

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride and isinstance(event, QKeyEvent):
            plain = event.modifiers() in (Qt.KeyboardModifier.NoModifier, Qt.KeyboardModifier.KeypadModifier)
            if plain and event.key() in self.KEYS:
                event.accept()  # a key press for the list, not the window's shortcut
                return True
        return super().event(event)


class MomentsPage(QWidget):
    def __init__(self, controller: MomentsController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.query = QLineEdit(placeholderText="Describe a moment to find…")  # short: not elided in the panel
        self.query.setToolTip("For example “a white van stops at the gate”; Enter or Ctrl+F finds it")
        self.query.setClearButtonEnabled(True)
        self.query.returnPressed.connect(self.find)
        self.find_button = QPushButton("Find")
        self.find_button.clicked.connect(self.find)
        self.status = QLabel(wordWrap=True)
        self.status.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.progress = ProgressBar(textVisible=False, maximumHeight=6)
        self.setup_button = QPushButton("Set up the model…")
        self.setup_button.clicked.connect(lambda: controller.model_setup_requested.emit(MODEL_SETUP))
        self.empty = QLabel(EMPTY_TEXT, wordWrap=True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        self.empty.setStyleSheet("color: palette(mid); padding: 12px 4px;")
        self.model = MomentsTable(controller)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.table = self._table()
        self.buttons = {
            "accept": QPushButton("Accept (A)"),
            "reject": QPushButton("Reject (R)"),
            "refine": QPushButton("Refine"),
            "keep": QPushButton("Keep refined"),
            "revert": QPushButton("Revert"),
        }
        self.buttons["accept"].clicked.connect(lambda: controller.decide("accepted"))
        self.buttons["reject"].clicked.connect(lambda: controller.decide("rejected"))
        self.buttons["refine"].clicked.connect(lambda: controller.refine_selected(self.query.text()))
        self.buttons["keep"].clicked.connect(controller.keep_refined)
        self.buttons["revert"].clicked.connect(controller.revert_refined)
        self._build()
        self._syncing = False
        controller.changed.connect(self._moments_changed)
        controller.scan_changed.connect(self._show_scan)
        self.table.selectionModel().currentRowChanged.connect(self._row_chosen)
        self._moments_changed()
        self._show_scan(controller.scan)

    def _table(self) -> QTableView:
        table = MomentsList()
        table.setModel(self.proxy)
        table.setSortingEnabled(True)
        table.sortByColumn(1, Qt.SortOrder.AscendingOrder)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        table.setEditTriggers(
            QAbstractItemView.EditTrigger.EditKeyPressed | QAbstractItemView.EditTrigger.SelectedClicked
        )
        table.verticalHeader().hide()
        table.setWordWrap(False)
        header = table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)  # sized by `fit_columns`
        table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # the text elides instead
        proxy = self.proxy
        for changed in (proxy.modelReset, proxy.dataChanged, proxy.layoutChanged, proxy.rowsInserted,
                        header.sortIndicatorChanged):  # fmt: skip
            changed.connect(table.fit_columns)
        table.doubleClicked.connect(self._seek_to)
        table.activated.connect(self._seek_to)
        return table

    def _build(self) -> None:
        search = QHBoxLayout()
        search.addWidget(self.query, 1)
        search.addWidget(self.find_button)
        status = QVBoxLayout()
        status.addWidget(self.status)
        status.addWidget(self.setup_button, 0, Qt.AlignmentFlag.AlignLeft)
        buttons = QVBoxLayout()  # Keep / Revert on a row of their own: five in one do not fit the panel
        for names in (("accept", "reject", "refine"), ("keep", "revert")):
            row = QHBoxLayout()
            for name in names:
                row.addWidget(self.buttons[name])
            row.addStretch(1)
            buttons.addLayout(row)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 10, 8, 8)
        layout.setSpacing(6)
        layout.addLayout(search)
        layout.addLayout(status)
        layout.addWidget(self.progress)
        layout.addWidget(self.empty, 1)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)

    # ----- actions ----------------------------------------------------------------------------------------
    def find(self) -> None:
        if self.controller.handle is None:  # Enter in the box: Find itself is disabled, saying why
            self._show_scan(Scan("idle", NO_VIDEO))
            return
        if not self.query.text().strip():
            self.query.setFocus()
            self._show_scan(Scan("idle", "Describe the moment to find first."))
            return
        self.controller.find(self.query.text())

    def focus_and_find(self) -> None:
        """Ctrl+F: with a description typed, search; else put the cursor in the box."""
        self.query.setFocus()
        if self.query.text().strip():
            self.find()

    def _seek_to(self, index) -> None:
        moment_id = index.data(ID_ROLE)
        row = self.controller.index_of(moment_id)
        if row >= 0:
            self.controller.select(moment_id)
            self.controller.seek_requested.emit(self.controller.moments[row].span.start_s)

    def _row_chosen(self, current, _previous) -> None:
        if not self._syncing and current.isValid():
            self.controller.select(current.data(ID_ROLE))

    # ----- showing the controller's state ---------------------------------------------------------------
    def row_of(self, moment_id: str | None) -> int:
        """The moment's row as the list shows it now (sorted)."""
        source = self.model.row_of(moment_id)
        return -1 if source < 0 else self.proxy.mapFromSource(self.model.index(source, 0)).row()

    def _moments_changed(self) -> None:
        controller = self.controller
        has_moments = bool(controller.moments)
        busy, video = controller.scan.state == "busy", controller.handle is not None
        self.empty.setText(SCANNING_TEXT if busy else EMPTY_TEXT if video else NO_VIDEO_TEXT)
        self.empty.setVisible(not has_moments)
        self.table.setVisible(has_moments)
        selected = controller.selected()
        pending = controller.refine_before is not None
        for name in ("accept", "reject", "refine"):
            self.buttons[name].setEnabled(selected is not None)
        for name in ("keep", "revert"):
            self.buttons[name].setVisible(pending)
        self._syncing = True
        try:
            row = self.row_of(controller.selected_id)
            selection = self.table.selectionModel()
            if row < 0:
                selection.clearSelection()
            elif selection.currentIndex().row() != row or not selection.isRowSelected(row):
                flags = Select.ClearAndSelect | Select.Rows
                selection.setCurrentIndex(self.proxy.index(row, 0), flags)
                self.table.scrollTo(self.proxy.index(row, 0))
        finally:
            self._syncing = False

    def _show_scan(self, scan: Scan) -> None:
        busy, error = scan.state == "busy", scan.state == "error"
        self.status.setText(scan.message)
        self.status.setVisible(bool(scan.message))
        self.status.setStyleSheet("color: #e07070;" if error else "")
        self.setup_button.setVisible(error and scan.model_missing)
        self.progress.setVisible(busy)
        if busy:
            if scan.fraction is None:
                self.progress.setRange(0, 0)
            else:
                self.progress.setRange(0, 1000)
                self.progress.setValue(round(scan.fraction * 1000))
        video = self.controller.handle is not None
        self.find_button.setEnabled(video and not busy)
        self.find_button.setToolTip(
            NO_VIDEO if not video else "Scanning: cancel it in the status bar" if busy else "Find (Ctrl+F)"
        )
        self._moments_changed()
