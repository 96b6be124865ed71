"""Tracking in the window, with the real worker and the tiny SAM2 (tests/tiny_models.py) on generated clips:
clicks reach the engine as the video pixels under the mouse (rotated clip, two view sizes), the mask of a
clicked frame is painted where the engine put it, propagation fills the object's lane, refinement
re-tracks from the refined frame on only, cancel keeps what was tracked, a reopened session shows the
same masks without SAM2 and tracks again from its stored clicks, and during playback the mask drawn is
always the one of the frame on screen while the event loop keeps its beat. A click the engine refuses
(or never answers: it died) is taken back from the store, the marks and the file, with one message;
masks streamed in are on disk during a propagation, so an engine killed mid-way loses none of them."""

from __future__ import annotations

import argparse
import json
import os
import signal
import time
from dataclasses import replace

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QImage, QMouseEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app.main_window import MainWindow
from app.session import data_folder, open_video_session, save_session
from app.tracks_file import FILE_NAME, SESSION_KEY, TrackedObject, load_objects, save_objects
from engine.tracking import FrameMask, Prompt, TrackStore, decode_mask, encode_mask
from tests.heartbeat import Heartbeat
from tests.media import read_barcode
from tests.qt_images import to_rgb
from tests.test_app import on_screen, open_and_wait, press, shown_ready, store, window_env  # noqa: F401 (fixtures)


@pytest.fixture(scope="module")
def sam2_light(tmp_path_factory):
    """The tiny SAM2 with 3 mask memories: a tracked frame costs half (seconds on a busy 2-core machine)."""
    from tests.tiny_models import write_sam2

    return write_sam2(tmp_path_factory.mktemp("sam2_light"), num_maskmem=3, max_object_pointers=4)


@pytest.fixture
def make_window(qtbot, store, window_env, data_dir, sam2_light):  # noqa: F811
    made = []

    def make() -> MainWindow:
        window = MainWindow(argparse.Namespace(device="cpu", sam_model=str(sam2_light)), store)
        shown_ready(qtbot, window)
        made.append(window)
        return window

    yield make
    for window in made:
        window.close()


def widget_point(window, x: float, y: float) -> QPoint:
    """Where video pixel (x, y) lies in the view, from the view's size alone (aspect fit, centred)."""
    view, info = window.view, window.info
    scale = min(view.width() / info.width, view.height() / info.height)
    left, top = (view.width() - info.width * scale) / 2, (view.height() - info.height * scale) / 2
    return QPoint(round(left + x * scale), round(top + y * scale))


def engine_prompts(qtbot, window, tmp_path) -> list[dict]:
    """The clicks the worker's tracker holds, as it writes them in its own tracks.json."""
    out = tmp_path / f"engine-{len(list(tmp_path.iterdir()))}"
    call = window.worker.request("export_tracks", tracker=window.tracking.tracker_handle(), out_dir=str(out),
                                 formats=["coco"])  # fmt: skip
    with qtbot.waitSignal(call.finished, timeout=30_000):
        pass
    return json.loads((out / "tracks.json").read_text())["tracks"]


def settle(qtbot, window, timeout: int = 120_000) -> None:
    """Wait until the controller has nothing in flight or queued."""
    t = window.tracking
    qtbot.waitUntil(lambda: t._call is None and not t._queue, timeout=timeout)


def eroded(mask: np.ndarray) -> np.ndarray:
    """Pixels whose 3x3 neighbourhood is all in `mask`."""
    padded = np.pad(mask, 1)
    h, w = mask.shape
    return np.logical_and.reduce([padded[dy : dy + h, dx : dx + w] for dy in range(3) for dx in range(3)])


