"""The settings dialog on real widgets (offscreen): typed edits become Settings, OK refuses bad values with
the field shown and marked, key bindings are recorded from key presses, conflicts are refused, reset works."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox

from app.settings import Settings
from app.settings_dialog import DEFAULT_MODELS, SettingsDialog

# A stand-in for app.keymap's table: (name, label, default keys).
ACTIONS = [
    ("open", "&Open Video…", ["Ctrl+O"]),
    ("play_pause", "&Play / Pause", ["Space", "K"]),
    ("next_frame", "&Next Frame", [".", "Right"]),
    ("mute", "&Mute", ["M"]),
    ("relink", "&Relink Video…", []),
]


@pytest.fixture
def model_folder(tmp_path) -> Path:
    folder = tmp_path / "models" / "internvideo"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    return folder


def make_dialog(qtbot, settings: Settings | None = None, **kwargs) -> SettingsDialog:
    dialog = SettingsDialog(settings or Settings(), ACTIONS, **kwargs)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def type_into(qtbot, edit, text: str) -> None:
    edit.selectAll() if hasattr(edit, "selectAll") else edit.lineEdit().selectAll()
    qtbot.keyClick(edit, Qt.Key.Key_Delete)
    qtbot.keyClicks(edit, text)


def click_ok(qtbot, dialog: SettingsDialog) -> None:
    qtbot.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Ok), Qt.MouseButton.LeftButton)


def record_key(qtbot, dialog, name: str, slot: int, key: Qt.Key, modifier=Qt.KeyboardModifier.NoModifier):
    edit = dialog.keys.edits[name][slot]
    edit.clear()
    edit.setFocus()
    qtbot.keyClick(edit, key, modifier)
    return edit


def drawn_in_red(widget) -> bool:
    """Whether the widget's frame is drawn red (the style sheet's mark), read from its pixels."""
    image = widget.grab().toImage()
    row = image.height() // 2
    colours = [image.pixelColor(x, row) for x in range(4)]
    return any(c.red() > 150 and c.green() < 90 and c.blue() < 90 for c in colours)


def test_typed_settings_come_back_when_ok_is_clicked(qtbot, model_folder, tmp_path):
    dialog = make_dialog(qtbot)
    type_into(qtbot, dialog.model, str(model_folder))
    type_into(qtbot, dialog.sam_model, "facebook/sam2.1-hiera-large")
    dialog.device.setCurrentIndex(dialog.device.findData("cpu"))
    dialog.precision.setCurrentIndex(dialog.precision.findData("int8"))
    type_into(qtbot, dialog.frame_budget, "256")
    type_into(qtbot, dialog.cache_dir, str(tmp_path / "new cache"))
    type_into(qtbot, dialog.cache_limit, "2,5")
    click_ok(qtbot, dialog)
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert dialog.chosen() == Settings(
        model=str(model_folder),
        sam_model="facebook/sam2.1-hiera-large",
        device="cpu",
        precision="int8",
        frame_budget=256,
        cache_dir=str(tmp_path / "new cache"),
        cache_limit_gb=2.5,
    )


def test_the_dialog_shows_the_stored_settings(qtbot, model_folder):
    stored = Settings(
        model=str(model_folder), device="cuda", precision="int4", frame_budget=64, cache_limit_gb=0.5
    )
    dialog = make_dialog(qtbot, stored)
    assert dialog.model.text() == str(model_folder)
    assert dialog.device.currentData() == "cuda" and dialog.precision.currentData() == "int4"
    assert dialog.frame_budget.value() == 64 and dialog.cache_limit.text() == "0.5"
    click_ok(qtbot, dialog)
    assert dialog.chosen() == stored


def test_empty_fields_show_the_engine_defaults(qtbot):
    from engine.models.internvideo.load import DEFAULT_REPO
    from engine.tracking.model import DEFAULT_SAM_MODEL

    assert DEFAULT_MODELS == {"model": DEFAULT_REPO, "sam_model": DEFAULT_SAM_MODEL}
    dialog = make_dialog(qtbot)
    assert dialog.model.placeholderText().startswith(DEFAULT_REPO)
    assert dialog.sam_model.placeholderText().startswith(DEFAULT_SAM_MODEL)
    from engine.cache import cache_root

    assert dialog.cache_dir.placeholderText() == str(cache_root())


def test_browse_fills_in_the_folder_chosen(qtbot, model_folder):
    asked = []

    def chooser(parent, caption, start):
        asked.append((caption, start))
        return str(model_folder)

    dialog = make_dialog(qtbot, folder_chooser=chooser)
    qtbot.mouseClick(dialog.browse_buttons["model"], Qt.MouseButton.LeftButton)
    assert dialog.model.text() == str(model_folder)
    qtbot.mouseClick(dialog.browse_buttons["model"], Qt.MouseButton.LeftButton)
    assert asked == [
        ("Choose the InternVideo2.5 model folder", ""),
        ("Choose the InternVideo2.5 model folder", str(model_folder)),
    ]
    dialog = make_dialog(qtbot, folder_chooser=lambda *args: "")  # cancelled: the field stays
    dialog.cache_dir.setText("/kept")
    qtbot.mouseClick(dialog.browse_buttons["cache_dir"], Qt.MouseButton.LeftButton)
    assert dialog.cache_dir.text() == "/kept"


def test_ok_refuses_bad_values_and_shows_where_until_they_are_fixed(qtbot, model_folder):
    dialog = make_dialog(qtbot)
    dialog.tabs.setCurrentIndex(2)
    type_into(qtbot, dialog.model, "/no/such/model")
    type_into(qtbot, dialog.frame_budget, "130")
    type_into(qtbot, dialog.cache_limit, "lots")
    click_ok(qtbot, dialog)
    assert dialog.isVisible() and dialog.result() != QDialog.DialogCode.Accepted
    text = dialog.problems.text()
    assert dialog.problems.isVisible()
    assert (
        text.index("/no/such/model does not exist")
        < text.index("multiple of 4")
        < text.index("not &#x27;lots&#x27;")
    )
    assert dialog.tabs.currentIndex() == 0 and dialog.focusWidget() is dialog.model
    assert drawn_in_red(dialog.model) and not drawn_in_red(dialog.sam_model)
    assert [
        w.property("invalid") for w in (dialog.model, dialog.frame_budget, dialog.cache_limit, dialog.device)
    ] == [
        True,
        True,
        True,
        False,
    ]

    type_into(qtbot, dialog.model, str(model_folder))
    type_into(qtbot, dialog.frame_budget, "132")
    click_ok(qtbot, dialog)
    assert dialog.isVisible()
    assert "lots" in dialog.problems.text() and "does not exist" not in dialog.problems.text()
    assert dialog.tabs.currentIndex() == 1 and dialog.focusWidget() is dialog.cache_limit
    assert dialog.model.property("invalid") is False

    type_into(qtbot, dialog.cache_limit, "8")
    click_ok(qtbot, dialog)
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert dialog.chosen().frame_budget == 132 and dialog.chosen().cache_limit_gb == 8.0


def test_a_key_pressed_in_the_table_rebinds_the_action(qtbot):
    dialog = make_dialog(qtbot)
    dialog.tabs.setCurrentWidget(dialog.keys)
    edit = record_key(qtbot, dialog, "mute", 0, Qt.Key.Key_M, Qt.KeyboardModifier.ControlModifier)
    assert edit.keySequence().toString() == "Ctrl+M"
    record_key(qtbot, dialog, "relink", 1, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    dialog.keys.edits["next_frame"][1].clear()  # unbind Right, keep "."
    dialog.keys.edits["open"][0].clear()  # no keys at all
    click_ok(qtbot, dialog)
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert dialog.chosen().keys == {
        "open": (),
        "next_frame": (".",),
        "mute": ("Ctrl+M",),
        "relink": ("Ctrl+R",),
    }
    assert dialog.chosen().key_overrides() == {
        "open": [],
        "next_frame": ["."],
        "mute": ["Ctrl+M"],
        "relink": ["Ctrl+R"],
    }


def test_a_key_on_two_actions_is_shown_and_refused(qtbot):
    dialog = make_dialog(qtbot)
    dialog.tabs.setCurrentWidget(dialog.keys)
    edit = record_key(qtbot, dialog, "mute", 0, Qt.Key.Key_Space)
    keys = dialog.keys
    assert keys.conflict_label.isVisible()
    assert (
        keys.conflict_label.text() == "Space is bound to Play / Pause and Mute: give each key to one action"
    )
    assert edit.property("invalid") is True and keys.edits["play_pause"][0].property("invalid") is True
    assert keys.edits["play_pause"][1].property("invalid") is False
    assert drawn_in_red(edit) and drawn_in_red(keys.edits["play_pause"][0])
    assert not drawn_in_red(keys.edits["play_pause"][1])
    assert edit.toolTip() == "Also bound to Play / Pause"
    dialog.tabs.setCurrentIndex(0)
    click_ok(qtbot, dialog)
    assert dialog.isVisible() and "Space is bound to Play / Pause and Mute" in dialog.problems.text()
    assert dialog.tabs.currentWidget() is keys
    assert dialog.focusWidget() is keys.edits["play_pause"][0]  # the first row with the key
    assert keys.edits["play_pause"][0].property("invalid") is True and edit.property("invalid") is True

    record_key(qtbot, dialog, "mute", 0, Qt.Key.Key_M, Qt.KeyboardModifier.ShiftModifier)
    assert not keys.conflict_label.isVisible() and edit.property("invalid") is False
    click_ok(qtbot, dialog)
    assert dialog.result() == QDialog.DialogCode.Accepted and dialog.chosen().keys == {"mute": ("Shift+M",)}


def test_reset_to_defaults_drops_every_override(qtbot):
    dialog = make_dialog(qtbot, Settings(keys={"mute": ("Ctrl+M",), "play_pause": ("P",)}))
    keys = dialog.keys
    assert [e.keySequence().toString() for e in keys.edits["play_pause"]] == ["P", ""]
    qtbot.mouseClick(keys.reset_button, Qt.MouseButton.LeftButton)
    assert [e.keySequence().toString() for e in keys.edits["play_pause"]] == ["Space", "K"]
    assert keys.edits["mute"][0].keySequence().toString() == "M"
    click_ok(qtbot, dialog)
    assert dialog.chosen().keys == {}


def test_the_filter_shows_only_matching_actions(qtbot):
    dialog = make_dialog(qtbot)
    keys = dialog.keys
    qtbot.keyClicks(keys.filter, "frame")
    assert [keys.table.isRowHidden(row) for row in range(len(ACTIONS))] == [True, True, False, True, True]
    keys.filter.clear()
    qtbot.keyClicks(keys.filter, "ctrl+o")
    assert [keys.table.isRowHidden(row) for row in range(len(ACTIONS))] == [False, True, True, True, True]
    keys.filter.clear()
    assert not any(keys.table.isRowHidden(row) for row in range(len(ACTIONS)))
    assert [keys.table.item(row, 0).text() for row in range(len(ACTIONS))][:2] == [
        "Open Video…",
        "Play / Pause",
    ]


def test_cancel_changes_nothing(qtbot, model_folder):
    stored = Settings(frame_budget=64)
    dialog = make_dialog(qtbot, stored)
    type_into(qtbot, dialog.frame_budget, "200")
    qtbot.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Cancel), Qt.MouseButton.LeftButton)
    assert dialog.result() == QDialog.DialogCode.Rejected and stored.frame_budget == 64
