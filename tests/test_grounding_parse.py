"""The answer parser on a broad table of what video LLMs actually write."""

from __future__ import annotations

import pytest

from engine.grounding.parse import parse_time_spans

DURATION = 7200.0
FRAMES = [0.5 * k for k in range(1, 33)]  # sampled frame k (1-based) is at k/2 seconds

CASES = [
    # plain ranges, with and without units, typos included
    ("The event happens in 12.3 - 20.1 seconds.", [(12.3, 20.1)]),
    ("The event 'person turn a light on' happens in the 24.3 - 30.4 seonds.", [(24.3, 30.4)]),
    ("12.3-20.1s", [(12.3, 20.1)]),
    ("It happens between 10 and 20 seconds.", [(10.0, 20.0)]),
    ("from 12 seconds to 19.5 seconds", [(12.0, 19.5)]),
    ("from 1 to 2 minutes", [(60.0, 120.0)]),
    ("1.5 min - 2 min", [(90.0, 120.0)]),
    ("between 0.5 and 1.25 hours", [(1800.0, 4500.0)]),
    ("90s–120s", [(90.0, 120.0)]),
    ("45 — 50 sec", [(45.0, 50.0)]),
    ("~30 to ~35 seconds", [(30.0, 35.0)]),
    # clock times
    ("from 0:45 to 1:10", [(45.0, 70.0)]),
    ("from 0:45 to 1:10, and again 2:05-2:30", [(45.0, 70.0), (125.0, 150.0)]),
    ("The van stops at the gate from 1:02:10 to 1:02:45.", [(3730.0, 3765.0)]),
    ("From 00:10 to 00:15.5 and from 00:40 to 00:45.", [(10.0, 15.5), (40.0, 45.0)]),
    ("01:00:00.250 --> 01:00:03.000", [(3600.25, 3603.0)]),
    ("1:10 - 85", [(70.0, 85.0)]),
    ("0:59 - 1:00", [(59.0, 60.0)]),
    # clock times with a field out of range are no times; a valid other end still names a moment
    ("from 1:99 to 2:30", [(150.0, 150.0)]),
    ("at 0:75", []),
    ("It happens at 0:60.", []),
    ("from 0:45 to 0:60", [(45.0, 45.0)]),
    ("It starts at 01:02:75.", []),
    ("00:61:00 - 00:62:00", []),
    ("from 1:02:10 to 1:75:00", [(3730.0, 3730.0)]),
    # compound units
    ("1m30s to 2m", [(90.0, 120.0)]),
    ("from 1 minute 30 seconds to 2 minutes 5 seconds", [(90.0, 125.0)]),
    ("1h2m3s - 1h2m9s", [(3723.0, 3729.0)]),
    # moments
    ("It starts at 01:02:03.5.", [(3723.5, 3723.5)]),
    ("around 1 minute 30 seconds", [(90.0, 90.0)]),
    ("at 12 s and again at 40 s", [(12.0, 12.0), (40.0, 40.0)]),
    ("The car appears at 42.", [(42.0, 42.0)]),
    ("Timestamp: 17.25", [(17.25, 17.25)]),
    # start / end said separately
    ("starts at 12.5s ends at 18s", [(12.5, 18.0)]),
    ("The action starts at 12.5 seconds and ends at 18 seconds.", [(12.5, 18.0)]),
    ("Start time: 34.5, end time: 40.2", [(34.5, 40.2)]),
    ("It begins around 0:20 and finishes by 0:31.", [(20.0, 31.0)]),
    # open ends
    ("from 12 s until the end", [(12.0, DURATION)]),
    ("from the beginning to 0:30", [(0.0, 30.0)]),
    ("from the start of the video through 45 seconds", [(0.0, 45.0)]),
    # frames of the prompt
    ("between frame 3 and frame 5", [(1.5, 2.5)]),
    ("frames 3-5", [(1.5, 2.5)]),
    ("Frame12 to Frame14", [(6.0, 7.0)]),
    ("frame 99", []),  # no such sampled frame
    # reversed and out of range
    ("20.1 - 12.3 seconds", [(12.3, 20.1)]),
    ("from 7100 to 7300 seconds", [(7100.0, DURATION)]),
    ("5000 - 6000 minutes", []),
    ("-5 to 10 seconds", [(5.0, 10.0)]),  # a dash is a range sign, never a minus
    # several spans, duplicates dropped
    ("12 - 20 s; also 12 - 20 s, then 30 - 31 s", [(12.0, 20.0), (30.0, 31.0)]),
    # nothing to read
    ("There are 2 people at the 3rd table.", []),
    ("I cannot find that in the video.", []),
    ("It happens at 50% of the video.", []),
    ("the bottom to top of the tomato", []),
    ("", []),
]


@pytest.mark.parametrize("text, expected", CASES)
def test_parse_table(text, expected):
    got = parse_time_spans(text, DURATION, frame_times_s=FRAMES)
    assert len(got) == len(expected), got
    for (start, end), (want_start, want_end) in zip(got, expected, strict=True):
        assert (start, end) == (pytest.approx(want_start), pytest.approx(want_end)), got


def test_frame_references_need_frame_times():
    assert parse_time_spans("frames 3-5", DURATION) == []


def test_spans_beyond_a_short_video_are_clamped_or_dropped():
    assert parse_time_spans("from 8 to 15 seconds", 10.0) == [(8.0, 10.0)]
    assert parse_time_spans("from 12 to 15 seconds", 10.0) == []


@pytest.mark.parametrize(
    "text, expected",
    [
        ("It starts at 1:23 and again at frame 2.", [("1:23", 83.0, 83.0), ("frame 2", 1.0, 1.0)]),
        (
            "Seen from 83 to 91 seconds, then 2:05-2:30.",
            [("83 to 91 seconds", 83.0, 91.0), ("2:05-2:30", 125.0, 150.0)],
        ),
        ("Between 10 and 12 s, a boat.", [("Between 10 and 12 s", 10.0, 12.0)]),
        (
            "From the beginning to 4 s, İİ at 5 s.",
            [("From the beginning to 4 s", 0.0, 4.0), ("5 s", 5.0, 5.0)],
        ),
        ("It starts at 12.5 s and ends at 18 s.", [("12.5 s and ends at 18 s", 12.5, 18.0)]),
        ("From 100 s to the end of the video.", [("100 s to the end of the video", 100.0, DURATION)]),
    ],
)  # fmt: skip
def test_time_mentions_say_where_each_time_is_written(text, expected):
    """The place of each mention in the original text (the chat panel turns exactly that into a link)."""
    from engine.grounding import time_mentions

    got = [(text[m.start : m.end], m.start_s, m.end_s) for m in time_mentions(text, DURATION, FRAMES)]
    assert got == [(t, pytest.approx(a), pytest.approx(b)) for t, a, b in expected]
