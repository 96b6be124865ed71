"""The thumbnail strip on real generated videos: each thumbnail painted is, by its barcode, the keyframe
at or before its slot's time; coarse first, dense on zoom; results for another file are dropped."""

from __future__ import annotations

import gc
import subprocess
import sys
import time

import av
import numpy as np
import pytest
from PySide6.QtGui import QPixmap

from app.thumbnails import COARSE_COUNT, Source, ThumbnailCache, ThumbnailProducer
from app.timeline import Timeline
from app.timeline_paint import HEADER_W, RULER_H
from engine.video import decode_frames, probe
from tests.conftest import checkout_env
from tests.media import BARCODE_BITS, barcode_block
from tests.qt_images import to_rgb

STRIP = 72  # tall enough that a 160-pixel-wide barcode stays readable in a thumbnail
VFR_DURATIONS = np.tile([0.04, 0.1, 0.02, 1 / 30, 1 / 15], 60)


@pytest.fixture
def producer(qtbot):
    made = ThumbnailProducer(height=96)
    yield made
    made.close()


def keyframe_times(path) -> np.ndarray:
    frames = probe(path).frames
    return frames.times_s[frames.keyframe]


def keyframe_at_or_before(path, t: float) -> int:
    """Index of the latest keyframe shown at or before `t`, from the engine's frame table."""
    frames = probe(path).frames
    keys = np.flatnonzero(frames.keyframe)
    return int(keys[frames.times_s[keys] <= t + 5e-7][-1])


def barcode_at(image: np.ndarray, x: float, y: float, drawn_width: float, video_width: int) -> int:
    """The frame index in the barcode of a thumbnail whose top-left corner is drawn at (x, y)."""
    block = barcode_block(video_width) * drawn_width / video_width
    index = 0
    for bit in range(BARCODE_BITS):
        if image[int(y + block / 2), int(x + (bit + 0.5) * block)].mean() > 127:
            index |= 1 << bit
    return index


def painted_keyframes(widget: Timeline, video_width: int, video_height: int) -> list[tuple[float, int]]:
    """(slot time, frame index read from the pixels) for every slot drawn whole."""
    image = to_rgb(widget.grab().toImage())
    inner = STRIP - 4
    drawn_width = inner * video_width / video_height
    return [
        (t, barcode_at(image, x, RULER_H + 2, drawn_width, video_width))
        for x, t in widget.strip_slots()
        if x >= HEADER_W and x + drawn_width < widget.width()
    ]


def settled(qtbot, widget: Timeline) -> None:
    qtbot.waitUntil(lambda: not widget.thumbnails_pending(), timeout=20000)


def assert_slots_show_their_keyframes(qtbot, widget: Timeline, path, view: tuple[float, float]) -> list:
    """Zoom to `view`; once the thumbnails are in, every slot shows the latest keyframe at or before it."""
    widget.set_view_range(*view)
    settled(qtbot, widget)
    painted = painted_keyframes(widget, 160, 120)
    assert len(painted) >= 8
    assert [index for _, index in painted] == [keyframe_at_or_before(path, t) for t, _ in painted]
    return painted


def make_timeline(qtbot, path) -> Timeline:
    widget = Timeline(strip_height=STRIP)
    qtbot.addWidget(widget)
    widget.resize(HEADER_W + 1000, 10)
    info = probe(path)
    widget.set_video(str(path), info.duration_s, info.frames.times_s, info.frames.start_s, info.rotation)
    widget.show()
    return widget


def test_each_thumbnail_is_the_keyframe_at_or_before_its_slot_coarse_then_dense(qtbot, media):
    path = media("thumbs_gop5.mp4", width=160, height=120, frames=1000, fps=25, gop=5)  # 200 keyframes
    widget = make_timeline(qtbot, path)
    settled(qtbot, widget)
    whole = painted_keyframes(widget, 160, 120)
    assert len(whole) >= 8
    for t, index in whole:
        assert index % 5 == 0 and index / 25 <= t + 1e-6, (t, index)
    # Slots 0.2 s apart: half of them need keyframes the coarse pass skipped.
    zoomed = assert_slots_show_their_keyframes(qtbot, widget, path, (10.1, 12.3))
    assert len({index for _, index in zoomed}) == len(zoomed)  # every slot its own keyframe


