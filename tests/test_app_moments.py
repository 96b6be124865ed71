"""Moments in the window, on real widgets with the real worker and the tiny model (changed to say yes for
some frames): find moments fills the heat strip from the curve pieces as they come, then the Moments lane
and the list, which agree; every edit and its undo/redo (keys, timeline drags, pixels in the lane); edges
snap to the frames of a variable-frame-rate clip; refine shows before and after; the session restores
moments, states and provenance without asking the model; cancel and the heartbeat during the scan; the
model-missing error offers its setup."""

from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QSettings, Qt
from PySide6.QtGui import QColor
from PySide6.QtTest import QTest

from app.main_window import MainWindow
from app.moment import Moment
from app.moments import Scan
from app.moments_lane import BEFORE_COLOR, BEFORE_LANE, HEAT_LANE, MOMENTS_LANE, SELECTED_COLOR
from app.moments_table import STATE_COLORS
from app.session import open_video_session, save_session
from engine.spans import Span
from tests.heartbeat import Heartbeat
from tests.test_app import VFR_DURATIONS, open_and_wait, press, shown_ready

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
    shown_ready(qtbot, window)
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
    heat_sizes, snapshots, partials = [], [], []
    window.moments.curve_changed.connect(lambda: heat_sizes.append(len(window.moments.curve[0])))
    window.moments.curve_changed.connect(lambda: snapshots.append(window.moments.curve[2].copy()))
    kinds = kinds_requested(window)
    window.moments_page.query.setText("a red boat")
    press(window, "Ctrl+F")
    call = window.moments._call
    call.partial.connect(lambda kind, data: partials.append(kind))
    qtbot.waitUntil(lambda: window.moments.scan.state != "busy", timeout=120_000)
    assert kinds == ["ground"] and window.moments.scan.state == "idle"

    # The strip grew piece by piece while the scan ran, and ends as the final curve.
    pieces = partials.count("curve")
    assert pieces >= 2 and heat_sizes[0] == 0
    growing = heat_sizes[1 : pieces + 1]
    assert growing == sorted(growing) and 0 < growing[0] < growing[-1]
    starts, _, scores = window.moments.curve
    assert len(scores) == FRAMES // 4 - 1
    np.testing.assert_allclose(snapshots[pieces], scores, atol=1e-6)  # the pieces made the whole curve
    heat = window.timeline.lane(HEAT_LANE)
    np.testing.assert_array_equal(heat.values, scores)
    np.testing.assert_array_equal(heat.starts, starts)

    # The moments: in the lane and in the list, the same ones.
    moments = window.moments.moments
    assert moments, "the leaning model finds something"
    assert all(m.provenance["query"] == "a red boat" and m.provenance["model"] for m in moments)
    assert all(m.provenance["sampling"]["value"] == FRAMES and m.state == "undecided" for m in moments)
    lane = window.timeline.lane(MOMENTS_LANE)
    assert [(m.span.start_s, m.span.end_s) for m in moments] == list(zip(lane.starts, lane.ends, strict=True))
    page = window.moments_page
    table = page.proxy
    assert table.rowCount() == len(moments) and page.empty.isHidden()
    for row, moment in enumerate(moments):
        assert table.index(row, 1).data() == _clock(moment.span.start_s)
        assert table.index(row, 2).data() == _clock(moment.span.end_s)
        assert table.index(row, 5).data() in ("text", "curve", "both")
        assert table.index(row, 6).data() == "a red boat"  # no label: the query stands in
    # The first is selected: highlighted in the lane and the list.
    first = moments[0]
    assert window.moments.selected_id == first.id and page.table.currentIndex().row() == 0
    assert lane_pixel(window, first.span.start_s) == QColor(SELECTED_COLOR)
    for other in moments[1:]:
        assert lane_pixel(window, other.span.start_s) == QColor(STATE_COLORS["undecided"])

    # The same search again: the accepted moment stays (not found twice), the undecided ones are new.
    press(window, "A")
    find(qtbot, window, "a red boat")
    again = window.moments.moments
    assert [x.id for x in again if x.state == "accepted"] == [first.id]
    assert sorted((x.span.start_s, x.span.end_s) for x in again) == sorted(
        (x.span.start_s, x.span.end_s) for x in moments
    )
    assert {x.id for x in again} & {x.id for x in moments} == {first.id}
    assert kinds == ["ground", "ground"]


