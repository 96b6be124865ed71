"""Autosave (debounced, and periodic while changes keep coming), crash recovery with a real process killed
by SIGKILL, and the recent-files list."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QElapsedTimer, QSettings, QTimer
from PySide6.QtWidgets import QMenu

from app.recent_files import RecentFiles
from app.session import Session, VideoRef, load_session, open_video_session, save_session
from app.session_keeper import QUIET_MS, SessionKeeper, recoverable
from tests.conftest import checkout_env
from tests.heartbeat import Heartbeat

QUIET, EVERY = 300, 1000  # ms: shorter than the app's, so the tests are quick


pytestmark = pytest.mark.usefixtures("data_dir")  # each test its own sessions and crash markers


@pytest.fixture
def video(media) -> Path:
    return media("keeper_clip.mp4", frames=30)


@pytest.fixture
def keeper(qtbot):
    keeper = SessionKeeper(quiet_ms=QUIET, every_ms=EVERY)
    yield keeper
    keeper.close()


def saved_position(path: Path) -> float:
    return json.loads(path.read_text())["view"]["position_s"]


def test_changes_are_saved_once_they_pause(qtbot, keeper, video, tmp_path):
    path = tmp_path / "s.scenescope"
    keeper.open(Session(VideoRef.of(video)), path)
    saves = []
    keeper.saved.connect(saves.append)
    clock = QElapsedTimer()
    clock.start()
    for i in range(5):  # five quick changes: one save, of the last
        keeper.session.view.position_s = float(i)
        keeper.mark_dirty()
        qtbot.wait(50)
    assert not path.exists()
    qtbot.waitUntil(lambda: bool(saves), timeout=5000)
    assert clock.elapsed() >= 4 * 50 + QUIET - 20
    qtbot.wait(QUIET + 200)
    assert saves == [str(path)] and saved_position(path) == 4.0 and not keeper.dirty


def test_a_stream_of_changes_is_saved_every_few_seconds_not_only_at_its_end(qtbot, keeper, video, tmp_path):
    path = tmp_path / "s.scenescope"
    keeper.open(Session(VideoRef.of(video)), path)
    saves, positions = [], []
    keeper.saved.connect(lambda p: (saves.append(p), positions.append(saved_position(Path(p)))))
    ticks = QTimer(interval=100)  # the playhead moving: faster than the quiet period

    def tick():
        keeper.session.view.position_s += 0.1
        keeper.mark_dirty()

    ticks.timeout.connect(tick)
    ticks.start()
    qtbot.wait(2 * EVERY + 500)
    ticks.stop()
    assert len(saves) >= 2, "changes every 100 ms put saving off until they stopped"
    assert positions == sorted(positions) and positions[0] > 0
    qtbot.waitUntil(lambda: not keeper.dirty, timeout=5000)
    assert saved_position(path) == pytest.approx(keeper.session.view.position_s)


def test_close_saves_at_once_and_removes_the_crash_marker(qtbot, video, tmp_path, data_dir):
    keeper = SessionKeeper()  # the app's own intervals: close must not wait for them
    path = tmp_path / "s.scenescope"
    session = Session(VideoRef.of(video))
    keeper.open(session, path)
    assert len(list((data_dir / "running").glob("*.json"))) == 1
    session.view.position_s = 2.5
    keeper.mark_dirty()
    assert keeper.close() is True
    assert saved_position(path) == 2.5
    assert list((data_dir / "running").iterdir()) == []
    assert QUIET_MS == 1000  # the brief's "about 1 s"


def test_a_failed_save_is_reported_and_tried_again(qtbot, keeper, video, tmp_path):
    blocker = tmp_path / "sessions"
    blocker.write_text("a file where the session folder should be")
    path = blocker / "s.scenescope"
    keeper.open(Session(VideoRef.of(video)), path)
    failures = []
    keeper.save_failed.connect(failures.append)
    keeper.session.view.position_s = 3.0
    keeper.mark_dirty()
    qtbot.waitUntil(lambda: bool(failures), timeout=5000)
    assert "cannot save the session to" in failures[0] and "\n" not in failures[0]
    assert keeper.dirty
    blocker.unlink()  # the user makes room
    with qtbot.waitSignal(keeper.saved, timeout=EVERY + 3000):
        pass
    assert saved_position(path) == 3.0 and not keeper.dirty


@pytest.fixture
def slow_disk(monkeypatch):
    """Each session write waits `delay_s` first, as an fsync on a busy or network disk does (the GIL free)."""
    import app.session as session_module

    real = session_module.write_text_atomic
    disk = {"delay_s": 0.6, "writes": 0}

    def slow(path, text, **kwargs):
        time.sleep(disk["delay_s"])
        real(path, text, **kwargs)
        disk["writes"] += 1

    monkeypatch.setattr(session_module, "write_text_atomic", slow)
    return disk


def test_a_slow_disk_never_holds_the_event_loop(qtbot, keeper, video, tmp_path, slow_disk):
    path = tmp_path / "s.scenescope"
    keeper.open(Session(VideoRef.of(video)), path)
    heartbeat = Heartbeat()
    heartbeat.start()
    keeper.session.view.position_s = 1.5
    keeper.mark_dirty()
    with qtbot.waitSignal(keeper.saved, timeout=5000):
        pass
    heartbeat.stop()
    assert saved_position(path) == 1.5 and not keeper.dirty
    assert heartbeat.held(QUIET // 10), heartbeat.report()  # the 0.6 s write ran beside the loop


def test_changes_during_a_write_are_saved_after_it_and_flush_waits_for_the_disk(
    qtbot, keeper, video, tmp_path, slow_disk
):
    path = tmp_path / "s.scenescope"
    keeper.open(Session(VideoRef.of(video)), path)
    saved = []
    keeper.saved.connect(lambda p: saved.append(saved_position(Path(p))))
    keeper.session.view.position_s = 1.0
    keeper.mark_dirty()
    qtbot.waitUntil(lambda: keeper._writing is not None, timeout=5000)  # the first write is on the disk
    keeper.session.view.position_s = 2.0  # changed while it is written: a second write follows, in order
    keeper.mark_dirty()
    qtbot.waitUntil(lambda: len(saved) == 2, timeout=5000)
    assert saved == [1.0, 2.0] and saved_position(path) == 2.0 and slow_disk["writes"] == 2
    keeper.session.view.position_s = 3.0
    keeper.mark_dirty()
    qtbot.waitUntil(lambda: keeper._writing is not None, timeout=5000)
    keeper.session.view.position_s = 4.0
    keeper.mark_dirty()
    assert keeper.flush() and saved_position(path) == 4.0 and saved == [1.0, 2.0, 3.0, 4.0]
    assert not keeper.dirty


def test_a_disk_that_hangs_fails_the_flush_and_close_keeps_the_crash_marker(
    qtbot, keeper, video, tmp_path, slow_disk, data_dir, monkeypatch
):
    monkeypatch.setattr("app.session_keeper.WAIT_S", 0.3)
    slow_disk["delay_s"] = 1.5
    path = tmp_path / "s.scenescope"
    keeper.open(Session(VideoRef.of(video)), path)
    failures = []
    keeper.save_failed.connect(failures.append)
    keeper.session.view.position_s = 1.0
    keeper.mark_dirty()
    qtbot.waitUntil(lambda: keeper._writing is not None, timeout=5000)
    assert keeper.close() is False
    assert "the disk has not answered for 0.3 s): check the disk" in failures[0]
    assert len(list((data_dir / "running").glob("*.json"))) == 1  # the next start offers it
    qtbot.waitUntil(lambda: slow_disk["writes"] == 1, timeout=5000)  # the disk answers at last
    assert saved_position(path) == 1.0


CHILD = """
import sys, time
from PySide6.QtCore import QCoreApplication
from app.session import open_video_session
from app.session_keeper import SessionKeeper

