"""The model setup dialog in the real window, with the real worker and the fake Hub on 127.0.0.1: download
with progress, stop and resume, offline help, a folder copied by hand chosen and verified."""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from app.main_window import MainWindow
from app.model_setup_dialog import ModelSetupDialog
from engine.models import store
from engine.models.catalog import variant
from tests.fake_hub import FakeHub, point_at
from tests.test_app import shown_ready

SAM2 = variant("sam2.1-tiny")


@pytest.fixture
def hub(sam2_folder: Path):
    with FakeHub({(SAM2.repo_id, SAM2.revision): sam2_folder}) as served:
        yield served


@pytest.fixture
def make_window(qtbot, tmp_path: Path, env: dict[str, str], data_dir, monkeypatch):
    """`make_window(**environment)`: the window, its worker pointed at a fresh cache (and the given Hub)."""
    made = []

    def make(**environment: str) -> MainWindow:
        monkeypatch.setenv("PYTHONPATH", env["PYTHONPATH"])
        monkeypatch.setenv("SCENESCOPE_CACHE_DIR", os.environ["SCENESCOPE_CACHE_DIR"])
        monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
        monkeypatch.setenv("HF_ENDPOINT", env["HF_ENDPOINT"])
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        window = MainWindow(
            argparse.Namespace(device="cpu"), QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
        )
        shown_ready(qtbot, window)
        made.append(window)
        return window

    yield make
    for window in made:
        window.close()


def opened(qtbot, window: MainWindow, which: str) -> ModelSetupDialog:
    dialog = window.show_model_setup(which)
    qtbot.waitUntil(lambda: dialog.setup.step.state != "loading", timeout=20_000)
    return dialog


def test_download_through_the_dialog_with_progress_then_verified(qtbot, make_window, hub, tmp_path) -> None:
    window = make_window(HF_ENDPOINT=hub.url)
    dialog = opened(qtbot, window, "sam2")
    assert dialog.setup.step.state == "missing" and dialog.state.text() == "Not on this computer yet."
    assert dialog.title.text() == "SAM 2.1 Hiera-tiny (38.9 M parameters)"
    assert "MB to download" in dialog.size.text()
    assert dialog.where.text() == f"It goes to {tmp_path / 'hf'}/models--facebook--sam2.1-hiera-tiny"
    assert dialog.download_button.isVisible() and dialog.download_button.isEnabled()
    assert not dialog.offline.isVisible()

    seen: list[str] = []
    dialog.setup.changed.connect(lambda: seen.append(dialog.setup.step.state))
    dialog.download_button.click()
    qtbot.waitUntil(lambda: dialog.setup.step.state == "ready", timeout=60_000)
    assert "downloading" in seen
    assert dialog.state.text().startswith("On this computer, verified: ")
    assert not dialog.download_button.isVisible() and not dialog.progress.isVisible()
    assert store.cache_copy(SAM2) is None  # this process's cache is elsewhere: the worker did the work
    assert (
        tmp_path / "hf" / "models--facebook--sam2.1-hiera-tiny" / "trees" / f"{SAM2.revision}.json"
    ).is_file()


def test_stop_then_resume_fetches_only_the_rest(qtbot, make_window, hub) -> None:
    hub.delay_s = 0.01
    window = make_window(HF_ENDPOINT=hub.url)
    dialog = opened(qtbot, window, "sam2")
    dialog.download_button.click()
    step = lambda: dialog.setup.step  # noqa: E731
    qtbot.waitUntil(
        lambda: step().progress is not None and step().progress.message == "model.safetensors"
        and 0 < step().progress.done < step().progress.total,
        timeout=60_000,
    )  # fmt: skip
    assert dialog.cancel_button.isVisible() and dialog.progress.isVisible()
    assert " of " in dialog.progress.format() and "downloaded" in dialog.progress.format()
    dialog.cancel_button.click()
    qtbot.waitUntil(lambda: step().state == "incomplete", timeout=20_000)
    assert dialog.error.text().startswith("Download stopped.") and dialog.error.isVisible()
    assert dialog.download_button.text() == "Resume download"
    assert dialog.state.text() == "Partly downloaded: 3 of 4 files missing."

    hub.delay_s = 0.0
    hub.requests.clear()
    dialog.download_button.click()
    qtbot.waitUntil(lambda: step().state == "ready", timeout=60_000)
    fetched = {path.rsplit("/", 1)[-1] for method, path in hub.requests if method == "GET"}
    assert fetched == {"model.safetensors", "processor_config.json", "video_preprocessor_config.json"}