def test_thumbnails_on_a_variable_frame_rate_file(qtbot, media):
    path = media("thumbs_vfr.mp4", width=160, height=120, durations_s=list(VFR_DURATIONS), gop=7)
    assert_slots_show_their_keyframes(qtbot, make_timeline(qtbot, path), path, (3.0, 6.0))


def test_the_coarse_pass_makes_a_hundred_evenly_spaced_keyframes(qtbot, media, producer):
    path = media("thumbs_gop5.mp4", width=160, height=120, frames=1000, fps=25, gop=5)
    producer.open(Source(str(path)), 40.0)
    qtbot.waitUntil(producer.idle, timeout=20000)
    assert len(producer.cache) == COARSE_COUNT
    assert producer.cache.keys() == pytest.approx(np.arange(COARSE_COUNT) * 0.4)  # every second keyframe
    assert set(producer.cache.keys()) <= {round(t, 6) for t in keyframe_times(path)}


def test_results_for_a_file_opened_before_are_dropped(qtbot, media, producer):
    first = media("thumbs_4x3.mp4", width=160, height=120, frames=500, fps=25, gop=5)
    second = media("thumbs_square.mp4", width=96, height=96, frames=100, fps=25, gop=5)
    producer.open(Source(str(first)), 20.0)
    deadline = time.monotonic() + 10
    while not producer._decoder._made and time.monotonic() < deadline:
        time.sleep(0.01)  # the thread makes thumbnails of the first file; the GUI thread does not take them
    producer.open(Source(str(second)), 4.0)
    qtbot.waitUntil(producer.idle, timeout=20000)
    assert producer.stale_dropped > 0
    sizes = {(p.width(), p.height()) for p in producer.cache._items.values()}
    assert sizes == {(96, 96)}
    assert len(producer.cache) == 20  # all 20 keyframes of the second file, none of the first


def test_a_newer_request_replaces_the_rest_of_the_older_one(qtbot, media, producer):
    path = media("thumbs_gop5.mp4", width=160, height=120, frames=1000, fps=25, gop=5)
    producer.open(Source(str(path)), 40.0)
    qtbot.waitUntil(producer.idle, timeout=20000)
    skipped = np.arange(100) * 0.4 + 0.2  # the keyframes the coarse pass skipped
    producer.request(skipped[:60])
    producer.request(skipped[60:61])
    qtbot.waitUntil(producer.idle, timeout=20000)
    made = set(producer.cache.keys()) & {round(t, 6) for t in skipped[:60]}
    assert len(made) <= 3  # what was already being decoded when the newer request came
    assert producer.at_or_before(skipped[60])[0] == pytest.approx(skipped[60])


def test_evicted_thumbnails_are_made_again_when_asked(qtbot, media, producer):
    path = media("thumbs_gop5.mp4", width=160, height=120, frames=1000, fps=25, gop=5)
    producer.cache.max_count = 30
    producer.open(Source(str(path)), 40.0)
    qtbot.waitUntil(producer.idle, timeout=20000)
    assert len(producer.cache) == 30
    assert producer.at_or_before(0.0) is None  # the oldest went first
    producer.request([0.0, 0.1])
    qtbot.waitUntil(producer.idle, timeout=20000)
    assert producer.at_or_before(0.1)[0] == 0.0


def test_cache_is_bounded_by_count_and_bytes_least_recently_used_first():
    cache = ThumbnailCache(max_count=3, max_bytes=10**9)
    for key in (1.0, 2.0, 3.0):
        cache.add(key, QPixmap(10, 10))
    assert cache.at_or_before(1.5)[0] == 1.0  # touched: now the most recent
    assert cache.add(4.0, QPixmap(10, 10)) == [2.0]
    assert cache.keys() == [1.0, 3.0, 4.0]
    assert cache.at_or_before(2.5)[0] == 1.0 and cache.at_or_before(0.5) is None
    small = ThumbnailCache(max_count=100, max_bytes=2 * 10 * 10 * 4)
    for key in range(5):
        small.add(float(key), QPixmap(10, 10))
    assert small.keys() == [3.0, 4.0] and small.bytes == 800


