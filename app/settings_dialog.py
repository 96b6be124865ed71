"""File ▸ Settings: models, device and precision, frames per question, the cache, key bindings.

    dialog = SettingsDialog(Settings.load(), actions, parent=window)
    if dialog.exec():
        dialog.chosen().save()

OK checks everything first (a model folder that is not there, a cache limit that is not a number, a key on
two actions...): the problems are listed above the buttons, the first one's page is shown and its field
focused and marked, and the dialog stays open until they are fixed or the user cancels.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.key_bindings_page import Action, KeyBindingsPage, mark_invalid
from app.settings import (
    CACHE_LIMIT_DEFAULT_GB,
    DEVICES,
    FRAME_BUDGET_RANGE,
    PRECISIONS,
    Problem,
    Settings,
)
from engine.cache import cache_root
from engine.video.sampling import GROUP

# The engine's defaults, shown as placeholders (the engine's modules import torch; a test keeps these equal).
DEFAULT_MODELS = {"model": "OpenGVLab/InternVideo2_5_Chat_8B", "sam_model": "facebook/sam2.1-hiera-tiny"}
DEVICE_NAMES = {"auto": "Automatic (GPU when there is one)", "cpu": "CPU", "cuda": "CUDA GPU"}
PRECISION_NAMES = {
    "auto": "Automatic (best that fits the device)",
    "bf16": "bf16",
    "fp16": "fp16",
    "fp32": "fp32",
    "int8": "int8 (quantized language model)",
    "int4": "int4 (NF4 quantized language model)",
}
STYLE = """
QLabel#problems { color: #8a1c12; background: #fdecea; border: 1px solid #f1b0aa; border-radius: 4px;
                  padding: 6px 8px; }
