"""Exact frames for the paused player (app/exact_frames.py, app/frame_reader.py), checked by content.

Every clip carries each frame's index as a barcode, so a test knows which frame it got, not only which
timestamp. The clips cover what breaks time-based seeking: B-frame pyramids, variable frame rate with
B-frames, open-GOP HEVC (leading pictures shown before their keyframe, decoded after it), MPEG-TS
(its demuxer lands after the keyframe asked for), Matroska, and a rotated file.
"""

from __future__ import annotations

import dataclasses
import threading

import av
import numpy as np
import pytest
from PySide6.QtGui import QImage

from app.exact_frames import ExactFrames
from app.frame_cache import FrameCache
from app.frame_reader import FrameReader
from engine.video import VideoInfo, probe
from tests.media import read_barcode

GOP = 30
TS_GOP = 10
TS_SLACK = 25 + TS_GOP  # frames: the retry seeks 1 s (25 frames) earlier and may land a GOP before that
VFR_DURATIONS = np.random.default_rng(7).choice([0.02, 0.04, 0.1, 1 / 30], size=150).tolist()
CLIPS = {
    "cfr_bframes.mp4": {"frames": 150, "gop": GOP, "bframes": 3},
    "vfr_bframes.mp4": {"frames": 150, "durations_s": VFR_DURATIONS, "gop": GOP, "bframes": 2},
    "hevc_open_gop.mp4": {
        "codec": "libx265",
        "frames": 150,
        "gop": GOP,
        "options": {
            "x265-params": f"keyint={GOP}:min-keyint={GOP}:bframes=3:open-gop=1:scenecut=0:log-level=error"
        },
    },
    # Short GOPs: the demuxer lands a GOP late, and the retry from a second earlier several GOPs early.
    "h264.ts": {"frames": 150, "gop": TS_GOP, "bframes": 2},
    "h264.mkv": {"frames": 150, "gop": GOP, "bframes": 2},
    "rotated.mp4": {"frames": 150, "gop": GOP, "bframes": 2, "rotation_ccw": 90, "width": 322, "height": 242},
}
FRAME_BYTES = 322 * 242 * 3 // 2  # one decoded 4:2:0 frame of the biggest clip, about
SMALL_CACHE = 12 * FRAME_BYTES  # less than half a GOP: stepping has to refill it


def clip(media, name: str) -> VideoInfo:
    if CLIPS[name].get("codec") == "libx265" and "libx265" not in av.codecs_available:
        pytest.skip("this PyAV build has no libx265 encoder to make an open-GOP HEVC clip")
    return probe(media(name, **CLIPS[name]))