def test_a_file_that_is_no_video_gives_no_thumbnails_and_keeps_the_thread_serving(
    qtbot, media, producer, tmp_path, caplog
):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video" * 1000)
    producer.open(Source(str(junk)), 60.0)
    qtbot.waitUntil(producer.idle, timeout=20000)
    assert len(producer.cache) == 0
    assert len([r for r in caplog.records if "junk.mp4" in r.getMessage()]) == 1  # said once, not per slot
    path = media("thumbs_square.mp4", width=96, height=96, frames=100, fps=25, gop=5)
    producer.open(Source(str(path)), 4.0)
    qtbot.waitUntil(producer.idle, timeout=20000)
    assert len(producer.cache) == 20


@pytest.mark.parametrize("rotation_ccw", [90, 270])
def test_thumbnails_stand_the_way_the_picture_is_shown(qtbot, media, producer, rotation_ccw):
    path = media(
        f"thumbs_rot{rotation_ccw}.mp4", width=160, height=120, frames=50, gop=25, rotation_ccw=rotation_ccw
    )
    info = probe(path)
    producer.open(Source(str(path), info.frames.start_s, info.rotation), info.duration_s)
    qtbot.waitUntil(producer.idle, timeout=20000)
    pixmap = producer.at_or_before(0.0)[1]
    assert (pixmap.width(), pixmap.height()) == (72, 96)  # portrait, as displayed
    shown = next(decode_frames(info, [0], size=(72, 96), resample="bilinear")).image.astype(int)
    thumb = to_rgb(pixmap.toImage()).astype(int)
    upside_down = np.ascontiguousarray(shown[::-1, ::-1])
    assert np.abs(thumb - shown).mean() < 12 < np.abs(thumb - upside_down).mean()


def shifted_copy(source, target, seconds: float):
    """`source`'s packets in an MP4 whose timestamps start `seconds` later (as cameras and cut files do)."""
    with av.open(str(source)) as src, av.open(str(target), "w") as out:
        stream = out.add_stream_from_template(src.streams.video[0])
        shift = round(seconds / src.streams.video[0].time_base)
        for packet in src.demux(src.streams.video[0]):
            if packet.size:
                packet.pts, packet.dts = packet.pts + shift, packet.dts + shift
                packet.stream = stream
                out.mux(packet)
    return target


def test_thumbnails_of_a_file_whose_clock_starts_late_are_filed_at_its_own_times(qtbot, media, tmp_path):
    path = shifted_copy(media("thumbs_gop5.mp4", width=160, height=120, frames=1000, fps=25, gop=5),
                        tmp_path / "late.mp4", 10.0)  # fmt: skip
    assert probe(path).frames.start_s == pytest.approx(10.0, abs=0.1)
    assert_slots_show_their_keyframes(qtbot, make_timeline(qtbot, path), path, (20.1, 22.3))


@pytest.mark.parametrize("ending", ["", "del timeline\n", "timeline.deleteLater()\napp.processEvents()\n"])
def test_a_timeline_deleted_or_left_open_at_exit_does_not_abort_the_process(media, ending):
    """Qt aborts a process whose running QThread is destroyed: with its widget, or at exit."""
    path = media("thumbs_gop5.mp4", width=160, height=120, frames=1000, fps=25, gop=5)
    script = (
        "from PySide6.QtWidgets import QApplication\n"
        "from app.timeline import Timeline\n"
        "app = QApplication([])\n"
        "timeline = Timeline()\n"
        f"timeline.set_video({str(path)!r}, 40.0)\n"  # the thread is busy with it when the script ends
        f"{ending}"
        "print('done')\n"
    )
    env = checkout_env(QT_QPA_PLATFORM="offscreen")
    run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and run.stdout == "done\n", run.stderr


def test_the_thread_stops_when_its_timeline_is_collected(qtbot, media):
    path = media("thumbs_gop5.mp4", width=160, height=120, frames=1000, fps=25, gop=5)
    widget = Timeline()
    widget.set_video(str(path), 40.0)
    decoder = widget.thumbnails._decoder
    assert decoder.isRunning()
    del widget
    gc.collect()
    qtbot.waitUntil(decoder.isFinished, timeout=5000)
