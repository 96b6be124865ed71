"""The player on real clips whose frames carry their index as a barcode: the frame painted is the frame
whose number is shown, after seeks, steps both ways and while playing, on CFR with B-frames and on VFR."""

from __future__ import annotations

import pytest

from app.frame_reader import FrameReader
from app.player import Player
from engine.video import probe
from tests.qt_images import barcode_of

VFR_DURATIONS = [0.04] * 20 + [0.02] * 20 + [0.1, 0.03, 0.07] * 10


@pytest.fixture(params=["cfr", "vfr"])
def clip(request, media):
    if request.param == "cfr":
        return probe(media("player cfr.mp4", frames=120, fps=25, gop=25, bframes=2))
    return probe(media("player vfr.mp4", frames=len(VFR_DURATIONS), durations_s=VFR_DURATIONS, gop=12))


@pytest.fixture
def player(qtbot, clip):
    player = Player()
    shown = []
    player.frame_shown.connect(lambda image, index: shown.append((index, barcode_of(image))))
    player.shown = shown
    with qtbot.waitSignal(player.position_changed, timeout=10_000):
        player.open(clip, FrameReader(clip))
    yield player
    player.close()


def wait_for(qtbot, player, index: int) -> None:
    qtbot.waitUntil(lambda: player.shown and player.shown[-1][0] == index, timeout=10_000)


def test_seeks_and_steps_show_the_frame_whose_number_is_reported(qtbot, player, clip) -> None:
    times = clip.frames.times_s
    for index in (37, 12, 61, 0, clip.frame_count - 1, 25):
        player.seek(
            float(times[index])
        )  # a frame's exact start: QMediaPlayer alone would show the one before
        wait_for(qtbot, player, index)
    for target in (26, 27, 28):
        player.step(1)
        wait_for(qtbot, player, target)
    for target in (27, 26, 25, 24, 23):
        player.step(-1)
        wait_for(qtbot, player, target)
    assert all(index == barcode for index, barcode in player.shown), player.shown


def test_playing_reports_each_frame_by_its_true_time(qtbot, player, clip) -> None:
    player.seek(float(clip.frames.times_s[5]))
    wait_for(qtbot, player, 5)
    before = len(player.shown)
    player.play()
    qtbot.waitUntil(lambda: len(player.shown) > before + 15, timeout=15_000)
    player.pause()
    played = player.shown[before:]
    assert all(index == barcode for index, barcode in played), played
    assert [i for i, _ in played] == sorted(i for i, _ in played)  # forwards, in order


def test_reverse_shuttle_goes_backwards_frame_by_frame(qtbot, player, clip) -> None:
    player.seek(float(clip.frames.times_s[40]))
    wait_for(qtbot, player, 40)
    player.shuttle(-1)
    assert player.state == "reverse"
    qtbot.waitUntil(lambda: player.shown[-1][0] <= 34, timeout=15_000)
    player.pause()
    shown = [i for i, _ in player.shown]
    backwards = shown[len(shown) - 1 - shown[::-1].index(40) :]  # from the last time 40 was on screen
    assert len(backwards) >= 3 and backwards == sorted(set(backwards), reverse=True), backwards
    assert all(index == barcode for index, barcode in player.shown)


def test_shuttle_speeds_and_rate_limits(qtbot, player) -> None:
    player.shuttle(1)
    assert (player.state, player.rate) == ("playing", 1.0)
    player.shuttle(1)
    player.shuttle(1)
    player.shuttle(1)
    assert player.rate == 4.0  # 1, 2, 4 and no further
    player.shuttle(-1)
    assert (player.state, player.rate) == ("reverse", 1.0)
    player.set_rate(100)
    assert player.rate == 8.0
    player.set_rate(0)
    assert player.rate == 0.1  # never 0 or negative: QMediaPlayer would run unthrottled
    player.pause()
