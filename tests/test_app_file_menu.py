"""The File menu's dialogs from the window's own actions (keys and menu entries), with a real worker: Settings
opens without blocking and applies what OK saves, Save Session As writes a copy that opens, Relink points the
open session at another copy of its video."""

from __future__ import annotations

import json
import shutil

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox

from app import main_window as main_window_module
from app import relink_dialog
from app.settings import Settings
from app.settings_dialog import SettingsDialog
from tests.test_app import open_and_wait, press, store, window, window_env  # noqa: F401


def settings_dialog(qtbot, main) -> SettingsDialog:
    """The settings dialog on screen (a closed one is deleted once the loop runs)."""
    shown = lambda: [d for d in main.findChildren(SettingsDialog) if d.isVisible()]  # noqa: E731
    qtbot.waitUntil(lambda: len(shown()) == 1, timeout=5_000)
    return shown()[0]


def test_settings_opens_from_its_key_without_blocking_and_ok_applies_and_saves(qtbot, window, store) -> None:  # noqa: F811
    press(window, "Ctrl+,")
    dialog = settings_dialog(qtbot, window)  # the key returned: the dialog does not hold the loop
    assert dialog.windowModality() == Qt.WindowModality.WindowModal
    dialog.frame_budget.setValue(256)
    dialog.buttons.button(QDialogButtonBox.StandardButton.Cancel).click()
    assert window.settings.frame_budget != 256 and Settings.load(store).frame_budget != 256

    window.actions["settings"].trigger()  # the menu entry
    dialog = settings_dialog(qtbot, window)
    dialog.frame_budget.setValue(256)
    dialog.precision.setCurrentIndex(dialog.precision.findData("int8"))
    pid = window.worker.pid
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    assert window.settings.frame_budget == 256 and Settings.load(store).frame_budget == 256
    assert Settings.load(store).precision == "int8"
    # the precision is the engine's: it restarts with it
    qtbot.waitUntil(lambda: window.worker.state == "ready" and window.worker.pid != pid, timeout=30_000)
    assert "int8" in window.worker.args


def test_save_session_as_writes_a_copy_that_opens(qtbot, window, media, tmp_path, monkeypatch) -> None:  # noqa: F811
    press(window, "Ctrl+Shift+S")  # nothing open: it says why and writes nothing
    assert "Open a video first" in window.statusBar().currentMessage()
    open_and_wait(qtbot, window, media("file menu.mp4", frames=60))
    window.player.show_index(40)
    qtbot.waitUntil(lambda: window.view.frame_index == 40, timeout=10_000)
    target = tmp_path / "kept" / "évidence copy"
    target.parent.mkdir()
    monkeypatch.setattr(main_window_module.QFileDialog, "getSaveFileName", lambda *a: (str(target), ""))
    press(window, "Ctrl+Shift+S")
    copy = target.with_name(target.name + ".scenescope")
    saved = json.loads(copy.read_text())
    assert saved["video"]["path"] == str(window.video_path) and saved["view"]["position_s"] > 1.0
    open_and_wait(qtbot, window, copy)  # the copy is a session that opens
    assert window.view.frame_index == 40


def test_relink_points_the_open_session_at_another_copy_of_its_video(
    qtbot,
    window,  # noqa: F811
    media,
    tmp_path,
    monkeypatch,
) -> None:
    original = tmp_path / "harbour.mp4"
    shutil.copy(media("file menu relink.mp4", frames=50), original)
    copy = tmp_path / "archive" / "harbour (archive).mp4"
    copy.parent.mkdir()
    shutil.copy(original, copy)
    other = media("file menu other.mp4", frames=51)
    choices, refusals = [str(other), str(copy)], []
    asked = relink_dialog.ask_relink
    monkeypatch.setattr(
        relink_dialog,
        "ask_relink",
        lambda parent, session: asked(
            parent, session, choose=lambda *a: choices.pop(0), refused=lambda p, m: refusals.append(m)
        ),
    )
    window.actions["relink"].trigger()  # nothing open: nothing asked
    assert choices and "Open a video first" in window.statusBar().currentMessage()
    open_and_wait(qtbot, window, original)
    session_file = window.sessions.keeper.path
    with qtbot.waitSignal(window.video_opened, timeout=30_000):
        window.actions["relink"].trigger()
    assert len(refusals) == 1 and "is not the video of this session" in refusals[0]
    assert window.video_path == copy.resolve()
    window.sessions.keeper.flush()
    assert json.loads(session_file.read_text())["video"]["path"] == str(copy.resolve())
