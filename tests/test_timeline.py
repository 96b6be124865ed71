"""The timeline widget, real and offscreen: what it paints where (grab + pixels), what clicks, drags and
the wheel do to the seek signal and the view, the ruler's labels, spans and heat strips."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QApplication

from app import timeline_paint as look
from app.timeline import Timeline
from app.timeline_paint import HEADER_W, PLAYHEAD
from app.timeline_ruler import LABEL_PAD_PX
from engine.timecode import format_timecode, parse_timecode
from tests.qt_images import to_rgb

TRACK_W = 1000  # pixels of time in every test widget


def rgb(color: QColor | str) -> tuple[int, int, int]:
    c = QColor(color)
    return c.red(), c.green(), c.blue()


def make(qtbot, duration=100.0, frame_times=None, lanes=("a",)) -> Timeline:
    widget = Timeline(thumbnails=False)
    qtbot.addWidget(widget)
    widget.resize(HEADER_W + TRACK_W, 10)
    for lane in lanes:
        widget.set_spans(lane, [], [])
    widget.set_video(None, duration, frame_times)
    widget.show()
    return widget


def pixels(widget: Timeline) -> np.ndarray:
    return to_rgb(widget.grab().toImage())


def expected_x(widget: Timeline, t: float) -> float:
    """Where time `t` must be drawn: the view's start at the left of the track, its end at the right."""
    start, end = widget.view_range()
    return HEADER_W + (t - start) / (end - start) * TRACK_W


def lane_row(widget: Timeline, lane: str) -> int:
    return widget.lane_rect(lane).center().y()


def send_mouse(widget, kind, x, button=Qt.MouseButton.LeftButton, y=30):
    pos = QPointF(x, y)
    buttons = Qt.MouseButton.NoButton if kind == QEvent.Type.MouseButtonRelease else button
    event = QMouseEvent(kind, pos, widget.mapToGlobal(pos), button, buttons, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)


