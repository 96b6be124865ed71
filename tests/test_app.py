"""The desktop app's window (real Qt widgets, offscreen) and the PySide6/Python pairing it relies on."""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QLabel

from app.main_window import MainWindow


def test_window_has_menus_and_opens_a_video(qtbot, media):
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    menus = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert menus == ["File", "Help"]
    assert window.open_action.shortcut().toString() == "Ctrl+O"
    path = media("app_clip.mp4", frames=10)
    window.open_video(path)
    assert window.windowTitle().startswith("app_clip.mp4")
    assert str(path) in window.statusBar().currentMessage()


def test_window_icon_is_drawn_from_assets(qtbot):
    window = MainWindow()
    qtbot.addWidget(window)
    image = window.windowIcon().pixmap(64, 64).toImage()
    assert image.width() == 64
    assert image.pixelColor(1, 1).alpha() == 0  # the rounded corner is transparent
    assert image.pixelColor(32, 4).name() == "#1d2430"  # the tile itself


def test_void_qt_calls_do_not_leak_references_to_none(qapp):
    """PySide6 6.12.0 on Python < 3.12 drops a reference to None per void call and aborts the interpreter."""
    label = QLabel()
    before = sys.getrefcount(None)
    for i in range(20_000):
        label.setText(str(i % 7))
        qapp.processEvents()
    after = sys.getrefcount(None)
    assert after >= before - 100, f"None lost {before - after} references in 40,000 void calls"