def barcode(image: QImage, rotation: int) -> int:
    """The index drawn into the frame; the barcode is in coded orientation, the image is displayed."""
    assert image.format() == QImage.Format.Format_RGB888
    width, height = image.width(), image.height()
    rows = np.frombuffer(image.constBits(), np.uint8).reshape(height, image.bytesPerLine())
    pixels = rows[:, : width * 3].reshape(height, width, 3)
    return read_barcode(np.rot90(pixels, k=rotation // 90))  # turn back counter-clockwise


def slack(info: VideoInfo) -> int:
    """Frames decoded before the keyframe asked for: the MPEG-TS demuxer does not land on it."""
    return TS_SLACK if info.container == "mpegts" else 0


def hard_indices(info: VideoInfo) -> list[int]:
    """Keyframes, the frames around them, and the leading pictures of open GOPs."""
    table = info.frames
    keys = np.flatnonzero(table.keyframe).tolist()
    near = [k + d for k in keys for d in (-3, -2, -1, 0, 1)]
    return sorted({i for i in near if 0 <= i < table.frame_count})


@pytest.fixture
def closing():
    """`closing(reader)` -> reader, closed after the test."""
    made = []

    def keep(reader):
        made.append(reader)
        return reader

    yield keep
    for reader in made:
        reader.close()


def steps_shown_from_cache(frames: ExactFrames, indices: range, rotation: int) -> int:
    """Show each frame after letting the reader prefetch, as it does while the user looks at a frame;
    checks every frame and the cache's bound, and returns how many were shown without decoding."""
    hits = 0
    for index in indices:
        while frames.prefetch_step():
            assert frames.cache_bytes() <= frames.cache.limit_bytes
        before = frames.decoded
        assert barcode(frames.frame(index), rotation) == index
        hits += frames.decoded == before
    return hits


def test_clips_have_what_they_are_meant_to_test(media):
    hevc = clip(media, "hevc_open_gop.mp4").frames
    leading = [i for i in range(GOP) if hevc.decode_pos[i] > hevc.decode_pos[GOP]]
    assert leading, "no leading pictures: the HEVC clip is not open-GOP"
    vfr = clip(media, "vfr_bframes.mp4")
    assert vfr.vfr
    assert clip(media, "rotated.mp4").rotation in (90, 270)


@pytest.mark.parametrize("name", CLIPS)
def test_random_access_gives_exactly_the_frame_asked_for(media, closing, name):
    info = clip(media, name)
    frames = closing(ExactFrames(info, SMALL_CACHE))
    rng = np.random.default_rng(len(name))
    indices = rng.permutation(info.frame_count)[:40].tolist() + hard_indices(info)[::-1]
    for index in indices:
        before = frames.decoded
        image = frames.frame(index)
        assert (image.width(), image.height()) == (info.width, info.height)
        assert barcode(image, info.rotation) == index
        # Never more than from the frame's own keyframe (MPEG-TS lands earlier).
        key = int(info.frames.seek_keyframe[index])
        assert frames.decoded - before <= index - key + 1 + slack(info)


@pytest.mark.parametrize("prefetch", [False, True], ids=["", "prefetching"])
@pytest.mark.parametrize("name", CLIPS)
def test_forward_steps_decode_on_without_seeking(media, closing, name, prefetch):
    """One decoding run serves every step; with prefetching between steps (as the reader does while
    the user looks), each step is then shown from the cache."""
    info = clip(media, name)
    frames = closing(ExactFrames(info, SMALL_CACHE))
    start, steps = GOP + 7, 2 * GOP + 5  # across two keyframes
    assert barcode(frames.frame(start), info.rotation) == start
    if prefetch:
        assert steps_shown_from_cache(frames, range(start + 1, start + steps), info.rotation) == steps - 1
    else:
        for index in range(start + 1, start + steps):
            assert barcode(frames.frame(index), info.rotation) == index
    assert frames.seeks == 1
    key = int(info.frames.seek_keyframe[start])
    ahead = frames.cache.capacity_frames() if prefetch else 0
    assert frames.decoded <= start - key + steps + ahead + slack(info)


@pytest.mark.parametrize("name", CLIPS)
def test_backward_steps_come_from_the_cache(media, closing, name):
    """Between steps the reader prefetches (as the GUI's reader does when idle): the frames below the
    playhead are decoded a stretch at a time, and each step is then shown from memory."""
    info = clip(media, name)
    frames = closing(ExactFrames(info, 2 * GOP * FRAME_BYTES))
    start, stop = 3 * GOP + 20, GOP - 10
    frames.frame(start)
    steps = range(start - 1, stop - 1, -1)  # across two keyframes
    assert steps_shown_from_cache(frames, steps, info.rotation) == len(steps)
    # Each stretch is decoded about once (stepping by seeking would decode ~steps * GOP / 2 frames).
    once = start - int(info.frames.seek_keyframe[stop]) + 1
    assert frames.decoded <= 1.5 * once + slack(info)


def test_a_cache_smaller_than_a_gop_keeps_the_frames_next_to_the_playhead(media, closing):
    """Refilling below the playhead decodes a whole stretch from its keyframe, more than fits: the frames
    far from the playhead must give way, not the ones about to be shown."""
    info = clip(media, "cfr_bframes.mp4")
    frames = closing(ExactFrames(info, 20 * FRAME_BYTES))
    start, stop = 3 * GOP + 20, GOP - 10
    frames.frame(start)
    steps = range(start - 1, stop - 1, -1)
    assert steps_shown_from_cache(frames, steps, info.rotation) == len(steps)
    # Each refill brings many frames: at most about two decodes per frame (plain LRU needs 2.6).
    once = start - int(info.frames.seek_keyframe[stop]) + 1
    assert frames.decoded <= 2 * once


def test_file_without_timestamps_is_read_by_counting_from_the_start(media, closing):
    info = probe(media("no_timestamps.h264", frames=90, gop=GOP))
    assert not info.frames_seekable
    frames = closing(ExactFrames(info, SMALL_CACHE))
    for index in (70, 3, 45, 44, 89, 0):
        assert barcode(frames.frame(index), 0) == index


def test_frames_that_would_not_stay_cached_are_skipped_when_nothing_refers_to_them(media, closing):
    info = clip(media, "cfr_bframes.mp4")
    frames = closing(ExactFrames(info, 3 * FRAME_BYTES))
    frames.frame(0)
    frames.decoded = 0
    assert barcode(frames.frame(GOP + 28), 0) == GOP + 28
    assert frames.decoded < 29 * 3 // 4  # of the 29 frames from the keyframe, the B-frames were skipped


def test_a_full_cache_drops_the_frame_farthest_from_the_playhead():
    cache: FrameCache[str] = FrameCache(limit_bytes=40)
    cache.focus(100, -1)  # stepping backwards: frames above 100 are behind
    for index in (101, 102, 96, 99):
        assert cache.put(index, f"f{index}", 10)
    # Full. 98 is nearer (distance 2) than 102 (behind, 2 x BEHIND_WEIGHT): 102 goes.
    assert cache.put(98, "f98", 10)
    assert cache.indices() == [96, 98, 99, 101]
    # 80 is farther than everything cached: it is not kept, and nothing is dropped for it.
    assert not cache.would_keep(80, 10)
    assert not cache.put(80, "f80", 10)
    assert cache.indices() == [96, 98, 99, 101]
    assert cache.bytes == 40
    # Turning round makes the frames below the far ones.
    cache.focus(100, 1)
    assert cache.put(103, "f103", 10)
    assert cache.indices() == [98, 99, 101, 103]
    assert not cache.put(7, "too big", 41)
    assert cache.get(99) == "f99" and cache.get(96) is None


def test_an_interrupted_decode_can_be_continued_to_any_frame(media, closing):
    """Frames skipped on the way (far from the playhead, nothing refers to them) must not be expected
    from decoding on: asking for one later starts over instead of reporting damage."""
    info = clip(media, "cfr_bframes.mp4")
    for stop_after in range(1, 10):
        frames = closing(ExactFrames(info, 3 * FRAME_BYTES))
        frames.frame(0)  # now it knows how big a frame is, and skips what will not fit
        stop = frames.decoded + stop_after
        assert frames.frame(3 * GOP + 28, interrupted=lambda: frames.decoded >= stop) is None  # noqa: B023
        last = frames._last
        for index in range(last + 1, last + 5):
            assert barcode(frames.frame(index), 0) == index


def test_forward_steps_decode_on_even_with_room_for_one_frame(media, closing):
    info = clip(media, "cfr_bframes.mp4")
    frames = closing(ExactFrames(info, FRAME_BYTES * 5 // 4))
    for index in range(GOP + 3, 2 * GOP + 10):
        assert barcode(frames.frame(index), 0) == index
    assert frames.seeks == 1
    assert frames.cache_frames() == 1


# The reader the GUI uses: a QObject with a worker thread, answering requests by signal.


def shown(qtbot, reader: FrameReader, index: int, generation: int) -> QImage:
    """Request a frame and wait for its answer."""
    with qtbot.waitSignal(reader.frame_ready, timeout=20_000) as blocker:
        reader.request(index, generation)
    got_index, image, got_generation = blocker.args
    assert (got_index, got_generation) == (index, generation)
    return image


@pytest.mark.parametrize("name", ["vfr_bframes.mp4", "hevc_open_gop.mp4", "h264.ts"])
def test_reader_delivers_exact_frames_while_seeking_and_stepping(qtbot, media, closing, name):
    info = clip(media, name)
    reader = closing(FrameReader(info, SMALL_CACHE))
    generation = 0
    for index in np.random.default_rng(1).permutation(info.frame_count)[:10].tolist():
        generation += 1
        assert barcode(shown(qtbot, reader, index, generation), info.rotation) == index
    for direction, start in ((1, GOP - 5), (-1, 3 * GOP + 5)):
        for step in range(GOP + 10):  # across a keyframe
            index = start + step * direction
            generation += 1
            assert barcode(shown(qtbot, reader, index, generation), info.rotation) == index
            reader.prefetch(index, direction)
            assert reader.cache_bytes() <= SMALL_CACHE
    assert reader.cache_frames() > 1


def test_the_newest_request_wins_and_requests_do_not_pile_up(qtbot, media, closing):
    info = probe(media("slow.mp4", width=960, height=540, frames=260, gop=250, texture=True))
    reader = closing(FrameReader(info, SMALL_CACHE))
    received, threads = [], set()

    def on_frame(index: int, image: QImage, generation: int) -> None:
        threads.add(threading.current_thread())
        received.append((index, generation, barcode(image, 0)))

    reader.frame_ready.connect(on_frame)
    reader.request(240, 0)  # a long decode from the keyframe at 0
    qtbot.waitUntil(lambda: reader._worker.frames.decoded > 0, timeout=20_000)
    for generation in range(1, 11):  # while it runs, the user scrubs on
        reader.request(generation * 3, generation)
    qtbot.waitUntil(lambda: len(received) == 2, timeout=20_000)
    qtbot.wait(300)  # and nothing else arrives
    assert received == [(240, 0, 240), (30, 10, 30)]
    assert threads == {threading.main_thread()}  # a plain function, yet called in the GUI thread


def test_damage_is_reported_by_signal_and_the_reader_keeps_working(qtbot, media, closing, tmp_path):
    source = media("damaged.mp4", frames=150, gop=GOP, faststart=True)
    info = probe(source)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(source.read_bytes()[: source.stat().st_size // 2])  # the index still names every frame
    reader = closing(FrameReader(dataclasses.replace(info, path=cut), SMALL_CACHE))
    with qtbot.waitSignal(reader.failed, timeout=20_000) as blocker:
        reader.request(140, 1)
    index, message, generation = blocker.args
    assert (index, generation) == (140, 1)
    assert "cannot be decoded" in message and "\n" not in message
    with qtbot.waitSignal(reader.failed, timeout=20_000) as blocker:
        reader.request(info.frame_count, 2)
    assert "outside the video" in blocker.args[1]
    assert barcode(shown(qtbot, reader, 5, 3), 0) == 5


def test_close_stops_a_long_decode_at_once(qtbot, media):
    info = probe(media("slow.mp4", width=960, height=540, frames=260, gop=250, texture=True))
    reader = FrameReader(info, SMALL_CACHE)
    reader.request(240, 0)  # 240 frames to decode from the keyframe at 0
    qtbot.waitUntil(lambda: reader._worker.frames.decoded > 0, timeout=20_000)
    reader.close()
    assert reader._worker.frames.decoded < 200


def test_the_first_picture_of_a_seek_costs_one_frame_of_decoding(media, closing):
    """The keyframe comes from a decoder of its own, before the main (frame-threaded, reordering)
    decoder has put out anything; a seek onto a keyframe is served by it alone."""
    info = probe(media("preview.mp4", width=640, height=360, frames=260, gop=250, texture=True))
    frames = closing(ExactFrames(info, SMALL_CACHE))
    previews = []
    image = frames.frame(
        200, preview=lambda i, picture: previews.append((i, barcode(picture, 0), frames.decoded))
    )
    assert previews == [(0, 0, 0)] and barcode(image, 0) == 200  # shown before the main decoder's first
    far = closing(ExactFrames(info, SMALL_CACHE))
    keyframe = far.frame(250, preview=lambda *_: pytest.fail("the exact frame needs no preview"))
    assert barcode(keyframe, 0) == 250 and far.decoded == 0
    assert barcode(far.frame(251), 0) == 251 and barcode(far.frame(250), 0) == 250  # decoding goes on


def test_a_far_frame_shows_its_keyframe_first_then_the_exact_frame(qtbot, media, closing):
    info = probe(media("preview.mp4", width=640, height=360, frames=260, gop=250, texture=True))
    reader = closing(FrameReader(info, SMALL_CACHE))
    arrived = []
    reader.preview_ready.connect(lambda i, image, g: arrived.append(("preview", i, g, barcode(image, 0))))
    reader.frame_ready.connect(lambda i, image, g: arrived.append(("exact", i, g, barcode(image, 0))))
    reader.request(200, 1)  # 200 frames past the keyframe it has to start from
    qtbot.waitUntil(lambda: any(kind == "exact" for kind, *_ in arrived), timeout=20_000)
    assert arrived == [("preview", 0, 1, 0), ("exact", 200, 1, 200)]  # each picture is what it says
    arrived.clear()
    reader.request(201, 2)  # one frame on: decoded on, no seek, no preview
    qtbot.waitUntil(lambda: bool(arrived), timeout=20_000)
    assert arrived == [("exact", 201, 2, 201)]
