"""Moments in the window, on real widgets with the real worker and the tiny model (changed to say yes for
some frames): find moments fills the heat strip from the curve pieces as they come, then the Moments lane
and the list, which agree; every edit and its undo/redo (keys, timeline drags, pixels in the lane); edges
snap to the frames of a variable-frame-rate clip; refine shows before and after; the session restores
moments, states and provenance without asking the model; cancel and the heartbeat during the scan; the
model-missing error offers its setup."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QSettings, Qt
from PySide6.QtGui import QColor
from PySide6.QtTest import QTest

from app.main_window import MainWindow
from app.moment import Moment
from app.moments_lane import BEFORE_LANE, HEAT_LANE, MOMENTS_LANE, SELECTED_COLOR
from app.moments_table import STATE_COLORS
from app.session import open_video_session, save_session
from engine.spans import Span
from tests.heartbeat import Heartbeat
from tests.test_app import VFR_DURATIONS, open_and_wait, press

FRAMES = 64  # the scan's frames: 16 groups, 15 windows, two batches of curve on the CPU (8 windows each)


@pytest.fixture
def store(tmp_path) -> QSettings:
    store = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    store.setValue("frame_budget", FRAMES)
    return store


@pytest.fixture
def window_env(env, monkeypatch):
    for name in ("PYTHONPATH", "SCENESCOPE_CACHE_DIR", "HF_HUB_CACHE", "HF_ENDPOINT"):
        monkeypatch.setenv(name, env[name])
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


def make_window(qtbot, store, model) -> MainWindow:
    window = MainWindow(argparse.Namespace(device="cpu", precision="fp32", model=str(model)), store)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.worker.state == "ready", timeout=30_000)
    return window


@pytest.fixture
def window(qtbot, store, window_env, data_dir, leaning_model_dir):
    window = make_window(qtbot, store, leaning_model_dir)
    yield window
    window.close()


@pytest.fixture
def clip(media):
    return media("moments clip.mp4", frames=120, fps=20, width=160, height=120, gop=10, texture=True)


@pytest.fixture
def vfr_clip(media):
    return media("moments vfr.mp4", frames=len(VFR_DURATIONS), durations_s=VFR_DURATIONS, gop=12)


def kinds_requested(window) -> list[str]:
    """Record the kind of every job the window asks the worker for from now on."""
    kinds, request = [], window.worker.request

    def recording(kind, **fields):
        if kind not in ("status", "hello"):  # the watchdog's pings
            kinds.append(kind)
        return request(kind, **fields)

    window.worker.request = recording
    return kinds


def find(qtbot, window, query: str, timeout: int = 120_000) -> None:
    window.moments_page.query.setText(query)
    press(window, "Ctrl+F")
    qtbot.waitUntil(lambda: window.moments.scan.state != "busy", timeout=timeout)
    assert window.moments.scan.state == "idle", window.moments.scan.message


def lane_pixel(window, seconds: float, lane: str = MOMENTS_LANE) -> QColor:
    """The colour `lane` shows 2 px after `seconds` (a span's start: left of its label), mid-row."""
    timeline = window.timeline
    rect = timeline.lane_rect(lane)
    image = timeline.grab().toImage()
    ratio = image.devicePixelRatio()
    x, y = timeline.x_of(seconds) + 2, rect.center().y()
    return QColor(image.pixel(round(x * ratio), round(y * ratio)))


def test_find_moments_fills_the_curve_then_the_lane_and_the_list(qtbot, window, clip) -> None:
    open_and_wait(qtbot, window, clip)
    assert not window.moments_page.empty.isHidden() and "Find (Ctrl+F)" in window.moments_page.empty.text()
    heat_sizes, partials = [], []
    window.moments.curve_changed.connect(lambda: heat_sizes.append(len(window.moments.curve[0])))
    kinds = kinds_requested(window)
    window.moments_page.query.setText("a red boat")
    press(window, "Ctrl+F")
    call = window.moments._call
    call.partial.connect(lambda kind, data: partials.append(kind))
    qtbot.waitUntil(lambda: window.moments.scan.state != "busy", timeout=120_000)
    assert kinds == ["ground"] and window.moments.scan.state == "idle"

    # The strip grew piece by piece while the scan ran, and ends as the final curve.
    assert partials.count("curve") >= 2 and heat_sizes[0] == 0
    growing = [n for n in heat_sizes[1 : partials.count("curve") + 1]]
    assert growing == sorted(growing) and growing[0] < growing[-1]
    heat = window.timeline._lanes[HEAT_LANE]
    starts, ends, scores = window.moments.curve
    assert len(scores) == FRAMES // 4 - 1
    np.testing.assert_array_equal(heat.values, scores)
    np.testing.assert_array_equal(heat.starts, starts)

    # The moments: in the lane and in the list, the same ones.
    moments = window.moments.moments
    assert moments, "the leaning model finds something"
    assert all(m.provenance["query"] == "a red boat" and m.provenance["model"] for m in moments)
    assert all(m.provenance["sampling"]["value"] == FRAMES and m.state == "undecided" for m in moments)
    lane = window.timeline._lanes[MOMENTS_LANE]
    assert [(m.span.start_s, m.span.end_s) for m in moments] == list(zip(lane.starts, lane.ends, strict=True))
    page = window.moments_page
    table = page.proxy
    assert table.rowCount() == len(moments) and page.empty.isHidden()
    for row, moment in enumerate(moments):
        assert table.index(row, 1).data() == _clock(moment.span.start_s)
        assert table.index(row, 2).data() == _clock(moment.span.end_s)
        assert table.index(row, 5).data() in ("text", "curve", "both")
        assert table.index(row, 7).data() == "a red boat"
    # The first is selected: highlighted in the lane and the list.
    first = moments[0]
    assert window.moments.selected_id == first.id and page.table.currentIndex().row() == 0
    assert lane_pixel(window, first.span.start_s) == QColor(SELECTED_COLOR)
    for other in moments[1:]:
        assert lane_pixel(window, other.span.start_s) == QColor(STATE_COLORS["undecided"])


def _clock(seconds: float) -> str:
    from engine.timecode import format_timecode

    return format_timecode(seconds).removeprefix("00:")