def drag(view, start: QPoint, end: QPoint) -> None:
    QTest.mousePress(view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    for k in range(1, 5):
        pos = QPointF(start + (end - start) * (k / 4))
        move = QMouseEvent(QEvent.Type.MouseMove, pos, view.mapToGlobal(pos), Qt.MouseButton.NoButton,
                           Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)  # fmt: skip
        QApplication.sendEvent(view, move)
    QTest.mouseRelease(view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)


def test_clicks_reach_the_engine_as_video_pixels_and_the_mask_is_painted_where_the_engine_put_it(
    qtbot, make_window, media, tmp_path
) -> None:
    window = make_window()
    path = media("track rotated.mp4", width=320, height=240, frames=30, fps=25, rotation_ccw=90)
    open_and_wait(qtbot, window, path)
    assert (window.info.width, window.info.height) == (240, 320)  # display orientation
    press(window, "T")
    assert window.tracking.mode and window.track_button.isChecked()
    view = window.view
    scale = min(view.width() / 240, view.height() / 320)
    # y = 290 exists only in display orientation (the coded picture is 240 high)
    QTest.mouseClick(
        view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, widget_point(window, 200, 290)
    )
    settle(qtbot, window)
    window.splitters[0].setSizes([300, 1140])  # a narrow view: another scale, bars above and below
    qtbot.waitUntil(lambda: abs(min(view.width() / 240, view.height() / 320) - scale) > 0.1, timeout=5000)
    assert view.video_rect().y() > 10
    second_scale = min(view.width() / 240, view.height() / 320)
    QTest.mouseClick(
        view, Qt.MouseButton.RightButton, Qt.KeyboardModifier.NoModifier, widget_point(window, 30, 40)
    )
    QTest.mouseClick(
        view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.AltModifier, widget_point(window, 120, 20)
    )
    settle(qtbot, window)
    (track,) = engine_prompts(qtbot, window, tmp_path)
    (prompt,) = track["prompts"]
    assert prompt["frame_index"] == window.view.frame_index == 0
    assert prompt["labels"] == [1, 0, 0]
    tolerance = [1 / scale, 1 / second_scale, 1 / second_scale]
    for (x, y), (ex, ey), tol in zip(
        prompt["points"], [(200, 290), (30, 40), (120, 20)], tolerance, strict=True
    ):
        assert abs(x - ex) <= tol and abs(y - ey) <= tol, (x, y, ex, ey)

    # a drag draws a box, for a second object on the same frame
    press(window, "N")
    drag(view, widget_point(window, 40, 100), widget_point(window, 180, 260))
    settle(qtbot, window)
    box = engine_prompts(qtbot, window, tmp_path)[1]["prompts"][0]["box"]
    assert np.allclose(box, [40, 100, 180, 260], atol=1 / second_scale), box

    # the mask of object 1 on this frame, painted where the engine's RLE says: compare with masks hidden
    t = window.tracking
    t.remove(2)
    window.masks.style.labels = False
    mask = t.store.mask(1, 0)
    assert 100 < mask.sum() < mask.size - 100, (
        "the tiny model should give a mask that is neither empty nor full"
    )
    press(window, "H")
    qtbot.wait(50)
    hidden = to_rgb(view.grab().toImage())
    press(window, "H")
    qtbot.wait(50)
    shown = to_rgb(view.grab().toImage())
    changed = np.abs(shown.astype(int) - hidden.astype(int)).sum(axis=2) > 12
    rect = view.video_rect()
    ys, xs = np.mgrid[0 : view.height(), 0 : view.width()]
    vx = np.floor((xs + 0.5 - rect.x()) * 240 / rect.width()).astype(int)
    vy = np.floor((ys + 0.5 - rect.y()) * 320 / rect.height()).astype(int)
    on_video = (vx >= 1) & (vx < 239) & (vy >= 1) & (vy < 319)
    core, clear = eroded(mask), eroded(~mask)  # pixels a rounding at the edge cannot move across
    sample = np.clip(vy, 0, 319), np.clip(vx, 0, 239)
    inside, outside = on_video & core[sample], on_video & clear[sample]
    assert changed[inside].mean() > 0.99
    assert not changed[outside].any()
    window.grab().save(str(tmp_path / "tracking-rotated.png"))


def test_propagate_fills_the_lane_refine_retracks_from_there_on_and_cancel_keeps_what_was_tracked(
    qtbot, make_window, media
) -> None:
    window = make_window()
    path = media("track propagate.mp4", width=320, height=240, frames=12, fps=25)
    open_and_wait(qtbot, window, path)
    t = window.tracking
    window.player.show_index(3)
    on_screen(qtbot, window, 3)
    press(window, "T")
    QTest.mouseClick(
        window.view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, widget_point(window, 150, 120)
    )
    settle(qtbot, window)
    assert t.store.frame_indices(1) == [3]  # the clicked frame's mask, before any propagation
    progress = []
    t.progress_changed.connect(lambda done, total, left: progress.append((done, total, left)))
    press(window, "Ctrl+T")  # no moment: ±10 s around the playhead, the whole 0.48 s clip
    qtbot.waitUntil(lambda: window.objects_panel.busy_row.isVisible(), timeout=10_000)
    settle(qtbot, window)
    assert not window.objects_panel.busy_row.isVisible()
    assert t.store.frame_indices(1) == list(range(12))
    assert progress[-1][:2] == (11, 11) and progress[-1][2] == pytest.approx(0.0, abs=1e-6)
    qtbot.wait(2 * 150)
    lane = window.timeline.lane("1 Object 1")
    starts, ends = t.presence(1)
    assert np.allclose(lane.starts, starts) and np.allclose(lane.ends, ends) and len(starts) >= 1
    shown = [i for i in range(12) if t.store.get(1, i).area > 0]
    times = window.info.frames.times_s
    assert pytest.approx(sum(ends - starts)) == sum(
        (times[i + 1] if i + 1 < 12 else window.info.duration_s) - times[i] for i in shown
    )

    # refine on frame 8: frames before it keep their masks bit for bit; only 8 onwards are sent again
    before = {i: t.store.get(1, i) for i in range(12)}
    version = t.store.version
    window.player.show_index(8)
    on_screen(qtbot, window, 8)
    QTest.mouseClick(
        window.view,
        Qt.MouseButton.RightButton,
        Qt.KeyboardModifier.NoModifier,
        widget_point(window, 150, 120),
    )
    settle(qtbot, window)
    changes = t.store.changes_since(version)
    retracked = sorted({m.frame_index for _, m in changes.masks})
    assert retracked == list(range(8, 12))
    assert all(t.store.get(1, i) == before[i] for i in range(8))
    assert [p.frame_index for p in t.store.prompts(1)] == [3, 8]

    # cancel: a longer clip, tracked over the whole video, cancelled once frames arrive
    longer = media("track cancel.mp4", width=320, height=240, frames=100, fps=25)
    open_and_wait(qtbot, window, longer)
    on_screen(qtbot, window, 0)
    assert t.objects() == []
    QTest.mouseClick(
        window.view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, widget_point(window, 150, 120)
    )
    settle(qtbot, window)
    t.propagate(whole=True)
    qtbot.waitUntil(lambda: len(t.store.frame_indices(1)) > 2, timeout=60_000)
    window.objects_panel.cancel.click()
    settle(qtbot, window)
    kept = t.store.frame_indices(1)
    assert 2 < len(kept) < 50
    assert not t.busy and not window.objects_panel.busy_row.isVisible()
    assert "cancelled" in window.statusBar().currentMessage()
    QTest.mouseClick(
        window.view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, widget_point(window, 60, 60)
    )
    settle(qtbot, window)  # the tracker still answers
    assert len(t.store.prompts(1)[0].points) == 2


BLOCKS = 10  # staged masks: frame i covers column block i % BLOCKS
MASK_COLOR = "#ff00ff"


def staged_store(info) -> TrackStore:
    """Masks that say which frame they belong to by where they are."""
    tracks = TrackStore(width=info.width, height=info.height, video={"path": str(info.path)})
    width = info.width // BLOCKS
    for i in range(info.frame_count):
        mask = np.zeros((info.height, info.width), bool)
        mask[info.height // 2 : info.height - 10, (i % BLOCKS) * width : (i % BLOCKS + 1) * width] = True
        rle, bbox, area = encode_mask(mask)
        tracks.put(1, FrameMask(i, info.frames.time_of(i), rle, bbox, area, 1.0))
    tracks.add_prompt(1, Prompt(info.frames.time_of(0), 0, ((160.0, 180.0),), (1,)))
    return tracks


def stage_session(path, info) -> None:
    """The video's session with one object "Staged" whose masks are `staged_store`'s, as a reopen finds it."""
    session, session_path = open_video_session(path)
    session.tracks[SESSION_KEY] = FILE_NAME
    save_objects(
        data_folder(session_path) / FILE_NAME, staged_store(info), [TrackedObject(1, "Staged", MASK_COLOR)]
    )
    save_session(session, session_path)


def test_playback_draws_each_frames_own_mask_and_a_reopened_session_tracks_again_from_its_clicks(
    qtbot, make_window, media, tmp_path
) -> None:
    from engine.video import probe

    path = media("track playback.mp4", width=320, height=240, frames=900, fps=30)
    info = probe(path)
    stage_session(path, info)

    window = make_window()
    open_and_wait(qtbot, window, path)
    t = window.tracking
    assert [o.name for o in t.objects()] == ["Staged"] and len(t.store.frame_indices(1)) == 900
    costs_ms = []  # what a save of 900 masks costs the GUI thread: the writing is on a thread of its own
    for _ in range(5):
        start = time.perf_counter()
        t._save()
        costs_ms.append((time.perf_counter() - start) * 1000)
        t.files.wait()
    assert sorted(costs_ms)[2] < 2.0, costs_ms  # ~0.15 ms; the write on the GUI thread took ~20-30 ms
    window.masks.style.opacity, window.masks.style.contours, window.masks.style.labels = 1.0, False, False
    magenta = np.array(QColor(MASK_COLOR).getRgb()[:3])
    seen = []

    def check(_image, index: int) -> None:
        picture = window.view.grab().toImage().copy(window.view.video_rect().toRect()).scaled(320, 240)
        rgb = to_rgb(picture)
        band = np.abs(rgb[130:220].astype(int) - magenta).sum(axis=2) < 30
        covered = [band[:, b * 32 : (b + 1) * 32].mean() for b in range(BLOCKS)]
        seen.append((index, read_barcode(rgb), int(np.argmax(covered)), max(covered)))

    window.player.frame_shown.connect(check)
    window.player.play()
    qtbot.waitUntil(lambda: len(seen) >= 40, timeout=30_000)
    window.player.pause()
    window.player.frame_shown.disconnect(check)
    assert all(index == barcode for index, barcode, _, _ in seen), seen
    assert all(block == index % BLOCKS and cover > 0.9 for index, _, block, cover in seen), seen

    # nothing ran SAM2 to show those masks
    status = window.worker.request("status")
    with qtbot.waitSignal(status.finished, timeout=10_000) as answer:
        pass
    assert answer.args[0]["models"]["sam2"] is None and t.tracker_handle() is None

    # propagating again rebuilds the worker's tracker from the stored click; the beat is measured while
    # the masks stream in (after the model loaded) and the 30 s clip plays
    beat = Heartbeat()
    window.player.show_index(0)
    on_screen(qtbot, window, 0)
    window.track_in_moment(0.0, 1.5)  # "Track in this moment": 45 frames, not the whole video
    assert t.mode and t.propagation_range() == (0.0, 1.5)
    t.propagate()
    qtbot.waitUntil(lambda: t.busy, timeout=120_000)  # the click replayed, propagation started
    first = t.store.version
    qtbot.waitUntil(lambda: t.store.version > first, timeout=120_000)  # the first streamed frame
    window.player.play()
    beat.start()
    qtbot.waitUntil(lambda: not t.busy, timeout=300_000)
    beat.stop()
    window.player.pause()
    assert beat.held(100), beat.report()
    assert t.tracker_handle() is not None
    staged = staged_store(info)
    retracked = [i for i in range(900) if t.store.get(1, i).rle != staged.get(1, i).rle]
    assert retracked == list(range(45))  # SAM2's masks replaced the staged ones in the moment only


def stored(mask: FrameMask) -> FrameMask:
    """A mask as the tracks file keeps it: time and score to 6 decimals."""
    return replace(mask, time_s=round(mask.time_s, 6), score=round(mask.score, 6))


def test_a_reopened_session_shows_the_same_masks(qtbot, make_window, media) -> None:
    path = media("track reopen.mp4", width=320, height=240, frames=8, fps=25)
    window = make_window()
    open_and_wait(qtbot, window, path)
    press(window, "T")
    QTest.mouseClick(
        window.view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, widget_point(window, 150, 120)
    )
    settle(qtbot, window)
    window.tracking.rename(1, "Boat")
    window.tracking.propagate()
    settle(qtbot, window)
    window.player.show_index(5)
    on_screen(qtbot, window, 5)
    before_masks = {i: stored(window.tracking.store.get(1, i)) for i in range(8)}
    window.view.setFixedSize(640, 480)  # the same picture size in both windows, whatever else they show
    qtbot.wait(50)
    before = to_rgb(window.view.grab().toImage())
    window.close()

    again = make_window()
    again.view.setFixedSize(640, 480)
    open_and_wait(qtbot, again, path)
    again.player.show_index(5)
    on_screen(qtbot, again, 5)
    t = again.tracking
    assert [(o.obj_id, o.name) for o in t.objects()] == [(1, "Boat")]
    assert {i: stored(t.store.get(1, i)) for i in range(8)} == before_masks
    assert "1 Boat" in again.timeline.lanes()
    qtbot.wait(50)
    after = to_rgb(again.view.grab().toImage())
    assert after.shape == before.shape and np.array_equal(after, before)

    # a click on a stored frame: the worker's tracker is rebuilt from the file, then refines from there on
    press(again, "T")
    version = t.store.version
    QTest.mouseClick(
        again.view, Qt.MouseButton.RightButton, Qt.KeyboardModifier.NoModifier, widget_point(again, 60, 60)
    )
    settle(qtbot, again)
    assert t.tracker_handle() is not None
    changed = sorted({m.frame_index for _, m in t.store.changes_since(version).masks})
    assert changed == [0, 5, 6, 7]  # the first click prompted again (same mask), then 5 onwards re-tracked
    assert all(stored(t.store.get(1, i)) == before_masks[i] for i in range(5))  # bit for bit
    assert decode_mask(t.store.get(1, 5).rle, 240, 320).sum() == t.store.get(1, 5).area > 0


def slow_outline(mask: np.ndarray, thickness: int) -> np.ndarray:
    """The contour by its definition, pixel offset by offset: mask pixels at most `thickness` 4-neighbour
    steps (a diamond) from a pixel outside the mask, beyond the frame counting as outside."""
    h, w = mask.shape
    padded = np.pad(mask, thickness)
    near_outside = np.zeros_like(mask)
    for dy in range(-thickness, thickness + 1):
        for dx in range(-thickness, thickness + 1):
            if abs(dy) + abs(dx) <= thickness:
                near_outside |= ~padded[
                    thickness + dy : thickness + dy + h, thickness + dx : thickness + dx + w
                ]
    return mask & near_outside


@pytest.mark.parametrize("zoom", [1, 2])
def test_masks_touching_the_borders_and_thick_contours_are_painted_on_exactly_their_pixels(
    qtbot, zoom
) -> None:
    """Two overlapping objects on a 960x540 frame (contours 2 pixels thick at that size), cut by all four
    borders, with a hole and a ragged edge, drawn 1:1 and at 2x (no smoothing either way): every pixel
    of the view is the frame, a fill or a contour exactly where the masks and the slow reference say."""
    from app.mask_overlay import MaskOverlay
    from app.video_view import VideoView

    w, h, thickness = 960, 540, 2
    rng = np.random.default_rng(4)
    ys, xs = np.mgrid[0:h, 0:w]
    first = (((xs - 90) / 240) ** 2 + ((ys - 40) / 160) ** 2 < 1) | (xs >= w - 3)  # top-left, right edge
    second = (xs > 520) & (ys > 300) & ~(((xs - 800) / 60) ** 2 + ((ys - 450) / 40) ** 2 < 1)  # with a hole
    second |= (xs < 230) & (ys > 470) & (rng.random((h, w)) > 0.45)  # ragged, on the bottom border
    second[200:203, 400] = True  # a sliver thinner than the contour
    store_ = TrackStore(width=w, height=h)
    colors = {1: QColor("#ff2020"), 2: QColor("#20a0ff")}
    expected = np.zeros((h, w), int)  # 0: the frame; slot k: its fill; 128 + k: its contour
    for slot, (obj, mask) in enumerate([(1, first), (2, second)], start=1):  # later objects on top
        rle, bbox, area = encode_mask(mask)
        store_.put(obj, FrameMask(0, 0.0, rle, bbox, area, 1.0))
        expected[mask] = slot
        expected[slow_outline(mask, thickness)] = 128 + slot
    assert (expected > 128).sum() > 0 and (expected[0] > 0).any() and (expected[-1] > 0).any()
    assert (expected[:, 0] > 0).any() and (expected[:, -1] > 0).any()

    overlay = MaskOverlay(store_)
    overlay.colors, overlay.style.labels = colors, False
    view = VideoView()
    qtbot.addWidget(view)
    view.resize(w * zoom, h * zoom)
    view.set_video_size(w, h)
    gray = np.full((h, w, 3), 70, np.uint8)
    view.show_frame(QImage(gray.data, w, h, w * 3, QImage.Format.Format_RGB888).copy(), 0)
    view.overlays.append(overlay.paint)
    painted = to_rgb(view.grab().toImage()).astype(int)
    assert painted.shape == (h * zoom, w * zoom, 3)

    alpha = QColor(colors[1]).alpha() * overlay.style.opacity / 255
    palette = {0: np.array([70, 70, 70])}
    for slot, obj in enumerate(colors, start=1):
        rgb = np.array(colors[obj].getRgb()[:3])
        palette[slot], palette[128 + slot] = alpha * rgb + (1 - alpha) * 70, rgb
    classes = np.array(list(palette))
    distance = np.stack([np.abs(painted - palette[c]).sum(axis=2) for c in classes])
    got = classes[distance.argmin(axis=0)]
    want = np.repeat(np.repeat(expected, zoom, axis=0), zoom, axis=1)
    wrong = np.argwhere(got != want)
    assert len(wrong) == 0, f"{len(wrong)} pixels wrong, first (y, x): {wrong[:5].tolist()}"
    assert distance.min(axis=0).max() <= 6  # and each is its colour, not merely the nearest one


def test_the_next_frames_masks_are_made_once_this_frame_is_painted_so_its_paint_finds_them(
    qtbot, make_window, media
) -> None:
    """The look-ahead `prepare` of the frame that comes next (the next one forwards, the one before in
    reverse) runs after the frame on screen was painted, never between its arrival and its paint, where
    it would delay the frame waiting; and that next frame's paint then finds its mask image made."""
    from engine.video import probe

    path = media("track prefetch.mp4", width=320, height=240, frames=30, fps=30)
    info = probe(path)
    stage_session(path, info)
    window = make_window()
    open_and_wait(qtbot, window, path)
    masks, events = window.masks, []
    prepare = masks.prepare

    def recording(index: int, frame_masks=None):
        # the look-ahead passes the index alone; a paint passes the masks it is about to draw
        events.append(("ahead", index) if frame_masks is None else ("paint", index, index in masks._frames))
        return prepare(index, frame_masks)

    masks.prepare = recording
    window.view.painted.connect(lambda index: events.append(("painted", index)))
    masks.clear()
    for index in (5, 6, 7):
        window.player.show_index(index)
        qtbot.waitUntil(lambda index=index: ("ahead", index + 1) in events, timeout=10_000)
    window.player.shuttle(-1)  # reverse, by stepping
    qtbot.waitUntil(lambda: ("painted", 4) in events, timeout=10_000)
    window.player.pause()
    qtbot.wait(100)

    painted_last = None
    for event in events:
        if event[0] == "painted":
            painted_last = event[1]
        elif event[0] == "ahead" and painted_last is not None:
            assert abs(event[1] - painted_last) == 1, (event, painted_last, events)
    first_ahead = {e[1]: i for i, e in reversed(list(enumerate(events))) if e[0] == "ahead"}
    first_painted = {e[1]: i for i, e in reversed(list(enumerate(events))) if e[0] == "painted"}
    for index in (5, 6, 7):
        assert first_painted[index] < first_ahead[index + 1], events  # made once `index` is on screen
    made = {e[1]: e[2] for e in reversed(events) if e[0] == "paint"}  # at each frame's first paint
    assert made[5] is False, events  # came by a seek: nothing showed the frame before it
    assert all(made[i] for i in (6, 7, 4)), events  # made ahead: forwards, then in reverse


def saved_objects(window):
    """The tracked objects as the session's file holds them now (after the saves asked for so far)."""
    window.tracking.files.wait()
    return load_objects(data_folder(window.sessions.keeper.path) / FILE_NAME)


def test_a_click_the_engine_refuses_is_taken_back_with_one_message(
    qtbot, make_window, media, tmp_path
) -> None:
    window = make_window()
    open_and_wait(qtbot, window, media("track refused.mp4", width=320, height=240, frames=8, fps=25))
    on_screen(qtbot, window, 0)
    t = window.tracking
    messages: list[str] = []
    t.failed.connect(messages.append)
    press(window, "T")
    t.click(400.0, 120.0)  # past the right edge (the view sends none such; the engine must refuse it)
    assert t.store.prompts(1) and [o.obj_id for o in t.objects()] == [1]  # shown at once
    settle(qtbot, window)
    (message,) = messages
    assert "outside the 320x240 picture" in message and "Click inside it" in message and "\n" not in message
    assert message in window.banner.label.text()
    assert t.objects() == [] and t.store.object_ids() == []  # the object that click made is gone too

    # a good click stays; a refused box on the same frame (its mark drawn while asked) goes, and a click
    # queued behind it is never sent: both taken back, one message
    QTest.mouseClick(
        window.view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, widget_point(window, 150, 120)
    )
    settle(qtbot, window)
    (good,) = t.store.prompts(1)
    window.masks.style.labels = False
    qtbot.wait(50)
    before = to_rgb(window.view.grab().toImage())
    t.drag_box(100.0, 100.0, 330.0, 200.0)
    t.click(60.0, 60.0, positive=False)
    assert len(t.store.prompts(1)[0].points) == 2 and t.store.prompts(1)[0].box is not None
    assert not np.array_equal(to_rgb(window.view.grab().toImage()), before)  # the box is drawn
    settle(qtbot, window)
    assert len(messages) == 2 and "Draw it inside the picture" in messages[1]
    assert t.store.prompts(1) == [good]
    qtbot.wait(50)
    assert np.array_equal(to_rgb(window.view.grab().toImage()), before)  # no mark of either is left
    kept, objects = saved_objects(window)
    assert kept.prompts(1) == [good] and [o.obj_id for o in objects] == [1]
    (track,) = engine_prompts(qtbot, window, tmp_path)
    assert [p["points"] for p in track["prompts"]] == [[list(good.points[0])]]  # the engine agrees

    # the engine dies while a click waits for its answer: taken back as well
    t.click(200.0, 60.0)
    os.kill(window.worker.pid, signal.SIGKILL)
    settle(qtbot, window)
    assert t.store.prompts(1) == [good] and saved_objects(window)[0].prompts(1) == [good]
    assert messages[-1].startswith("The click was not used: The engine")


def test_masks_streamed_so_far_are_on_disk_during_a_propagation_and_after_the_engine_dies(
    qtbot, make_window, media
) -> None:
    path = media("track crash.mp4", width=320, height=240, frames=100, fps=25)
    window = make_window()
    open_and_wait(qtbot, window, path)
    on_screen(qtbot, window, 0)
    t = window.tracking
    t.save_every_s = 0.5
    press(window, "T")
    t.click(150.0, 120.0)
    settle(qtbot, window)
    file = data_folder(window.sessions.keeper.path) / FILE_NAME
    t.files.wait()  # the click's answer is on disk
    (clicked,) = t.store.prompts(1)
    t.propagate(whole=True)
    qtbot.waitUntil(lambda: t.busy, timeout=60_000)
    t.click(60.0, 60.0, positive=False)  # waits behind the propagation: shown, not answered, not saved
    assert len(t.store.prompts(1)[0].points) == 2
    on_disk: list[int] = []

    def saved_while_busy() -> bool:
        saved, _ = load_objects(file)  # read while saves come and go: never half-written
        assert saved.prompts(1) == [clicked]
        on_disk.append(len(saved.frame_indices(1)))
        return t.busy and on_disk[-1] >= 4

    qtbot.waitUntil(saved_while_busy, timeout=120_000)
    assert t.busy and len(t.store.frame_indices(1)) < 100  # mid-propagation, saved without its end
    os.kill(window.worker.pid, signal.SIGKILL)
    qtbot.waitUntil(lambda: not t.busy, timeout=30_000)
    assert t.store.prompts(1) == [clicked]  # the click never sent is taken back
    streamed = t.store.frame_indices(1)
    window.close()

    again = make_window()
    open_and_wait(qtbot, again, path)
    assert again.tracking.store.frame_indices(1) == streamed and len(streamed) >= on_disk[-1]
    assert [m.rle for m in again.tracking.store.frames(1)] == [m.rle for m in t.store.frames(1)]
    assert again.tracking.store.prompts(1) == [clicked]
