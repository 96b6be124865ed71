"""The desktop window on real widgets (offscreen) with a real worker process and generated clips whose frames
carry their index as a barcode: the frame painted is the frame whose number is shown; keys do what the
keymap says; sessions save, reopen and relink; the engine dying leaves the window up; the event loop
never stalls; and the PySide6/Python pairing the app relies on."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QLabel

from app import keymap
from app.main_window import MainWindow
from tests.conftest import REPO_ROOT
from tests.heartbeat import Heartbeat
from tests.qt_images import barcode_of

VFR_DURATIONS = [0.04] * 30 + [0.02] * 30 + [0.1, 0.03, 0.07] * 20


@pytest.fixture
def store(tmp_path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def window_env(env, monkeypatch):
    for name in ("PYTHONPATH", "SCENESCOPE_CACHE_DIR", "HF_HUB_CACHE", "HF_ENDPOINT"):
        monkeypatch.setenv(name, env[name])


def shown_ready(qtbot, window: MainWindow) -> MainWindow:
    """The window on screen, closed after the test, once its engine answers."""
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.worker.state == "ready", timeout=30_000)
    return window


@pytest.fixture
def window(qtbot, store, window_env, data_dir):
    window = shown_ready(qtbot, MainWindow(argparse.Namespace(device="cpu"), store))
    yield window
    window.close()


def open_and_wait(qtbot, window, path) -> None:
    with qtbot.waitSignal(window.video_opened, timeout=30_000):
        window.open_video(path)
    qtbot.waitUntil(lambda: window.view.frame_index >= 0, timeout=10_000)


def on_screen(qtbot, window, index: int) -> None:
    """Wait until frame `index` is painted, then check the picture is that frame and the label says so."""
    qtbot.waitUntil(lambda: window.view.frame_index == index, timeout=10_000)
    assert barcode_of(window.view.image) == index
    assert window.transport.frame.text().startswith(f"frame {index:,} ")


def press(window, key: str) -> None:
    QTest.keyClick(window, *_key(key))


def _key(text: str):
    from PySide6.QtGui import QKeySequence

    combo = QKeySequence(text)[0]
    return combo.key(), combo.keyboardModifiers()


def test_menus_hold_every_action_of_the_keymap_with_its_keys(window) -> None:
    menus = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert menus == ["File", "Playback", "View", "Ask", "Moments", "Tracking", "Help"]
    in_menus = {a.objectName() for m in window.menuBar().actions() for a in m.menu().actions()}
    assert {b.name for b in keymap.KEYMAP} <= in_menus
    assert window.actions["play_pause"].shortcuts()[0].toString() == "Space"
    assert [s.toString() for s in window.actions["next_frame"].shortcuts()] == [".", "Right"]
    window.actions["shortcuts"].trigger()
    table = window.shortcuts_dialog.table
    assert table.rowCount() == len(keymap.KEYMAP)
    assert [table.item(r, 2).text() for r in range(3)][:1] == ["Ctrl+O"]


@pytest.mark.parametrize("kind", ["cfr", "vfr"])
def test_keys_step_and_seek_to_exact_frames(qtbot, window, media, kind) -> None:
    if kind == "cfr":
        path = media("window cfr.mp4", frames=150, fps=25, gop=25, bframes=2)
    else:
        path = media("window vfr.mp4", frames=len(VFR_DURATIONS), durations_s=VFR_DURATIONS, gop=12)
    open_and_wait(qtbot, window, path)
    on_screen(qtbot, window, 0)
    for key, expected in ((".", 1), (".", 2), ("Right", 3), (",", 2), ("Left", 1), ("Left", 0)):
        press(window, key)
        on_screen(qtbot, window, expected)
    times = window.info.frames.times_s
    press(window, "Shift+Right")  # one second on: the frame on screen at 1.0 s
    on_screen(qtbot, window, window.info.frames.index_at(1.0))
    press(window, "End")
    on_screen(qtbot, window, window.info.frame_count - 1)
    press(window, "Home")
    on_screen(qtbot, window, 0)
    window.timeline.seek_requested.emit(float(times[47]), False)  # a click on the timeline
    on_screen(qtbot, window, 47)
    assert window.transport.time.text() == _clock(float(times[47]))


def _clock(seconds: float) -> str:
    from engine.timecode import format_timecode

    return format_timecode(seconds)


def test_speed_keys_and_rebinding(qtbot, window, media, store, window_env) -> None:
    open_and_wait(qtbot, window, media("window speed.mp4", frames=60, fps=25))
    press(window, "]")
    assert window.player.rate == pytest.approx(1.1)
    press(window, "}")
    assert window.player.rate == pytest.approx(2.2)
    press(window, "Backspace")
    assert window.player.rate == 1.0 and window.transport.speed.text() == "1.00×"
    press(window, "M")
    assert window.player.audio.isMuted()

    store.setValue("keys/next_frame", ["P"])  # a key no feature has (N is New Object)
    store.sync()
    other = MainWindow(argparse.Namespace(device="cpu"), store)
    qtbot.addWidget(other)
    other.show()
    assert [s.toString() for s in other.actions["next_frame"].shortcuts()] == ["P"]
    open_and_wait(qtbot, other, media("window speed.mp4", frames=60, fps=25))
    on_screen(qtbot, other, 0)
    press(other, "P")
    on_screen(qtbot, other, 1)
    other.close()


def test_the_session_keeps_the_playhead_and_the_view_for_the_next_opening(
    qtbot, window, media, store
) -> None:
    path = media("window session.mp4", frames=200, fps=25, gop=25)
    open_and_wait(qtbot, window, path)
    window.player.seek(5.0)
    on_screen(qtbot, window, 125)
    window.timeline.set_view_range(2.0, 6.0)
    session_file = window.sessions.keeper.path
    window.close()  # saves
    saved = json.loads(session_file.read_text())
    assert saved["view"]["position_s"] == 5.0 and (saved["view"]["start_s"], saved["view"]["end_s"]) == (
        2.0,
        6.0,
    )

    again = MainWindow(argparse.Namespace(device="cpu"), store)
    qtbot.addWidget(again)
    again.show()
    open_and_wait(qtbot, again, path)
    on_screen(qtbot, again, 125)  # restored
    assert again.timeline.view_range() == (2.0, 6.0)
    again.close()


def test_a_moved_video_is_relinked_and_other_content_refused(
    qtbot, window, media, tmp_path, monkeypatch
) -> None:
    import shutil

    from app import relink_dialog, session_controller

    original = tmp_path / "harbour.mp4"
    shutil.copy(media("window relink.mp4", frames=50), original)
    open_and_wait(qtbot, window, original)
    session_file = window.sessions.keeper.path
    window.sessions.keeper.flush()
    moved = tmp_path / "moved" / "harbour renamed.mp4"
    moved.parent.mkdir()
    original.rename(moved)
    impostor = tmp_path / "other.mp4"
    shutil.copy(media("window other.mp4", frames=51), impostor)
    choices, refusals = [str(impostor), str(moved)], []

    def relink(parent, session):
        return relink_dialog.ask_relink(
            parent, session, choose=lambda *a: choices.pop(0), refused=lambda p, m: refusals.append(m)
        )

    monkeypatch.setattr(session_controller, "ask_relink", relink)
    open_and_wait(qtbot, window, session_file)
    assert len(refusals) == 1 and "is not the video of this session" in refusals[0]
    assert window.video_path == moved.resolve()
    assert json.loads(session_file.read_text())["video"]["path"] == str(moved.resolve())


def test_a_damaged_session_is_set_aside_and_the_video_opens_with_a_fresh_one(qtbot, window, media) -> None:
    from app.session import SUFFIX, data_folder, load_session, open_video_session

    video = media("window damaged session.mp4", frames=50, fps=25)
    _, path = open_video_session(video)
    path.parent.mkdir(parents=True, exist_ok=True)
    cut = '{"format": "scenescope-session", "version": 1, "vid'  # a save cut short by a full disk
    path.write_text(cut)
    data_folder(path).mkdir()
    (data_folder(path) / "tracks-boats.json").write_text("{}")
    open_and_wait(qtbot, window, video)  # the video opens all the same
    asides = list(path.parent.glob(f"{path.stem}.damaged-*{SUFFIX}"))
    assert len(asides) == 1 and asides[0].read_text() == cut  # kept as it was, with its files
    assert (data_folder(asides[0]) / "tracks-boats.json").read_text() == "{}"
    text = window.banner.label.text()
    assert window.banner.isVisible() and "damaged (not JSON" in text and str(asides[0]) in text, text
    assert window.sessions.keeper.path == path and not data_folder(path).exists()
    window.player.seek(1.0)
    on_screen(qtbot, window, 25)
    assert window.sessions.keeper.flush() and load_session(path).view.position_s == 1.0  # a fresh one
    open_and_wait(qtbot, window, media("window next video.mp4", frames=20, fps=25))
    assert not window.banner.isVisible()  # it was about the other video


def test_a_crash_banner_stays_when_another_video_opens(qtbot, window, media) -> None:
    with qtbot.waitSignal(window.worker.crashed, timeout=10_000):
        os.kill(window.worker.pid, signal.SIGKILL)
    window.open_video(media("window after crash.mp4", frames=20, fps=25))
    assert window.banner.isVisible() and "Restart engine" in [b.text() for b in window.banner.buttons]


def test_the_engine_killed_mid_job_leaves_the_window_up_and_a_restart_serves(
    qtbot, window, media, tmp_path
) -> None:
    path = media("window kill.mp4", frames=900, fps=30, width=320, height=180)
    open_and_wait(qtbot, window, path)
    call = window.worker.request(
        "export_spans", video="video-1", spans=[{"start_s": 0, "end_s": 29}], out_dir=str(tmp_path / "x"),
        reencode=True, settings={"preset": "veryslow"},
    )  # fmt: skip
    qtbot.waitUntil(lambda: call.last_progress is not None, timeout=30_000)
    assert window.engine_status.job.isVisible() and "Exporting clips" in window.engine_status.job.text()
    os.kill(window.worker.pid, signal.SIGKILL)
    qtbot.waitUntil(lambda: window.banner.isVisible(), timeout=10_000)
    assert "signal 9" in window.banner.label.text() and "session is intact" in window.banner.label.text()
    press(window, ".")  # the window still works without the engine
    on_screen(qtbot, window, window.player.index)
    with qtbot.waitSignal(window.video_opened, timeout=30_000):
        window.banner.button("Restart engine").click()
    assert window.worker.state == "ready" and not window.banner.isVisible()


def test_the_event_loop_never_stalls_while_the_engine_works_and_the_video_plays(
    qtbot, window, media, tmp_path
) -> None:
    path = media("window busy.mp4", frames=300, fps=30, width=640, height=360, audio=True)
    open_and_wait(qtbot, window, path)
    beat = Heartbeat()
    call = window.worker.request(
        "export_spans", video="video-1", spans=[{"start_s": 0, "end_s": 9.9}], out_dir=str(tmp_path / "busy"),
        reencode=True,
    )  # fmt: skip
    window.player.play()
    beat.start()
    qtbot.waitUntil(lambda: call.done or len(beat.gaps_ms) > 300, timeout=60_000)
    beat.stop()
    window.player.pause()
    assert beat.held(100), beat.report()


def test_building_the_window_and_opening_a_video_never_imports_torch(media, env) -> None:
    video = media("window torch.mp4", frames=20)
    code = f"""