def _clock(seconds: float) -> str:
    from engine.timecode import format_timecode

    return format_timecode(seconds).removeprefix("00:")


PROVENANCE = {"query": "a boat", "model": "tiny@abc", "sampling": {"mode": "frames", "value": 16}}


def stage(video, moments: list[Moment]) -> None:
    """Put moments in the video's session before the window opens it (no model needed to edit them)."""
    session, path = open_video_session(video)
    session.moments = moments
    save_session(session, path)


def staged_moments() -> list[Moment]:
    return [
        Moment(Span(0.5, 1.0, 0.7, "curve", None, "a boat"), "a", provenance=PROVENANCE),
        Moment(Span(2.0, 3.0), "b"),
    ]


def lane_point(window, seconds: float) -> QPoint:
    return QPoint(round(window.timeline.x_of(seconds)), window.timeline.lane_rect(MOMENTS_LANE).center().y())


def extents(window) -> list[tuple[float, float]]:
    return [(m.span.start_s, m.span.end_s) for m in window.moments.moments]


def seek_to_frame(qtbot, window, index: int) -> float:
    t = window.info.frames.time_of(index)
    window.player.seek(t)
    qtbot.waitUntil(lambda: window.moments.position_s == t, timeout=10_000)
    return t


def test_next_and_previous_moment_never_go_the_other_way(qtbot, window, clip) -> None:
    stage(clip, [Moment(Span(1.0, 1.5), "a"), Moment(Span(2.0, 2.5), "b")])
    open_and_wait(qtbot, window, clip)
    m, said = window.moments, []
    m.message.connect(said.append)
    early = seek_to_frame(qtbot, window, 4)  # 0.2 s: before every moment
    press(window, "Ctrl+Left")
    assert m.selected_id is None and m.position_s == early and said == ["No moment before the playhead."]
    press(window, "Ctrl+Right")
    assert m.selected_id == "a"
    qtbot.waitUntil(lambda: m.position_s == 1.0)
    press(window, "Ctrl+Right")
    assert m.selected_id == "b"
    qtbot.waitUntil(lambda: m.position_s == 2.0)
    press(window, "Ctrl+Right")  # the last one: it stays selected, and the playhead where it is
    late = seek_to_frame(qtbot, window, 56)  # 2.8 s
    press(window, "Ctrl+Right")
    assert m.selected_id == "b" and m.position_s == late and said[-1] == "No moment after this one."
    press(window, "Ctrl+Left")
    assert m.selected_id == "a"
    qtbot.waitUntil(lambda: m.position_s == 1.0)
    press(window, "Ctrl+Left")  # the first one
    assert m.selected_id == "a" and said[-1] == "No moment before this one."
    window.moments.select(None)
    press(window, "Delete")  # nothing selected: nothing goes, and the status bar says why
    assert len(m.moments) == 2 and said[-1] == "Select a moment to delete it."
    late = seek_to_frame(qtbot, window, 56)  # no moment selected: from the playhead
    press(window, "Ctrl+Right")
    assert m.selected_id is None and m.position_s == late and said[-1] == "No moment after the playhead."
    press(window, "Ctrl+Left")
    assert m.selected_id == "b"
    qtbot.waitUntil(lambda: m.position_s == 2.0)