app = QCoreApplication([])
session, path = open_video_session(sys.argv[1])
keeper = SessionKeeper()
keeper.open(session, path)
session.view.position_s = 1.25
keeper.mark_dirty()
keeper.flush()
print("open", flush=True)
if sys.argv[2] == "close":
    keeper.close()
else:
    time.sleep(120)
"""


def start_app(video: Path, data_dir: Path, how: str) -> subprocess.Popen:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(video), how],
        env=checkout_env(SCENESCOPE_DATA_DIR=str(data_dir), QT_QPA_PLATFORM="offscreen"),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout.readline().strip() == "open"
    return child


def test_a_killed_app_leaves_its_session_to_restore(video, data_dir):
    child = start_app(video, data_dir, "sleep")
    try:
        assert recoverable() == []  # it is running: nothing to restore
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    [found] = recoverable()
    session, path = open_video_session(video)
    assert found.session_path == path
    assert found.session == session and found.session.view.position_s == 1.25
    found.dismiss()
    assert recoverable() == []


def test_a_cleanly_closed_app_leaves_nothing_to_restore(video, data_dir):
    child = start_app(video, data_dir, "close")
    assert child.wait(timeout=30) == 0
    assert recoverable() == []
    assert list((data_dir / "running").iterdir()) == []


def test_a_marker_counts_as_abandoned_by_its_lock_not_its_pid(video, data_dir, tmp_path):
    """A crashed app's pid may belong to another process by now: an unlocked marker is abandoned anyway."""
    session_path = tmp_path / "s.scenescope"
    save_session(Session(VideoRef.of(video)), session_path)
    (data_dir / "running").mkdir(parents=True)
    marker = data_dir / "running" / f"{os.getpid()}-0badc0de.json"  # a live pid: this very process
    marker.write_text(json.dumps({"pid": os.getpid(), "session": str(session_path)}))
    [found] = recoverable()
    assert found.marker == marker and found.session_path == session_path