def test_offline_says_so_and_how_to_bring_the_model_over(qtbot, make_window, tmp_path) -> None:
    window = make_window(HF_HUB_OFFLINE="1")
    dialog = opened(qtbot, window, "internvideo")
    assert dialog.title.text() == "InternVideo2.5 Chat 8B" and "16.81 GB" in dialog.size.text()
    assert dialog.offline.isVisible() and not dialog.download_button.isEnabled()
    help_text = dialog.offline.text()
    assert "offline (HF_HUB_OFFLINE is set)" in help_text
    assert "scenescope models download internvideo2.5-8b" in help_text and str(tmp_path / "hf") in help_text


def test_a_folder_copied_by_hand_is_verified_and_becomes_the_model(
    qtbot, make_window, hub, sam2_folder: Path, tmp_path: Path, monkeypatch
) -> None:
    other = tmp_path / "other-machine"
    point_at(hub.url, other, monkeypatch)
    store.download(SAM2)
    usb = tmp_path / "usb" / "models--facebook--sam2.1-hiera-tiny"
    shutil.copytree(other / usb.name, usb)
    folder = usb / "snapshots" / SAM2.revision

    window = make_window()
    with qtbot.waitSignal(window.model_setup_requested):
        window.model_setup_requested.emit("sam2")  # what the tracking feature does
    dialog = window.findChild(ModelSetupDialog)
    assert dialog is not None and dialog.isVisible()
    qtbot.waitUntil(lambda: dialog.setup.step.state == "missing", timeout=20_000)
    dialog._choose = lambda parent, caption, start: str(folder)
    with qtbot.waitSignal(dialog.setup.folder_chosen, timeout=30_000):
        dialog.folder_button.click()
    assert window.settings.sam_model == str(folder)
    assert QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat).value("sam_model") == str(folder)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=5_000)

    bare = tmp_path / "bare"
    shutil.copytree(folder, bare)  # no checksum list came with it
    again = opened(qtbot, window, "sam2")
    again._choose = lambda parent, caption, start: str(bare)
    again.folder_button.click()
    qtbot.waitUntil(lambda: again.unverified_button.isVisible(), timeout=30_000)
    assert "has no list of the files the Hub published" in again.error.text()
    with qtbot.waitSignal(again.setup.folder_chosen, timeout=5_000):
        again.unverified_button.click()
    assert window.settings.sam_model == str(bare)


def test_settings_open_each_models_setup_with_what_the_worker_finds_on_disk(
    qtbot, make_window, hub, tmp_path: Path, monkeypatch
) -> None:
    from tests.test_app_file_menu import settings_dialog

    point_at(hub.url, tmp_path / "hf", monkeypatch)
    store.download(SAM2)  # SAM2 is in the window's Hub cache; InternVideo2.5 is not
    window = make_window(HF_ENDPOINT=hub.url)
    window.actions["settings"].trigger()  # File ▸ Settings…
    settings = settings_dialog(qtbot, window)
    assert set(settings.setup_buttons) == {"internvideo", "sam2"}

    settings.setup_buttons["internvideo"].click()
    internvideo = settings.findChild(ModelSetupDialog)
    assert internvideo is not None and internvideo.isVisible() and internvideo.parent() is settings
    qtbot.waitUntil(lambda: internvideo.setup.step.state != "loading", timeout=20_000)
    assert internvideo.title.text() == "InternVideo2.5 Chat 8B"
    assert internvideo.state.text() == "Not on this computer yet."
    internvideo.close()
    qtbot.waitUntil(lambda: settings.findChild(ModelSetupDialog) is None, timeout=5_000)

    settings.setup_buttons["sam2"].click()
    sam2 = settings.findChild(ModelSetupDialog)
    qtbot.waitUntil(lambda: sam2.setup.step.state != "loading", timeout=20_000)
    snapshot = tmp_path / "hf" / "models--facebook--sam2.1-hiera-tiny" / "snapshots" / SAM2.revision
    assert sam2.state.text() == f"On this computer, verified: {snapshot}"
    sam2._choose = lambda parent, caption, start: str(snapshot)
    with qtbot.waitSignal(sam2.setup.folder_chosen, timeout=30_000):
        sam2.folder_button.click()
    assert settings.sam_model.text() == str(snapshot)  # the open settings show it, so OK keeps it
    settings.accept()
    assert settings.chosen().sam_model == str(snapshot) == window.settings.sam_model