import sys
from PySide6.QtWidgets import QApplication
app = QApplication([])
from app.main_window import MainWindow
window = MainWindow()
window.show()
window.video_opened.connect(lambda info: app.quit())
window.open_video({str(video)!r})
app.exec()
window.close()
print(",".join(sorted(m for m in ("torch", "transformers") if m in sys.modules)) or "none")
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, timeout=120,
        env={**env, "QT_QPA_PLATFORM": "offscreen"},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "none"


def test_screenshot_waits_for_the_frame_at_the_time_asked(
    qtbot, qapp, window, media, tmp_path, monkeypatch, capsys
):
    import app.main as main_module

    video = media("window shot.mp4", frames=100, fps=25, gop=25, width=320, height=240)
    saved = []

    def save(shown, path, app) -> None:
        saved.append((shown.view.frame_index, barcode_of(shown.view.image), shown.grab().save(str(path))))

    monkeypatch.setattr(main_module, "_save", save)
    monkeypatch.setattr(main_module, "SCREENSHOT_TIMEOUT_MS", 3000)
    main_module._screenshot_when_shown(window, tmp_path / "shot.png", 2.5, qapp)
    window.open_video(video)
    qtbot.waitUntil(lambda: bool(saved), timeout=30_000)
    assert saved == [(62, 62, True)]  # the frame on screen at 2.5 s (62.5 frames in), painted
    qtbot.wait(3200)  # past the time it gives up after: done, it must not end the application
    assert "cannot take the screenshot" not in capsys.readouterr().err