def test_edits_by_key_and_on_the_timeline_with_undo_and_redo(qtbot, window, vfr_clip) -> None:
    stage(vfr_clip, staged_moments())
    kinds = kinds_requested(window)
    open_and_wait(qtbot, window, vfr_clip)
    m, page, timeline = window.moments, window.moments_page, window.timeline
    assert [x.id for x in m.moments] == ["a", "b"] and m.moments[0].provenance == PROVENANCE
    assert kinds == ["open_video"]  # restored from the session: the model never asked
    undecided, accepted = QColor(STATE_COLORS["undecided"]), QColor(STATE_COLORS["accepted"])
    assert lane_pixel(window, 0.5) == undecided and lane_pixel(window, 2.0) == undecided

    # A click on a moment in the lane selects it, in the list too, and tells the others.
    with qtbot.waitSignal(m.selection_changed) as chosen:
        QTest.mouseClick(timeline, Qt.MouseButton.LeftButton, pos=lane_point(window, 0.75))
    assert chosen.args == [Span(0.5, 1.0, 0.7, "curve", None, "a boat")] and m.selected_id == "a"
    assert page.table.currentIndex().row() == page.row_of("a") and m.selected_span() == m.moments[0].span
    assert lane_pixel(window, 0.5) == QColor(SELECTED_COLOR)
    press(window, "A")
    assert m.moments[0].state == "accepted" and m.accepted_or_selected() == [m.moments[0].span]

    # Ctrl+Right: the next moment, selected and sought to; R rejects it; undo and redo.
    press(window, "Ctrl+Right")
    assert m.selected_id == "b"
    qtbot.waitUntil(lambda: m.position_s == window.info.frames.time_of(window.info.frames.index_at(2.0)))
    assert lane_pixel(window, 0.5) == accepted  # no longer selected: its state's colour
    press(window, "R")
    assert m.moments[1].state == "rejected" and page.proxy.index(page.row_of("b"), 0).data() == "✘"
    press(window, "Ctrl+Z")
    assert m.moments[1].state == "undecided"
    press(window, "Ctrl+Shift+Z")
    assert m.moments[1].state == "rejected"

    # S splits the selected moment at the playhead, on a frame of this variable-rate clip.
    t = seek_to_frame(qtbot, window, window.info.frames.index_at(2.5) + 1)
    press(window, "S")
    assert extents(window) == [(0.5, 1.0), (2.0, t), (t, 3.0)]
    assert [x.state for x in m.moments] == ["accepted", "rejected", "rejected"] and m.moments[1].id == "b"
    assert page.proxy.rowCount() == 3
    press(window, "Ctrl+Z")
    assert extents(window) == [(0.5, 1.0), (2.0, 3.0)]
    press(window, "Ctrl+Shift+Z")
    assert extents(window) == [(0.5, 1.0), (2.0, t), (t, 3.0)]

    # Ctrl+J merges the selected moment with the next one.
    press(window, "Ctrl+Left")
    press(window, "Ctrl+Left")
    assert m.selected_id == "a"
    press(window, "Ctrl+J")
    assert extents(window) == [(0.5, t), (t, 3.0)] and m.moments[0].id == "a"
    assert m.moments[0].state == "accepted" and m.moments[0].span.query == "a boat"
    press(window, "Ctrl+Z")
    assert extents(window) == [(0.5, 1.0), (2.0, t), (t, 3.0)]

    # Delete, and back.
    press(window, "Delete")
    assert [x.id for x in m.moments] == ["b", m.moments[1].id] and m.selected_id == "b"
    press(window, "Ctrl+Z")
    assert m.moments[0].id == "a" and m.selected_id == "a"

    # I and O: a new moment by hand, from one frame to another.
    t_in = seek_to_frame(qtbot, window, 70)
    press(window, "I")
    t_out = seek_to_frame(qtbot, window, 80)
    press(window, "O")
    made = m.selected()
    assert (made.span.start_s, made.span.end_s, made.span.source) == (t_in, t_out, "user")
    assert made.provenance == {} and len(m.moments) == 4
    press(window, "Ctrl+Z")
    assert len(m.moments) == 3 and m.selected_id != made.id
    press(window, "I")  # at frame 80 now; O before it: the moment between the two marks
    seek_to_frame(qtbot, window, 70)
    press(window, "O")
    assert (m.selected().span.start_s, m.selected().span.end_s) == (t_in, t_out)
    press(window, "Ctrl+Z")

    # Rename in the list (an edit like the others).
    label = page.proxy.index(page.row_of("a"), 6)
    assert page.proxy.setData(label, "the boat leaves")
    assert m.moments[0].span.label == "the boat leaves"
    press(window, "Ctrl+Z")
    assert m.moments[0].span.label is None