def send_wheel(widget, x, notches, modifiers=Qt.KeyboardModifier.NoModifier, horizontal=False):
    pos = QPointF(x, 10)
    angle = QPoint(round(120 * notches), 0) if horizontal else QPoint(0, round(120 * notches))
    event = QWheelEvent(
        pos,
        widget.mapToGlobal(pos),
        QPoint(),
        angle,
        Qt.MouseButton.NoButton,
        modifiers,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(widget, event)


VFR_TIMES = np.cumsum(np.r_[0.0, np.tile([0.04, 0.1, 0.02, 0.0333, 0.0667], 400)])[:-1]


# ----- playhead


@pytest.mark.parametrize("view", [(0, 100), (20, 30), (41.5, 42.5), (99.2, 100)])
def test_playhead_is_drawn_at_its_time_at_every_zoom(qtbot, view):
    widget = make(qtbot)
    widget.set_view_range(*view)
    for t in np.linspace(view[0], view[1], 7)[:-1] + 0.013:
        widget.set_position(t)
        row = pixels(widget)[lane_row(widget, "a")]
        red = np.flatnonzero(np.all(row == rgb(PLAYHEAD), axis=1))
        assert red.tolist() == [int(expected_x(widget, t))], (view, t)


def test_moving_the_playhead_repaints_no_cached_layer(qtbot):
    widget = make(qtbot)
    widget.set_spans("a", np.arange(0, 100, 2.0), np.arange(0, 100, 2.0) + 1)
    pixels(widget)
    builds = widget.static_builds
    for t in np.linspace(0, 99, 40):
        widget.set_position(t)
        pixels(widget)
    assert widget.static_builds == builds
    widget.set_view_range(10, 20)  # a new view does need one
    pixels(widget)
    assert widget.static_builds == builds + 1


# ----- scrubbing


def test_click_and_drag_seek_to_the_frame_on_screen_on_a_vfr_table(qtbot):
    widget = make(qtbot, duration=float(VFR_TIMES[-1] + 0.04), frame_times=VFR_TIMES)
    widget.set_view_range(10.0, 14.0)
    seen = []
    widget.seek_requested.connect(lambda t, dragging: seen.append((t, dragging)))

    def frame_time(x):
        start, end = widget.view_range()
        t = start + (x - HEADER_W) / TRACK_W * (end - start)
        return float(VFR_TIMES[np.flatnonzero(t >= VFR_TIMES)[-1]])  # the greatest frame time <= t

    send_mouse(widget, QEvent.Type.MouseButtonPress, HEADER_W + 300)
    for x in (HEADER_W + 301, HEADER_W + 420, HEADER_W + 777):
        send_mouse(widget, QEvent.Type.MouseMove, x)
    send_mouse(widget, QEvent.Type.MouseButtonRelease, HEADER_W + 777)
    xs = [300, 420, 777]
    expected = [(frame_time(HEADER_W + x), True) for x in xs] + [(frame_time(HEADER_W + 777), False)]
    if frame_time(HEADER_W + 301) != frame_time(HEADER_W + 300):
        expected.insert(1, (frame_time(HEADER_W + 301), True))
    assert seen == expected
    assert all(t in VFR_TIMES for t, _ in seen)
    assert widget.position() == seen[-1][0]  # the playhead went with the mouse


def test_a_click_on_a_frames_own_time_seeks_to_that_frame(qtbot):
    times = np.arange(500) / 25
    widget = make(qtbot, duration=20.0, frame_times=times)
    widget.set_view_range(10.0, 14.0)  # 4 ms a pixel: every tenth pixel is a frame's time
    seen = []
    widget.seek_requested.connect(lambda t, dragging: seen.append(t))
    for x in range(400, 480, 10):
        send_mouse(widget, QEvent.Type.MouseButtonPress, HEADER_W + x)
        send_mouse(widget, QEvent.Type.MouseButtonRelease, HEADER_W + x)
    assert seen[::2] == pytest.approx(10.0 + np.arange(400, 480, 10) * 0.004, abs=1e-9)


def test_a_drag_past_the_ends_seeks_to_the_first_and_last_frame(qtbot):
    widget = make(qtbot, duration=float(VFR_TIMES[-1] + 0.04), frame_times=VFR_TIMES)
    seen = []
    widget.seek_requested.connect(lambda t, dragging: seen.append(t))
    send_mouse(widget, QEvent.Type.MouseButtonPress, HEADER_W + 5)
    send_mouse(widget, QEvent.Type.MouseMove, HEADER_W - 50)
    send_mouse(widget, QEvent.Type.MouseMove, HEADER_W + TRACK_W + 80)
    send_mouse(widget, QEvent.Type.MouseButtonRelease, HEADER_W + TRACK_W + 80)
    assert seen[1] == 0.0 and seen[-1] == VFR_TIMES[-1]


def test_clicks_in_the_lane_names_do_not_seek(qtbot):
    widget = make(qtbot)
    seen = []
    widget.seek_requested.connect(lambda t, dragging: seen.append(t))
    send_mouse(widget, QEvent.Type.MouseButtonPress, HEADER_W - 10)
    send_mouse(widget, QEvent.Type.MouseButtonRelease, HEADER_W - 10)
    assert seen == []


# ----- zoom and scroll


@pytest.mark.parametrize("x", [HEADER_W + 137, HEADER_W + 500, HEADER_W + 901])
def test_ctrl_wheel_zooms_around_the_time_under_the_mouse(qtbot, x):
    widget = make(qtbot, duration=3600.0)
    widget.set_view_range(1000, 2000)

    def time_under(x):
        start, end = widget.view_range()
        return start + (x - HEADER_W) / TRACK_W * (end - start)

    before = time_under(x)
    for notches, span in ((1, 800), (2, 512), (-3, 1000)):
        send_wheel(widget, x, notches, Qt.KeyboardModifier.ControlModifier)
        start, end = widget.view_range()
        assert end - start == pytest.approx(span)
        assert time_under(x) == pytest.approx(before, abs=1e-9)


def test_zoom_stops_at_the_whole_video_and_at_about_ten_frames(qtbot):
    widget = make(qtbot, duration=float(VFR_TIMES[-1] + 0.04), frame_times=VFR_TIMES)
    for _ in range(60):
        widget.zoom_in()
    start, end = widget.view_range()
    visible = np.count_nonzero((start <= VFR_TIMES) & (end > VFR_TIMES))
    assert 5 <= visible <= 20
    for _ in range(60):
        widget.zoom_out()
    assert widget.view_range() == (0.0, pytest.approx(VFR_TIMES[-1] + 0.04))


def test_zoom_keys_keep_the_playhead_where_it_is_on_screen(qtbot):
    widget = make(qtbot)
    widget.set_position(30.0)
    x = expected_x(widget, 30.0)
    widget.zoom_in()
    widget.zoom_in()
    assert widget.view_range()[1] - widget.view_range()[0] == pytest.approx(100 / 1.5**2)
    assert expected_x(widget, 30.0) == pytest.approx(x)


def test_wheel_scrolls_in_time_and_never_past_the_ends(qtbot):
    widget = make(qtbot)
    widget.set_view_range(40, 50)
    views = []
    widget.view_changed.connect(lambda a, b: views.append((a, b)))
    send_wheel(widget, HEADER_W + 200, -1)  # wheel down: later
    assert widget.view_range() == pytest.approx((41, 51))
    send_wheel(widget, HEADER_W + 200, 2, horizontal=True)  # a horizontal wheel (Shift+wheel)
    assert widget.view_range() == pytest.approx((39, 49))
    send_wheel(widget, HEADER_W + 200, -200)
    assert widget.view_range() == pytest.approx((90, 100))
    send_wheel(widget, HEADER_W + 200, 300)
    assert widget.view_range() == pytest.approx((0, 10))
    assert views[-1] == pytest.approx((0, 10))
    widget.set_view_range(-20, 300)  # what a session may hold for a shorter file
    assert widget.view_range() == (0, 100)


def test_middle_drag_pans(qtbot):
    widget = make(qtbot)
    widget.set_view_range(40, 50)
    send_mouse(widget, QEvent.Type.MouseButtonPress, HEADER_W + 500, Qt.MouseButton.MiddleButton)
    send_mouse(widget, QEvent.Type.MouseMove, HEADER_W + 300, Qt.MouseButton.MiddleButton)
    send_mouse(widget, QEvent.Type.MouseButtonRelease, HEADER_W + 300, Qt.MouseButton.MiddleButton)
    assert widget.view_range() == pytest.approx((42, 52))


# ----- following the playhead


def test_the_view_pages_to_follow_the_playhead_until_the_user_scrolls(qtbot):
    widget = make(qtbot)
    widget.set_view_range(0, 10)
    widget.set_position(9.9)
    assert widget.view_range() == (0, 10)
    widget.set_position(10.3)  # left the view to the right: the next page, with the playhead in it
    start, end = widget.view_range()
    assert start < 10.3 < start + 1 and end - start == pytest.approx(10)
    widget.set_position(25.0)
    widget.set_position(14.0)  # jumped back (J, a click elsewhere): the page that ends at it
    start, end = widget.view_range()
    assert end - 1 < 14.0 < end
    send_wheel(widget, HEADER_W + 10, -30)
    assert widget.follow_playhead is False
    scrolled = widget.view_range()
    widget.set_position(50.0)
    assert widget.view_range() == scrolled
    send_mouse(widget, QEvent.Type.MouseButtonPress, HEADER_W + 10)  # a seek follows again
    send_mouse(widget, QEvent.Type.MouseButtonRelease, HEADER_W + 10)
    assert widget.follow_playhead is True
    widget.set_position(95.0)
    start, end = widget.view_range()
    assert start <= 95.0 <= end


# ----- ruler


def label_times(widget: Timeline) -> list[float]:
    return [parse_timecode(text) for _, text in widget.painted.labels]


@pytest.mark.parametrize(
    ("duration", "frame_times"),
    [(7200.0, None), (600.0, np.arange(18000) / 30), (30.0, np.arange(750) / 25), (80.0, VFR_TIMES)],
)
def test_ruler_labels_never_overlap_and_sit_at_their_times_at_every_zoom(qtbot, duration, frame_times):
    widget = make(qtbot, duration=duration, frame_times=frame_times)
    widget.set_position(duration * 0.37)
    spans = []
    while True:
        pixels(widget)
        start, end = widget.view_range()
        spans.append(end - start)
        rects = [rect for rect, _ in widget.painted.labels]
        assert len(rects) >= 2, (start, end)
        for left, right in itertools.pairwise(rects):
            assert right.left() >= left.right() + 6, (start, end, widget.painted.labels)
        slack = 0.5 + 0.0005 * TRACK_W / (end - start)  # labels are rounded to the millisecond
        for (rect, text), t in zip(widget.painted.labels, label_times(widget), strict=True):
            assert rect.left() - LABEL_PAD_PX == pytest.approx(expected_x(widget, t), abs=slack), text
        if end - start <= widget.min_span() * 1.0001:
            break
        widget.zoom_in()
    assert spans[0] == duration and len(spans) > 5


def test_ruler_formats_follow_the_video_length_and_zoom(qtbot):
    hour = make(qtbot, duration=7200.0)
    pixels(hour)
    assert all(len(text) == 8 and text.count(":") == 2 for _, text in hour.painted.labels)  # HH:MM:SS
    minutes = make(qtbot, duration=600.0, frame_times=np.arange(18000) / 30)
    pixels(minutes)
    assert all(len(text) == 5 and text.count(":") == 1 for _, text in minutes.painted.labels)  # MM:SS
    minutes.set_view_range(100.0, 100.4)  # 12 frames across: a label per frame or two, to the ms
    pixels(minutes)
    assert all(text.startswith("01:4") and len(text) == 9 for _, text in minutes.painted.labels)
    frames = np.arange(18000) / 30
    assert all(np.min(np.abs(frames - t)) < 5e-4 for t in label_times(minutes))  # majors on frames
    short = make(qtbot, duration=30.0)
    short.set_view_range(12.0, 13.0)
    pixels(short)
    assert all(":" not in text and "." in text for _, text in short.painted.labels)  # SS.mmm


def test_frame_ticks_appear_once_frames_are_six_pixels_apart(qtbot):
    widget = make(qtbot, duration=600.0, frame_times=np.arange(18000) / 30)
    widget.set_view_range(100, 100 + TRACK_W / 6 / 30 * 1.05)  # frames a little closer than 6 px
    pixels(widget)
    assert widget.painted.ticks.frame_x == []
    widget.set_view_range(100, 100 + TRACK_W / 6 / 30 * 0.95)
    pixels(widget)
    assert len(widget.painted.ticks.frame_x) >= TRACK_W / 6 * 0.9


# ----- lanes


def test_spans_are_painted_where_they_are(qtbot):
    widget = make(qtbot, lanes=())
    widget.set_spans("moments", [10, 50], [20, 55], colors=["#ff0000", "#00aaff"])
    widget.set_spans("object 1", [70], [80])
    y, y_obj = lane_row(widget, "moments"), lane_row(widget, "object 1")
    for view in ((0, 100), (12, 18), (45, 60)):
        widget.set_view_range(*view)
        image = pixels(widget)
        for (a, b), color in (((10, 20), "#ff0000"), ((50, 55), "#00aaff")):
            mid = (max(a, view[0]) + min(b, view[1])) / 2
            if view[0] < mid < view[1]:
                assert tuple(image[y, int(expected_x(widget, mid))]) == rgb(color), view
        for t in (4.3, 31.7, 47.3, 66.1):  # no span (nor grid line) here
            if view[0] < t < view[1]:
                assert tuple(image[y, int(expected_x(widget, t))]) == rgb(look.ROW), (view, t)
    widget.zoom_fit()
    image = pixels(widget)
    assert tuple(image[y_obj, int(expected_x(widget, 75))]) == rgb(look.LANE_COLORS[1])
    assert tuple(image[y, int(expected_x(widget, 75))]) == rgb(look.ROW)


def test_scores_shade_spans(qtbot):
    widget = make(qtbot, lanes=())
    widget.set_spans("m", [10, 30], [20, 40], colors="#ffffff", scores=[1.0, 0.0])
    image = pixels(widget)
    y = lane_row(widget, "m")
    strong, weak = image[y, int(expected_x(widget, 15))], image[y, int(expected_x(widget, 35))]
    assert tuple(strong) == (255, 255, 255)
    assert np.all(weak < 200) and np.all(weak > np.array(rgb(look.ROW)) + 40)


def test_ten_thousand_spans_are_merged_per_pixel_column(qtbot):
    widget = make(qtbot, duration=7200.0, lanes=())
    rng = np.random.default_rng(3)
    clusters = np.arange(10) * 700 + 100  # ten busy stretches of 100 s, nothing in between
    starts = np.sort((clusters[:, None] + rng.uniform(0, 100, (10, 1000))).ravel())
    widget.set_spans("many", starts, starts + rng.uniform(0.05, 2, len(starts)))
    image = pixels(widget)
    assert widget.painted.runs["many"] <= TRACK_W
    y = lane_row(widget, "many")
    color = rgb(look.LANE_COLORS[0])
    for t in rng.choice(starts, 50):
        assert tuple(image[y, int(expected_x(widget, t))]) == color
    for t in clusters[:-1] + 400:  # the middle of each gap: the lane's background (or a grid line)
        assert tuple(image[y, int(expected_x(widget, t))]) in (rgb(look.ROW), rgb(look.GRID))
    widget.set_view_range(150, 210)  # a minute: about 600 spans, still bounded by the width
    pixels(widget)
    assert 0 < widget.painted.runs["many"] <= TRACK_W


def test_merged_columns_show_the_highest_scoring_span_over_them(qtbot):
    widget = make(qtbot, lanes=())
    low = np.linspace(0, 50, 2000, endpoint=False)
    high = np.linspace(25, 75, 2000, endpoint=False)
    starts = np.r_[low, high]
    widget.set_spans("m", starts, starts + 0.5, colors="#ffffff", scores=np.r_[np.zeros(2000), np.ones(2000)])
    image = pixels(widget)
    assert widget.painted.runs["m"] <= 3
    y = lane_row(widget, "m")
    lane = widget.lane("m")
    weak, strong = rgb(lane.style_colors[0]), (255, 255, 255)
    assert [tuple(image[y, int(expected_x(widget, t))]) for t in (10.3, 24.1, 26.3, 49.1, 60.7)] == [
        weak,
        weak,
        strong,
        strong,
        strong,
    ]


def test_few_visible_spans_are_drawn_one_by_one_with_a_gap_between_neighbours(qtbot):
    widget = make(qtbot, lanes=())
    widget.set_spans("m", [10, 20, 30], [20, 30, 40])
    image = pixels(widget)
    assert widget.painted.runs["m"] == 3
    y = lane_row(widget, "m")
    boundary = int(expected_x(widget, 20)) - 1
    assert tuple(image[y, boundary]) == rgb(look.ROW)  # touching spans stay apart
    assert tuple(image[y, boundary - 3]) == rgb(look.LANE_COLORS[0])


def test_heat_strip_shows_each_bin_in_its_colour_at_every_zoom(qtbot):
    widget = make(qtbot, lanes=())
    edges = np.arange(0, 101, 5.0)
    values = np.linspace(0, 1, len(edges) - 1)
    widget.set_heat("relevance", edges[:-1], edges[1:], values)
    heat = widget.lane("relevance")
    y = lane_row(widget, "relevance")
    for view in ((0, 100), (33, 47), (64.2, 65.9)):
        widget.set_view_range(*view)
        image = pixels(widget)
        for a, b, v in zip(edges[:-1], edges[1:], values, strict=True):
            for t in (a + 0.1 * (b - a), (a + b) / 2, b - 0.1 * (b - a)):
                x = expected_x(widget, t)
                if view[0] < t < view[1] and min(x - expected_x(widget, a), expected_x(widget, b) - x) > 1:
                    assert tuple(image[y, int(expected_x(widget, t))]) == rgb(heat.value_color(v)), (view, t)
    assert len({rgb(heat.value_color(v)) for v in values}) > 15  # the ramp tells values apart


def test_lanes_come_and_go_and_the_height_follows(qtbot):
    widget = make(qtbot, lanes=())
    base = widget.height()
    widget.set_spans("moments", [1], [2])
    widget.set_heat("relevance", [0], [100], [0.5])
    widget.set_spans("object 1", [3], [4])
    assert widget.lanes() == ["moments", "relevance", "object 1"]
    assert widget.height() == base + 2 * look.SPAN_LANE_H + look.HEAT_LANE_H
    widget.set_spans("moments", [5], [6])  # replaced in place
    assert widget.lanes() == ["moments", "relevance", "object 1"]
    widget.remove_lane("relevance")
    assert widget.lanes() == ["moments", "object 1"] and widget.height() == base + 2 * look.SPAN_LANE_H
    y = lane_row(widget, "object 1")
    assert tuple(pixels(widget)[y, int(expected_x(widget, 3.5))]) == rgb(look.LANE_COLORS[1])


def test_bad_spans_are_refused_with_the_lane_named(qtbot):
    widget = make(qtbot)
    with pytest.raises(ValueError, match="lane 'x': 2 starts but 1 ends"):
        widget.set_spans("x", [1, 2], [3])
    with pytest.raises(ValueError, match="end >= start"):
        widget.set_spans("x", [5], [3])
    with pytest.raises(ValueError, match="2 spans but 1 scores"):
        widget.set_spans("x", [1, 2], [3, 4], scores=[0.5])


def test_hover_shows_the_time_and_the_span_under_the_mouse(qtbot):
    widget = make(qtbot, lanes=())
    widget.set_spans("moments", [10, 40], [20, 41], scores=[0.25, 0.875], labels=["a dog", "a cat"])
    y = lane_row(widget, "moments")
    x = HEADER_W + 150  # 15 s
    assert widget.hover_text(x, y).splitlines() == [
        "00:00:15.000",
        "a dog  score 0.25",
        "00:00:10.000 – 00:00:20.000",
    ]
    assert widget.hover_text(x, 5) == "00:00:15.000"  # over the ruler: the time only
    assert widget.hover_text(HEADER_W + 405, y).splitlines()[1] == "a cat  score 0.88"
    send_mouse(widget, QEvent.Type.MouseMove, x, Qt.MouseButton.NoButton, y)
    image = pixels(widget)
    assert np.all(image[widget.lane_rect("moments").bottom() + 2 :, x] != rgb(look.BACKGROUND))  # hover line
    assert tuple(image[3, x - 30]) == rgb(look.HOVER_BADGE)  # the time, on the ruler
    QApplication.sendEvent(widget, QEvent(QEvent.Type.Leave))
    assert tuple(pixels(widget)[3, x - 30]) != rgb(look.HOVER_BADGE)


def test_hovering_shows_the_time_of_the_frame_a_click_would_seek_to(qtbot):
    widget = make(qtbot, duration=float(VFR_TIMES[-1] + 0.04), frame_times=VFR_TIMES)
    widget.set_view_range(10.0, 14.0)
    x = HEADER_W + 333
    t = 10.0 + 333 * 0.004
    assert widget.hover_text(x, 5) == format_timecode(VFR_TIMES[t >= VFR_TIMES][-1])


def test_keys_are_the_windows_unless_the_timeline_is_given_focus(qtbot):
    widget = make(qtbot)
    assert widget.focusPolicy() == Qt.FocusPolicy.NoFocus
    widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
    widget.setFocus()
    qtbot.keyClick(widget, Qt.Key.Key_Plus)
    assert widget.view_range()[1] == pytest.approx(100 / 1.5)
    qtbot.keyClick(widget, Qt.Key.Key_Right)
    assert widget.view_range()[0] == pytest.approx(100 / 1.5 * 0.1) and not widget.follow_playhead
    qtbot.keyClick(widget, Qt.Key.Key_0)
    assert widget.view_range() == (0, 100)


def test_an_editable_lane_reports_clicks_and_edge_drags_by_the_callers_index(qtbot):
    widget = make(qtbot, duration=100.0, lanes=())
    widget.set_spans("m", [60.0, 10.0], [80.0, 30.0])  # not in time order: indices are the caller's
    widget.set_spans("other", [10.0], [30.0])
    widget.set_editable("m")
    clicks, drags, seeks = [], [], []
    widget.span_clicked.connect(lambda lane, i: clicks.append((lane, i)))
    widget.span_edge_dragged.connect(lambda *a: drags.append(a))
    widget.seek_requested.connect(lambda t, _d: seeks.append(t))
    y = lane_row(widget, "m")
    send_mouse(widget, QEvent.Type.MouseButtonPress, expected_x(widget, 20.0), y=y)  # the body of span 1
    send_mouse(widget, QEvent.Type.MouseButtonRelease, expected_x(widget, 20.0), y=y)
    assert clicks == [("m", 1)] and drags == [] and seeks == []  # selects, does not seek
    send_mouse(widget, QEvent.Type.MouseButtonPress, expected_x(widget, 80.0) - 2, y=y)  # span 0's end
    send_mouse(widget, QEvent.Type.MouseMove, expected_x(widget, 90.0), y=y)
    send_mouse(widget, QEvent.Type.MouseButtonRelease, expected_x(widget, 90.0), y=y)
    assert clicks[-1] == ("m", 0) and [d[:3] for d in drags] == [("m", 0, "end")] * 2
    assert drags[0][3] == pytest.approx(90.0, abs=0.2) and [d[4] for d in drags] == [False, True]
    assert seeks == []
    send_mouse(widget, QEvent.Type.MouseButtonPress, expected_x(widget, 20.0), y=lane_row(widget, "other"))
    assert len(clicks) == 2 and len(seeks) == 1  # a lane that is not editable scrubs as before
