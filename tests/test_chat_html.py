"""The chat transcript's rich text and saved turns, without a window: times become the right links, the
model's text is escaped, a strip collapses to two rows, a turn still streaming is saved as cancelled."""

from __future__ import annotations

import pytest

from app.chat_html import Layout, answer_text_html, short_time, transcript_html
from app.chat_turn import ChatTurn, Scope
from tests.test_session import ANSWER

LAYOUT = Layout(duration_s=60.0, thumb_width=72, thumb_height=54, columns=3)


def test_times_in_an_answer_become_seek_links_and_spans_get_their_actions() -> None:
    text = "At 0:02 <b>a boat</b>; it moors from 3 to 4.5 seconds. Frame 2 shows it."
    out = answer_text_html(text, 60.0, [0.12, 0.36], turn=4)
    assert '<a href="seek:2.000">0:02</a>' in out
    assert 'moors from <a href="seek:3.000">3 to 4.5 seconds</a>' in out
    assert 'href="moment:3.000:4.500:4"' in out and 'href="closer:3.000:4.500:4"' in out
    assert '<a href="seek:0.360">Frame 2</a>' in out, "frame k is the answer's k-th frame"
    assert "&lt;b&gt;a boat&lt;/b&gt;" in out and "<b>" not in out, "the model's text is text, not markup"
    assert out.count("moment:") == 1, "a lone time is no span"


def test_the_strip_shows_two_rows_until_asked_for_all_frames() -> None:
    frames = [{"index": 10 * i, "time_s": float(i)} for i in range(10)]
    turn = ChatTurn("Who?", text="Nobody.", state="done", answer={**ANSWER, "frames": frames})
    collapsed = transcript_html([turn], LAYOUT)
    assert [f'src="frame:{10 * i}"' in collapsed for i in range(10)] == [True] * 6 + [False] * 4
    assert "all 10 frames" in collapsed and 'href="frames:0"' in collapsed
    expanded = transcript_html([turn], Layout(60.0, 72, 54, 3, expanded=frozenset({0})))
    assert all(f'src="frame:{10 * i}"' in expanded for i in range(10)) and "fewer frames" in expanded
    assert '<a href="seek:9.000000"><img src="frame:90"' in expanded
    assert "10 frames · 1 vision pass · first token 0.50 s" in expanded


@pytest.mark.parametrize(
    "seconds, text", [(0.0, "0:00.0"), (83.44, "1:23.4"), (3723.56, "1:02:03.6"), (59.96, "1:00.0")]
)
def test_short_times(seconds, text) -> None:
    assert short_time(seconds) == text


def test_the_strip_labels_frames_closer_than_a_tenth_apart_with_more_digits() -> None:
    """A short clip sampled densely: 20 frames a second would read 0:00.0, 0:00.0, 0:00.1 in tenths."""
    frames = [{"index": i, "time_s": i * 0.05} for i in range(4)]
    turn = ChatTurn("Who?", text="Nobody.", state="done", answer={**ANSWER, "frames": frames})
    dense = transcript_html([turn], LAYOUT)
    assert all(f">0:00.{5 * i:02d}</span>" in dense for i in range(4))
    frames = [{"index": i, "time_s": float(i)} for i in range(4)]
    sparse = transcript_html(
        [ChatTurn("Who?", text=".", state="done", answer={**ANSWER, "frames": frames})], LAYOUT
    )
    assert all(f">0:0{i}.0</span>" in sparse for i in range(4))


def test_a_turn_still_streaming_is_saved_as_cancelled_and_read_back() -> None:
    turn = ChatTurn("What now?", scope=Scope("view", 2.0, 9.5), text="A boat", conversation_start=False)
    saved = turn.to_dict()
    assert saved["state"] == "cancelled"
    back = ChatTurn.from_dict(saved)
    assert (back.text, back.state, back.scope, back.conversation_start) == (
        "A boat",
        "cancelled",
        turn.scope,
        False,
    )
    assert "cancelled" in transcript_html([back], LAYOUT) and "(visible part)" in transcript_html(
        [back], LAYOUT
    )