QLabel#conflicts { color: #8a1c12; }
QLabel[hint="true"] { color: palette(placeholder-text); }
QLabel[heading="true"] { font-weight: bold; }
QLineEdit[invalid="true"], QSpinBox[invalid="true"], QComboBox[invalid="true"],
QKeySequenceEdit[invalid="true"] QLineEdit { border: 1px solid #d0342c; border-radius: 3px; }
"""
# (parent, caption, start folder) -> the folder chosen, or "" when cancelled
FolderChooser = Callable[[QWidget, str, str], str]
# (which model: "internvideo" | "sam2", parent) -> the opened setup dialog (MainWindow.show_model_setup)
ModelSetupOpener = Callable[[str, QWidget], QDialog]
SETUP_FIELDS = {"internvideo": "model", "sam2": "sam_model"}  # which model -> the field naming its folder


def choose_folder(parent: QWidget, caption: str, start: str) -> str:
    return QFileDialog.getExistingDirectory(parent, caption, start)


class SettingsDialog(QDialog):
    def __init__(
        self,
        settings: Settings,
        actions: Sequence[Action],
        parent: QWidget | None = None,
        folder_chooser: FolderChooser = choose_folder,
        model_setup: ModelSetupOpener | None = None,
    ) -> None:
        """`model_setup`: opens a model's setup dialog (the worker's models_list, download, a folder
        verified) from the Models… buttons; without it, they are not shown."""
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setStyleSheet(STYLE)
        self._initial = settings
        self._choose = folder_chooser
        self._chosen: Settings | None = None
        self._model_setup = model_setup

        self.model = self._path_edit(settings.model, f"{DEFAULT_MODELS['model']} (default)")
        self.sam_model = self._path_edit(settings.sam_model, f"{DEFAULT_MODELS['sam_model']} (default)")
        self.device = _combo(DEVICE_NAMES, DEVICES, settings.device)
        self.precision = _combo(PRECISION_NAMES, PRECISIONS, settings.precision)
        low, high = FRAME_BUDGET_RANGE
        self.frame_budget = QSpinBox(minimum=low, maximum=high, singleStep=GROUP, suffix=" frames")
        self.frame_budget.setValue(settings.frame_budget)
        self.cache_dir = self._path_edit(settings.cache_dir, str(cache_root()))
        self.cache_limit = QLineEdit(
            f"{settings.cache_limit_gb:g}", placeholderText=f"{CACHE_LIMIT_DEFAULT_GB:g}"
        )
        self.cache_limit.setMaximumWidth(90)
        self.cache_limit.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.keys = KeyBindingsPage(actions, settings.keys)

        self._fields: dict[str, QWidget] = {
            "model": self.model,
            "sam_model": self.sam_model,
            "device": self.device,
            "precision": self.precision,
            "frame_budget": self.frame_budget,
            "cache_dir": self.cache_dir,
            "cache_limit_gb": self.cache_limit,
            "keys": self.keys.table,
        }
        self.browse_buttons: dict[str, QPushButton] = {}
        self.setup_buttons: dict[str, QPushButton] = {}  # which model -> its Models… button
        self.tabs = QTabWidget()
        self.tabs.addTab(self._engine_page(), "Engine")
        self.tabs.addTab(self._cache_page(), "Cache")
        self.tabs.addTab(self.keys, "Key Bindings")

        self.problems = QLabel(objectName="problems", wordWrap=True)
        self.problems.setTextFormat(Qt.TextFormat.RichText)
        self.problems.hide()
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.problems)
        layout.addWidget(self.buttons)
        self.resize(700, 540)

    # ----- result -------------------------------------------------------------------------------------------
    def chosen(self) -> Settings:
        """The settings as edited (checked when the dialog was accepted)."""
        return self._chosen if self._chosen is not None else self._collect()[0]

    def accept(self) -> None:
        settings, problems = self._collect()
        problems = settings.problems() + problems
        conflict = self.keys.conflict_message()
        if conflict:
            problems.append(Problem("keys", conflict))
        problems = _in_field_order(problems, list(self._fields))
        self._fields["keys"] = self.keys.reveal_first_conflict() or self.keys.table
        for name, widget in self._fields.items():
            if name != "keys":  # the key page marks its own cells
                mark_invalid(widget, any(p.field == name for p in problems))
        if problems:
            self.problems.setText(_listed([_sentence(p.message) for p in problems]))
            self.problems.show()
            widget = self._fields[problems[0].field]
            self.tabs.setCurrentIndex(_page_of(self.tabs, widget))
            widget.setFocus()
            return
        self.problems.hide()
        self._chosen = settings
        super().accept()

    def _collect(self) -> tuple[Settings, list[Problem]]:
        problems = []
        text = self.cache_limit.text().strip().replace(",", ".")
        try:
            limit = float(text) if text else CACHE_LIMIT_DEFAULT_GB
        except ValueError:
            limit = self._initial.cache_limit_gb
            problems.append(
                Problem(
                    "cache_limit_gb",
                    f"the cache limit must be a number of gigabytes (such as 4 or 0.5), not {text!r}",
                )
            )
        settings = Settings(
            model=self.model.text().strip(),
            sam_model=self.sam_model.text().strip(),
            device=self.device.currentData(),
            precision=self.precision.currentData(),
            frame_budget=self.frame_budget.value(),
            cache_dir=self.cache_dir.text().strip(),
            cache_limit_gb=limit,
            keys={name: tuple(keys) for name, keys in self.keys.overrides().items()},
        )
        return settings, problems

    # ----- pages --------------------------------------------------------------------------------------------
    def _engine_page(self) -> QWidget:
        low, high = FRAME_BUDGET_RANGE
        page, form = _form_page()
        _heading(form, "Models", first=True)
        internvideo = self._with_browse("model", "Choose the InternVideo2.5 model folder")
        sam2 = self._with_browse("sam_model", "Choose the SAM 2.1 model folder")
        form.addRow("InternVideo2.5:", self._with_setup(internvideo, "internvideo"))
        form.addRow("SAM 2.1:", self._with_setup(sam2, "sam2"))
        where = "A model folder, or a Hugging Face id (downloaded once, then used offline)."
        if self._model_setup is not None:
            where += " Models…: what is on this computer; download it, or verify a folder copied by hand."
        form.addRow("", _hint(where))
        _heading(form, "Compute")
        form.addRow("Device:", self.device)
        form.addRow("Precision:", self.precision)
        form.addRow("Frames per question:", self.frame_budget)
        frames = f"{low} to {high}, in steps of {GROUP}: more frames see more of the video"
        form.addRow("", _hint(f"{frames} and take more memory and time."))
        return page

    def _cache_page(self) -> QWidget:
        page, form = _form_page()
        _heading(form, "Cache", first=True)
        form.addRow("Folder:", self._with_browse("cache_dir", "Choose the cache folder"))
        form.addRow("", _hint("Frame tables and visual tokens are kept here. Empty: the folder shown."))
        limit = QHBoxLayout()
        limit.setSpacing(6)
        limit.addWidget(self.cache_limit)
        limit.addWidget(QLabel("GB"))
        limit.addStretch(1)
        form.addRow("Visual token limit:", limit)
        reuse = "Asking about a video again reuses its visual tokens"
        form.addRow("", _hint(f"{reuse}; beyond this size the least recently used are removed."))
        return page

    def _path_edit(self, text: str, placeholder: str) -> QLineEdit:
        edit = QLineEdit(text, placeholderText=placeholder, clearButtonEnabled=True)
        edit.setMinimumWidth(360)
        return edit

    def _with_browse(self, name: str, caption: str) -> QHBoxLayout:
        edit, button = self._fields[name], QPushButton("Browse…")
        self.browse_buttons[name] = button

        def browse() -> None:
            start = Path(edit.text().strip() or edit.placeholderText()).expanduser()
            folder = self._choose(self, caption, str(start) if start.is_dir() else "")
            if folder:
                edit.setText(folder)

        button.clicked.connect(browse)
        row = QHBoxLayout()
        row.addWidget(edit, 1)
        row.addWidget(button)
        return row

    def _with_setup(self, row: QHBoxLayout, which: str) -> QHBoxLayout:
        """A model's row with its Models… button, whose setup dialog writes a chosen folder into the row."""
        if self._model_setup is None:
            return row
        button = QPushButton("Models…")
        self.setup_buttons[which] = button
        # a bound slot: disconnected when this dialog goes, though the setup (the window's) may still finish
        button.clicked.connect(
            lambda: self._model_setup(which, self).setup.folder_chosen.connect(self._use_folder)
        )
        row.addWidget(button)
        return row

    def _use_folder(self, which: str, folder: str) -> None:
        """A folder the setup verified becomes the model's field (the window has saved it already)."""
        self._fields[SETUP_FIELDS[which]].setText(folder)