def test_a_marker_whose_session_is_gone_is_dropped(data_dir, tmp_path):
    (data_dir / "running").mkdir(parents=True)
    marker = data_dir / "running" / "1-00000000.json"
    marker.write_text(json.dumps({"pid": 1, "session": str(tmp_path / "deleted.scenescope")}))
    (data_dir / "running" / "2-00000000.json").write_text("not json")
    assert recoverable() == []
    assert list((data_dir / "running").iterdir()) == []


def test_keeping_another_session_saves_the_first_and_moves_the_marker(qtbot, keeper, video, media, data_dir):
    first, first_path = open_video_session(video)
    keeper.open(first, first_path)
    first.view.position_s = 0.75
    keeper.mark_dirty()
    second, second_path = open_video_session(media("keeper_other.mp4", frames=20))
    keeper.open(second, second_path)
    assert load_session(first_path).view.position_s == 0.75
    [marker] = (data_dir / "running").glob("*.json")
    assert json.loads(marker.read_text())["session"] == str(second_path.resolve())


# ----- recent files -----------------------------------------------------------------------------------------
@pytest.fixture
def store(tmp_path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


def test_recent_files_are_newest_first_once_each_and_at_most_ten(store, tmp_path):
    recent = RecentFiles(store)
    files = []
    for i in range(12):
        files.append(tmp_path / f"clip{i}.mp4")
        files[-1].write_bytes(b"x")
        recent.add(files[-1])
    recent.add(files[5])
    assert [e.path for e in recent.entries()] == [
        files[5],
        files[11],
        files[10],
        *files[9:5:-1],
        *files[4:1:-1],
    ]
    files[11].unlink()
    reread = RecentFiles(QSettings(store.fileName(), QSettings.Format.IniFormat))
    assert [(e.path.name, e.exists) for e in reread.entries()][:3] == [
        ("clip5.mp4", True),
        ("clip11.mp4", False),
        ("clip10.mp4", True),
    ]
    recent.remove(files[10])
    assert files[10] not in [e.path for e in recent.entries()]


def test_recent_files_read_a_list_of_one_as_qsettings_writes_it(tmp_path):
    ini = tmp_path / "hand.ini"
    ini.write_text(f"[recent]\nfiles={tmp_path / 'only.mp4'}\n")
    assert [e.path for e in RecentFiles(QSettings(str(ini), QSettings.Format.IniFormat)).entries()] == [
        tmp_path / "only.mp4"
    ]


def test_the_open_recent_menu_marks_missing_files_and_opens_the_others(qtbot, store, tmp_path):
    recent = RecentFiles(store)
    here, gone = tmp_path / "here & now.mp4", tmp_path / "gone.mp4"
    for path in (gone, here):
        path.write_bytes(b"x")
        recent.add(path)
    gone.unlink()
    menu = QMenu()
    opened = []
    recent.fill_menu(menu, opened.append)
    actions = [a for a in menu.actions() if not a.isSeparator()]
    assert [a.text() for a in actions] == [
        "&1 here && now.mp4",
        "&2 gone.mp4  (missing)",
        "&Clear Recent Files",
    ]
    assert [a.isEnabled() for a in actions] == [True, False, True]
    assert actions[1].toolTip() == str(gone)
    actions[0].trigger()
    assert opened == [here]
    actions[2].trigger()
    assert recent.entries() == []
    recent.fill_menu(menu, opened.append)
    assert [a.text() for a in menu.actions()] == ["&Clear Recent Files"] and not menu.actions()[0].isEnabled()


def test_recent_files_resolve_paths(store, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copyfile(__file__, tmp_path / "a.mp4")
    RecentFiles(store).add("a.mp4")
    assert RecentFiles(store).entries()[0].path == tmp_path / "a.mp4"