def test_screenshot_of_a_restored_chat_waits_for_its_answer_frames(
    qtbot, qapp, window, media, tmp_path, monkeypatch
) -> None:
    import app.main as main_module
    from app.chat_turn import ChatTurn
    from app.session import open_video_session, save_session
    from tests.test_session import ANSWER

    video = media("window shot chat.mp4", frames=100, fps=25, gop=25, width=320, height=240)
    session, path = open_video_session(video)
    frames = [{"index": i, "time_s": i / 25} for i in (7, 41, 88)]
    answer = {**ANSWER, "answer": "A boat.", "frames": frames}
    session.chat = [ChatTurn("Who enters?", text="A boat.", state="done", answer=answer).to_dict()]
    save_session(session, path)
    saved = []

    def save(shown, path, app) -> None:
        images = shown.chat_panel.frames.images
        saved.append({i: barcode_of(images[i].scaled(320, 240)) for i in (7, 41, 88) if i in images})

    monkeypatch.setattr(main_module, "_save", save)
    main_module._screenshot_when_shown(window, tmp_path / "shot.png", 2.0, qapp)
    window.open_video(video)
    qtbot.waitUntil(lambda: bool(saved), timeout=30_000)
    assert saved == [{7: 7, 41: 41, 88: 88}]  # every thumbnail of the answer made, of its own frame
    assert not window.chat_panel.pictures_pending() and not window.timeline.thumbnails_pending()


