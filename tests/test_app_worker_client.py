"""The window's worker client on a real worker process: calls as signals, never blocking, and what happens
when the worker crashes or hangs (the window side survives, a restart serves again)."""

from __future__ import annotations

import os
import signal
import time

import pytest
from PySide6.QtCore import QCoreApplication

from app.worker_client import WORKER_EXITED, WorkerClient
from tests.heartbeat import Heartbeat


@pytest.fixture
def client(qtbot, env, monkeypatch):
    for name in ("PYTHONPATH", "SCENESCOPE_CACHE_DIR", "HF_HUB_CACHE", "HF_ENDPOINT"):
        monkeypatch.setenv(name, env[name])
    worker = WorkerClient(["--device", "cpu"], hang_after_ms=1500)
    with qtbot.waitSignal(worker.state_changed, timeout=30_000, check_params_cb=lambda s: s == "ready"):
        worker.start()
    yield worker
    worker.stop()


def ending(call) -> list:
    """The list a call's end goes into: (True, data) or (False, error)."""
    ended = []
    call.finished.connect(lambda data: ended.append((True, data)))
    call.failed.connect(lambda error: ended.append((False, error)))
    return ended


def results(qtbot, call, timeout=30_000):
    """Wait for a call's end: (True, data) or (False, error)."""
    ended = ending(call)
    qtbot.waitUntil(lambda: bool(ended), timeout=timeout)
    return ended[0]


def test_a_call_reports_its_result_without_blocking_the_event_loop(qtbot, client, media) -> None:
    video = media("client.mp4", frames=40)
    heartbeat = Heartbeat()
    heartbeat.start()
    ok, data = results(qtbot, client.request("open_video", path=str(video)))
    heartbeat.stop()
    assert ok and data["info"]["frame_count"] == 40 and data["video"].startswith("video-")
    assert heartbeat.held(0), heartbeat.report()  # the window never waited on the worker
    ok, error = results(qtbot, client.request("open_video", path="/no/such.mp4"))
    assert not ok and error["code"] == "video_error" and "No such video file" in error["message"]


def test_status_replies_feed_the_status_bar(qtbot, client) -> None:
    with qtbot.waitSignal(client.status_changed, timeout=10_000) as reply:
        pass
    assert reply.args[0]["pid"] == client.pid


def test_a_killed_worker_fails_its_calls_and_a_restart_serves(qtbot, client, media) -> None:
    video = media("client kill.mp4", frames=600, width=640, height=360)
    call = client.request(
        "export_spans", video="video-1", spans=[], out_dir="/nonexistent"
    )  # any call in flight
    with qtbot.waitSignal(client.crashed, timeout=10_000) as crashed:
        os.kill(client.pid, signal.SIGKILL)
    assert "signal 9" in crashed.args[0]
    assert client.state == "crashed" and not client.calls
    ok, error = results(qtbot, client.request("status"))
    assert not ok and error["code"] == WORKER_EXITED
    assert call.done
    with qtbot.waitSignal(client.state_changed, timeout=30_000, check_params_cb=lambda s: s == "ready"):
        client.restart()
    ok, data = results(qtbot, client.request("open_video", path=str(video)))
    assert ok and data["info"]["frame_count"] == 600


def test_a_hung_worker_is_detected_by_its_unanswered_pings_and_stopped(qtbot, client) -> None:
    os.kill(client.pid, signal.SIGSTOP)  # alive but silent, as a worker stuck in native code
    with qtbot.waitSignal(client.crashed, timeout=15_000) as crashed:
        pass
    assert "stopped answering" in crashed.args[0] and client.state == "crashed"


def test_a_burst_of_progress_lines_is_shown_once_with_the_newest(qtbot, client, media, tmp_path) -> None:
    # Each progress shown repaints the window at once (QProgressBar): lines that piled up while the window
    # was busy must cost one update, not one each (a find under load stalled the loop for 40 ms that way).
    video = media("client burst.mp4", frames=300, width=320, height=240)
    assert results(qtbot, client.request("open_video", path=str(video)))[0]
    shown = []
    call = client.request(
        "export_spans", video="video-1", spans=[{"start_s": 0, "end_s": 9.9}], out_dir=str(tmp_path / "out"),
        reencode=True, sidecars=[],
    )  # fmt: skip
    call.progress.connect(shown.append)
    ended = ending(call)  # before the burst: on a fast machine the export's end comes in it too
    call.finished.connect(lambda _: ended.append(call.last_progress))
    qtbot.waitUntil(lambda: bool(shown), timeout=30_000)
    time.sleep(1.0)  # the window busy; the worker writes a progress line per frame meanwhile
    before = len(shown)
    QCoreApplication.processEvents()
    assert len(shown) == before + 1, [p.done for p in shown[before - 1 :]]
    assert shown[-1].done - shown[before - 1].done > 10  # the newest of many, not the next one
    qtbot.waitUntil(lambda: bool(ended), timeout=30_000)
    assert ended[0][0] and ended[1] is shown[-1]  # the last progress shown is the call's last