def test_an_edge_dragged_on_the_timeline_snaps_to_the_frames_of_a_vfr_clip(qtbot, window, vfr_clip) -> None:
    stage(vfr_clip, staged_moments())
    open_and_wait(qtbot, window, vfr_clip)
    m, timeline = window.moments, window.timeline
    times = window.info.frames.times_s
    assert len(np.unique(np.round(np.diff(times), 4))) > 2  # truly variable
    start = lane_point(window, 2.0)
    QTest.mouseMove(timeline, start)
    assert timeline.cursor().shape() == Qt.CursorShape.SizeHorCursor  # an edge to drag
    QTest.mouseMove(timeline, lane_point(window, 2.5))
    assert timeline.cursor().shape() != Qt.CursorShape.SizeHorCursor  # the body: no edge here

    # Drag b's start from 2.0 s to the x of 2.12 s: it lands on the frame boundary nearest there.
    target = lane_point(window, 2.12)
    QTest.mousePress(timeline, Qt.MouseButton.LeftButton, pos=start)
    QTest.mouseMove(timeline, QPoint((start.x() + target.x()) // 2, start.y()))
    assert m.preview is not None and m.moments[1].span.start_s == 2.0  # a preview, not an edit yet
    QTest.mouseMove(timeline, target)
    QTest.mouseRelease(timeline, Qt.MouseButton.LeftButton, pos=target)
    raw = timeline.time_at(target.x())
    snapped = m.moments[1].span.start_s
    nearest = float(times[np.argmin(np.abs(times - raw))])
    assert snapped == nearest and snapped in times and snapped != raw and m.preview is None
    assert m.selected_id == "b" and m.undo.count() == 1
    window.player.seek(5.0)  # the playhead away from the edge, then look at the lane
    qtbot.waitUntil(lambda: m.position_s > 4.0)
    assert lane_pixel(window, snapped) == QColor(SELECTED_COLOR)
    assert lane_pixel(window, snapped - 4 / timeline.layout().px_per_s) != QColor(SELECTED_COLOR)
    press(window, "Ctrl+Z")
    assert m.moments[1].span.start_s == 2.0

    # An end dragged past the start stops one frame after it: a moment keeps at least a frame.
    end = lane_point(window, 1.0)
    QTest.mousePress(timeline, Qt.MouseButton.LeftButton, pos=end)
    QTest.mouseMove(timeline, lane_point(window, 0.2))
    QTest.mouseRelease(timeline, Qt.MouseButton.LeftButton, pos=lane_point(window, 0.2))
    first = m.moments[0].span
    assert first.start_s == 0.5 and first.end_s == float(times[np.searchsorted(times, 0.5, side="right")])


def test_the_session_reopens_with_moments_states_and_provenance_without_the_model(
    qtbot, window, vfr_clip, store, leaning_model_dir
) -> None:
    stage(vfr_clip, staged_moments())
    open_and_wait(qtbot, window, vfr_clip)
    m = window.moments
    m.select("b")
    press(window, "R")
    m.add_moment(Span(4.0, 4.5, label="from the chat"))  # what the chat's "make a moment" does
    made = m.selected()
    assert made.span.label == "from the chat" and made.state == "undecided"
    m.select("a")
    press(window, "A")
    expected = [x.to_dict() for x in m.moments]
    window.close()  # saves

    again = make_window(qtbot, store, leaning_model_dir)
    kinds = kinds_requested(again)
    open_and_wait(qtbot, again, vfr_clip)
    assert [x.to_dict() for x in again.moments.moments] == expected
    assert [x.state for x in again.moments.moments] == ["accepted", "rejected", "undecided"]
    assert again.moments.moments[0].provenance == PROVENANCE
    assert kinds == ["open_video"] and again.moments.undo.count() == 0
    assert again.timeline.lane(MOMENTS_LANE).starts.tolist() == [0.5, 2.0, 4.0]
    assert again.moments_page.proxy.rowCount() == 3
    again.close()


def test_cancel_during_find_and_the_event_loop_keeps_running(qtbot, window, media) -> None:
    # A scan of many batches: cancelled after its first, it must not be able to finish before the cancel
    # reaches the worker (with the two batches of FRAMES, a loaded machine let it finish: "1 moment").
    clip = media("moments long clip.mp4", frames=400, fps=20, width=160, height=120, gop=10, texture=True)
    window.settings = replace(window.settings, frame_budget=4 * FRAMES)  # 63 windows, 8 batches
    open_and_wait(qtbot, window, clip)
    beat = Heartbeat()
    beat.start()
    window.moments_page.query.setText("a dog")
    press(window, "Ctrl+F")
    call = window.moments._call
    qtbot.waitUntil(lambda: len(window.moments.curve[0]) > 0, timeout=120_000)  # scanning
    assert (
        window.engine_status.cancel.isVisibleTo(window)
        and "Finding moments" in window.engine_status.job.text()
    )
    window.engine_status.cancel.click()
    qtbot.waitUntil(lambda: call.done, timeout=30_000)
    beat.stop()
    assert window.moments.scan == Scan("idle", "Cancelled.") and window.moments.moments == []
    assert window.worker.running() == [] and not window.engine_status.cancel.isVisibleTo(window)
    saved = window.sessions.session.relevance  # what of the curve came stays, in the session too
    assert saved.query == "a dog" and len(saved.scores) == len(window.moments.curve[2]) > 0
    assert beat.held(50), beat.report()


def test_refine_shows_the_moment_before_and_after_and_the_analyst_keeps_or_reverts(
    qtbot, window, clip
) -> None:
    stage(clip, [Moment(Span(1.0, 2.0, 0.5, "curve", None, "a red boat"), "a", provenance=PROVENANCE)])
    open_and_wait(qtbot, window, clip)
    m, page = window.moments, window.moments_page
    m.select("a")
    kinds = kinds_requested(window)
    page.buttons["refine"].click()
    qtbot.waitUntil(lambda: m.scan.state != "busy", timeout=120_000)
    assert kinds == ["refine_span"] and m.scan.state == "idle", m.scan.message
    refined = m.selected()
    assert m.refine_before.span == Span(1.0, 2.0, 0.5, "curve", None, "a red boat")
    assert refined.provenance == {**PROVENANCE, "refined": True} and refined.id == "a"
    # Before and after: the old extent in a lane of its own and in the list row.
    assert window.timeline.lane(BEFORE_LANE).starts.tolist() == [1.0]
    assert lane_pixel(window, 1.0, BEFORE_LANE) == QColor(BEFORE_COLOR)
    row = page.row_of("a")
    assert page.proxy.index(row, 1).data() == f"{_clock(refined.span.start_s)}  (was {_clock(1.0)})"
    assert page.buttons["keep"].isVisibleTo(page) and page.buttons["revert"].isVisibleTo(page)
    window.side.setCurrentWidget(page)  # five buttons at the panel's width: none squeezed
    shown = [b for b in page.buttons.values() if b.isVisibleTo(page)]
    qtbot.waitUntil(lambda: all(b.width() >= b.sizeHint().width() for b in shown))

    page.buttons["revert"].click()
    assert m.selected().span == Span(1.0, 2.0, 0.5, "curve", None, "a red boat")
    assert BEFORE_LANE not in window.timeline.lanes() and not page.buttons["revert"].isVisibleTo(page)
    press(window, "Ctrl+Z")  # undo the revert: refined again
    assert m.selected().span == refined.span
    press(window, "Ctrl+Z")  # undo the refine
    assert m.selected().span.start_s == 1.0 and m.selected().provenance == PROVENANCE

    page.buttons["refine"].click()  # again, and keep it this time (from the token cache: quick)
    qtbot.waitUntil(lambda: m.scan.state != "busy", timeout=120_000)
    assert m.selected().span == refined.span
    page.buttons["keep"].click()
    assert m.refine_before is None and BEFORE_LANE not in window.timeline.lanes()
    assert page.proxy.index(row, 1).data() == _clock(refined.span.start_s)


def test_a_missing_model_says_so_and_offers_its_setup(qtbot, store, window_env, data_dir, clip, tmp_path):
    window = make_window(qtbot, store, tmp_path / "no such model")
    open_and_wait(qtbot, window, clip)
    find_error = window.moments
    window.moments_page.query.setText("a boat")
    press(window, "Ctrl+F")
    qtbot.waitUntil(lambda: find_error.scan.state != "busy", timeout=60_000)
    page = window.moments_page
    assert find_error.scan.state == "error" and "no such model" in page.status.text()
    assert "\n" not in page.status.text() and page.setup_button.isVisibleTo(page)
    with qtbot.waitSignal(find_error.model_setup_requested) as asked:
        page.setup_button.click()
    assert asked.args == ["internvideo"]
    window.close()


def test_the_list_sorts_navigates_by_keys_and_seeks_and_a_moment_plays_in_a_loop(
    qtbot, window, vfr_clip
) -> None:
    stage(vfr_clip, staged_moments())
    open_and_wait(qtbot, window, vfr_clip)
    m, page, table = window.moments, window.moments_page, window.moments_page.table
    window.side.setCurrentWidget(page)
    table.setFocus()
    chosen = []
    m.selection_changed.connect(chosen.append)
    QTest.keyClick(table, Qt.Key.Key_Down)  # the first row
    QTest.keyClick(table, Qt.Key.Key_Down)  # the second
    assert m.selected_id == "b" and chosen[-1] == Span(2.0, 3.0)
    assert lane_pixel(window, 2.0) == QColor(SELECTED_COLOR)  # list -> lane
    assert lane_pixel(window, 0.5) == QColor(STATE_COLORS["undecided"])
    QTest.keyClick(table, Qt.Key.Key_Return)  # seeks to the moment
    frames = window.info.frames
    qtbot.waitUntil(lambda: m.position_s == frames.time_of(frames.index_at(2.0)), timeout=10_000)
    assert m.accepted_or_selected() == [Span(2.0, 3.0)]  # none accepted: the selected one

    table.sortByColumn(4, Qt.SortOrder.DescendingOrder)  # by score: "a" (0.7) before "b" (none)
    assert page.row_of("a") == 0 and page.row_of("b") == 1 and table.currentIndex().row() == 1
    table.sortByColumn(2, Qt.SortOrder.DescendingOrder)  # by end: "b" first
    assert page.row_of("b") == 0 and table.currentIndex().row() == 0

    # Ctrl+Shift+Space: "b" over and over; past its end the playhead goes back to its start.
    press(window, "Ctrl+Shift+Space")
    assert m.looping and window.player.state == "playing"
    went_back = []
    window.player.position_changed.connect(
        lambda _i, t: went_back.append(t) if went_back or t >= 2.9 else None
    )
    qtbot.waitUntil(lambda: any(t < 2.2 for t in went_back), timeout=20_000)  # back near the start
    assert all(1.99 <= t < 3.0 + 0.2 for t in went_back)
    press(window, "Ctrl+Shift+Space")
    assert not m.looping and window.player.state == "paused"
    press(window, "Ctrl+Shift+Space")
    assert m.looping
    press(window, "Space")  # paused by hand: the loop ends, and playing on later goes on
    assert not m.looping and window.player.state == "paused"


def test_the_relevance_curve_reopens_with_the_session_without_the_model(
    qtbot, window, clip, store, leaning_model_dir
) -> None:
    open_and_wait(qtbot, window, clip)
    find(qtbot, window, "a red boat")
    heat = window.timeline.lane(HEAT_LANE)
    starts, ends, scores = heat.starts.copy(), heat.ends.copy(), heat.values.copy()
    assert len(scores) == FRAMES // 4 - 1 and window.moments.moments
    window.close()  # saves

    again = make_window(qtbot, store, leaning_model_dir)
    kinds = kinds_requested(again)
    open_and_wait(qtbot, again, clip)
    assert kinds == ["open_video"]  # no ground, no ask: the strip comes from the session
    assert again.sessions.session.relevance.query == "a red boat"
    restored = again.timeline.lane(HEAT_LANE)
    np.testing.assert_allclose(restored.starts, starts, atol=5e-4)  # saved to the millisecond
    np.testing.assert_allclose(restored.ends, ends, atol=5e-4)
    np.testing.assert_allclose(restored.values, scores, atol=5e-4)  # and to 0.001
    assert again.timeline.lanes().index(HEAT_LANE) < again.timeline.lanes().index(MOMENTS_LANE)
    again.close()


def test_find_is_disabled_until_a_video_is_open_and_says_why(qtbot, window, clip) -> None:
    page, kinds = window.moments_page, kinds_requested(window)
    assert not page.find_button.isEnabled() and "Open a video first" in page.find_button.toolTip()
    assert page.empty.text().startswith("No video open. Open one (Ctrl+O)")
    page.query.setText("a red boat")
    press(window, "Ctrl+F")  # the key and Enter in the box explain it on the page
    assert kinds == [] and "Open a video first" in page.status.text() and page.status.isVisibleTo(page)
    open_and_wait(qtbot, window, clip)
    assert page.find_button.isEnabled() and page.find_button.toolTip() == "Find (Ctrl+F)"
    assert not page.status.isVisibleTo(page) and "press Find (Ctrl+F)" in page.empty.text()
    page.find_button.click()
    assert kinds == ["open_video", "ground"] and not page.find_button.isEnabled()  # while it scans
    window.moments.cancel_find()
    qtbot.waitUntil(lambda: window.moments.scan.state != "busy", timeout=60_000)
    assert page.find_button.isEnabled()


def test_the_list_fits_the_side_panel_and_its_tooltips_say_all(qtbot, window, vfr_clip) -> None:
    query = "a red boat docks at the pier next to the white van"
    provenance = {**PROVENANCE, "query": query}
    stage(
        vfr_clip,
        [
            Moment(Span(0.5, 1.25, 0.87, "both", None, query), "a", "accepted", provenance),
            Moment(Span(2.0, 3.4, 0.52, "curve", "the van leaves", query), "b", provenance=provenance),
            Moment(Span(4.1, 5.0), "c", "rejected"),
        ],
    )
    open_and_wait(qtbot, window, vfr_clip)
    page, table = window.moments_page, window.moments_page.table
    window.side.setCurrentWidget(page)
    header = table.horizontalHeader()
    assert (window.width(), window.height()) == (1440, 900)  # the default window, its side panel as made
    qtbot.waitUntil(lambda: header.length() == table.viewport().width())  # fits: no sideways scroll
    shown = {c for c in range(header.count()) if not table.isColumnHidden(c)}
    assert {0, 1, 4, 6} <= shown  # the state, start, score and label at least
    for column in shown - {6}:  # each as wide as what it holds: only the label elides
        assert table.columnWidth(column) >= table.sizeHintForColumn(column), column
    label = page.proxy.index(page.row_of("a"), 6)
    assert label.data() == query and table.columnWidth(6) < table.fontMetrics().horizontalAdvance(query)
    tip = label.data(Qt.ItemDataRole.ToolTipRole)  # the whole row, the query in full
    assert "accepted: 00:00.500 – 00:01.250 (0.75 s), score 0.87, from both" in tip and query in tip
    tip = page.proxy.index(page.row_of("b"), 1).data(Qt.ItemDataRole.ToolTipRole)
    assert "Label: the van leaves" in tip and f"Query: {query}" in tip

    window.splitters[0].setSizes([900, 540])  # a wider panel: the hidden columns come back
    qtbot.waitUntil(lambda: not any(table.isColumnHidden(c) for c in range(header.count())))
    assert header.length() == table.viewport().width()