def screenshot(video, png, env, platform: str, runner: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """`scenescope VIDEO --screenshot PNG --at 1.0` as a user runs it."""
    command = [*runner, sys.executable, "-m", "app", str(video), "--screenshot", str(png), "--at", "1.0"]
    clean = {k: v for k, v in env.items() if k not in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")}
    return subprocess.run(
        [*command, "--device", "cpu"], capture_output=True, text=True, cwd=REPO_ROOT, timeout=180,
        env={**clean, "QT_QPA_PLATFORM": platform},
    )  # fmt: skip


def assert_window_picture(png) -> None:
    """A whole-window PNG whose video area shows the picture (the harbour scene), not black."""
    from PySide6.QtGui import QImage

    image = QImage(str(png))
    assert (image.width(), image.height()) == (1440, 900)
    centre = image.pixelColor(500, 300)
    assert centre.red() + centre.green() + centre.blue() > 150, centre.name()


def test_the_screenshot_command_writes_the_window(media, env, tmp_path) -> None:
    video = media("window shot scene.mp4", frames=50, fps=25, width=640, height=360, scene=True)
    out = screenshot(video, tmp_path / "shot.png", env, "offscreen")
    assert out.returncode == 0, out.stderr[-2000:]
    assert_window_picture(tmp_path / "shot.png")


@pytest.mark.skipif(not __import__("shutil").which("xvfb-run"), reason="xvfb-run is not installed")
def test_the_real_window_under_xvfb(media, env, tmp_path) -> None:
    video = media("window shot scene.mp4", frames=50, fps=25, width=640, height=360, scene=True)
    out = screenshot(
        video, tmp_path / "xvfb.png", env, "xcb", ("xvfb-run", "-a", "-s", "-screen 0 1600x1000x24")
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert_window_picture(tmp_path / "xvfb.png")


def test_void_qt_calls_do_not_leak_references_to_none(qapp):
    """PySide6 6.12.0 on Python < 3.12 drops a reference to None per void call and aborts the interpreter."""
    label = QLabel()
    before = sys.getrefcount(None)
    for i in range(20_000):
        label.setText(str(i % 7))
        qapp.processEvents()
    after = sys.getrefcount(None)
    assert after >= before - 100, f"None lost {before - after} references in 40,000 void calls"


def test_window_icon_is_drawn_from_assets(qtbot, store, window_env):
    window = MainWindow(argparse.Namespace(device="cpu"), store)
    qtbot.addWidget(window)
    image = window.windowIcon().pixmap(64, 64).toImage()
    assert image.width() == 64
    assert image.pixelColor(1, 1).alpha() == 0  # the rounded corner is transparent
    assert image.pixelColor(32, 4).name() == "#1d2430"  # the tile itself
    window.close()


def test_a_feature_page_takes_its_tabs_place(qtbot) -> None:
    from PySide6.QtWidgets import QLabel

    from app.side_panel import SidePanel

    panel = SidePanel()
    qtbot.addWidget(panel)
    page = QLabel("moments list")
    panel.set_page("Moments", page)
    assert [panel.tabText(i) for i in range(panel.count())] == ["Chat", "Moments", "Objects"]
    assert panel.widget(1) is page and panel.pages["Moments"] is page