def _combo(names: dict[str, str], values: Sequence[str], current: str) -> QComboBox:
    combo = QComboBox()
    for value in values:
        combo.addItem(names.get(value, value), value)
    combo.setCurrentIndex(max(0, combo.findData(current)))
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
    return combo


def _form_page() -> tuple[QWidget, QFormLayout]:
    """A page holding one form, so that labels and fields line up across its sections."""
    page = QWidget()
    form = QFormLayout(page)
    form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
    form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    form.setFormAlignment(Qt.AlignmentFlag.AlignTop)
    form.setHorizontalSpacing(12)
    form.setVerticalSpacing(8)
    form.setContentsMargins(16, 12, 16, 12)
    return page, form


def _heading(form: QFormLayout, text: str, first: bool = False) -> None:
    label = QLabel(text)
    label.setProperty("heading", True)
    label.setContentsMargins(0, 0 if first else 12, 0, 2)
    form.addRow(label)


def _hint(text: str) -> QLabel:
    label = QLabel(text, wordWrap=True)
    label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
    label.setProperty("hint", True)
    label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
    return label


def _page_of(tabs: QTabWidget, widget: QWidget) -> int:
    for i in range(tabs.count()):
        if tabs.widget(i).isAncestorOf(widget) or tabs.widget(i) is widget:
            return i
    return tabs.currentIndex()


def _in_field_order(problems: list[Problem], order: list[str]) -> list[Problem]:
    return sorted(problems, key=lambda p: order.index(p.field))


def _listed(messages: list[str]) -> str:
    """Messages as rich text: one plain line, or bullets whose wrapped lines stay indented."""
    if len(messages) == 1:
        return html.escape(messages[0])
    rows = "".join(f"<tr><td>•&nbsp;</td><td>{html.escape(m)}</td></tr>" for m in messages)
    return f"<table cellspacing='0' cellpadding='0'>{rows}</table>"


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")
