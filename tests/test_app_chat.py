"""The Chat page on the real window, offscreen, with the real worker and the tiny InternVideo model.

The tiny model writes noise, so these tests check plumbing and data: the answer grows piece by piece in
the transcript, the frame strip shows exactly the frames the engine reported (read back from the
thumbnails' barcodes), a follow-up and a new conversation run no vision pass, cancelling keeps the
partial answer, links seek and propose moments (a staged answer, through the session file, supplies the
times), and a reopened session shows the chat without a single request to the worker.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace

import pytest
from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QImage, QTextCursor, QTextDocument
from PySide6.QtTest import QTest

from app.chat_turn import ChatTurn
from app.main_window import MainWindow
from app.session import load_session, open_video_session, save_session
from tests import test_app
from tests.fixtures import internvideo_fixture
from tests.heartbeat import Heartbeat
from tests.qt_images import barcode_of
from tests.test_app import on_screen, open_and_wait, shown_ready

FRAMES = 8  # the frame budget of these tests: two HiCo groups, fast on the CPU
WIDTH, HEIGHT = 320, 240  # barcode blocks of 16 px: still readable once a thumbnail is scaled back up


@pytest.fixture(scope="module")
def checkpoint():
    return str(internvideo_fixture() / "checkpoint")


store, window_env = test_app.store, test_app.window_env  # the window tests' fixtures, shared


@pytest.fixture
def chat_env(window_env, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the worker's torch leaves the window a core (as test_worker)


@pytest.fixture
def make_window(qtbot, store, chat_env, data_dir, checkpoint):
    made = []

    def make(model: str | None = None) -> MainWindow:
        overrides = argparse.Namespace(device="cpu", model=model or checkpoint, precision="fp32")
        window = MainWindow(overrides, store)
        window.settings = replace(window.settings, frame_budget=FRAMES)
        window.chat.max_new_tokens = 24
        shown_ready(qtbot, window)
        made.append(window)
        return window

    yield make
    for window in made:
        if window.isVisible():  # a test may have closed it already (to reopen its session)
            window.close()


@pytest.fixture(scope="module")
def clip(media):
    return media("chat clip.mp4", frames=60, fps=10, width=WIDTH, height=HEIGHT, gop=10)


def ask(qtbot, window, question: str, timeout: int = 60_000) -> ChatTurn:
    """Type a question and press Enter; returns its turn once it ended."""
    panel = window.chat_panel
    QTest.keyClick(window, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    assert panel.question.hasFocus()
    QTest.keyClicks(panel.question, question)
    QTest.keyClick(panel.question, Qt.Key.Key_Return)
    assert window.chat.busy, "Enter asks"
    qtbot.waitUntil(lambda: not window.chat.busy, timeout=timeout)
    return window.chat.turns[-1]


def requests_of(window, kind: str) -> list[dict]:
    """Record the worker requests of one kind the window sends from now on."""
    sent: list[dict] = []
    original = window.worker.request

    def request(what, **fields):
        if what == kind:
            sent.append(fields)
        return original(what, **fields)

    window.worker.request = request
    return sent


def thumbnail_of(window, index: int) -> QImage:
    """The picture the transcript shows for frame `index` (what its strip's <img> loads; a plain box
    while it is decoded)."""
    kind = QTextDocument.ResourceType.ImageResource.value
    return window.chat_panel.transcript.loadResource(kind, QUrl(f"frame:{index}"))


def strip_barcodes(qtbot, window, turn: ChatTurn) -> list[int]:
    """The frame numbers the thumbnails of an answer show, read from their pixels."""
    indices = [index for index, _ in turn.frames]
    pending = window.chat_panel.transcript.pending
    qtbot.waitUntil(lambda: all(thumbnail_of(window, i) is not pending for i in indices), timeout=20_000)
    html = window.chat_panel.transcript.toHtml()
    assert all(f'src="frame:{i}"' in html for i in indices)
    return [barcode_of(thumbnail_of(window, i).scaled(WIDTH, HEIGHT)) for i in indices]


def click_text(qtbot, window, text: str) -> None:
    """A real mouse click on `text` in the transcript (the first place it is written)."""
    browser = window.chat_panel.transcript
    found = browser.document().find(text)
    assert not found.isNull(), f"{text!r} is not in the transcript"
    middle = QTextCursor(found)
    middle.setPosition((found.selectionStart() + found.selectionEnd()) // 2)
    browser.setTextCursor(middle)
    browser.ensureCursorVisible()
    rect = browser.cursorRect(middle)
    QTest.mouseClick(browser.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_an_answer_streams_in_pieces_and_its_strip_shows_the_frames_the_engine_reported(
    qtbot, make_window, clip
) -> None:
    window = make_window()
    window.chat.max_new_tokens = 160  # long enough to span several of the transcript's 40 ms renders
    open_and_wait(qtbot, window, clip)
    panel, pieces, lengths = window.chat_panel, [], []
    sent = requests_of(window, "ask")
    QTest.keyClick(window, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClicks(panel.question, "What happens in the video?")
    QTest.keyClick(panel.question, Qt.Key.Key_Return)
    window.chat.call.partial.connect(lambda kind, data: pieces.append(data["text"]))  # before any arrives
    panel._render_timer.timeout.connect(lambda: lengths.append(len(panel.transcript.toPlainText())))
    qtbot.waitUntil(lambda: not window.chat.busy, timeout=60_000)
    turn = window.chat.turns[-1]
    assert turn.state == "done" and len(pieces) >= 3, len(pieces)
    assert turn.text == turn.answer["answer"] and turn.text.strip()
    assert len(set(lengths)) >= 3, ("the transcript grew as the pieces came", len(pieces), lengths)
    assert sent[0]["sampling"] == {"mode": "frames", "value": FRAMES} and "conversation" not in sent[0]
    # the strip: exactly the engine's frames, each thumbnail the frame it says it is
    reported = [f["index"] for f in turn.answer["frames"]]
    assert len(reported) == FRAMES
    assert strip_barcodes(qtbot, window, turn) == reported
    blank = thumbnail_of(window, 10**6)  # not decoded: a plain box, not Qt's "broken image" icon
    assert blank is panel.transcript.pending and blank.pixelColor(0, 0).name() == "#34373d"
    assert "8 frames · 1 vision pass · first token" in window.chat_panel.transcript.toPlainText()
    # clicking a thumbnail seeks the player to that frame
    fifth_index, fifth_time = turn.frames[4]
    window.chat_panel.transcript.anchorClicked.emit(QUrl(f"seek:{fifth_time:.6f}"))
    on_screen(qtbot, window, fifth_index)


def test_ask_is_disabled_until_a_video_is_open_and_says_why(qtbot, make_window, clip) -> None:
    window = make_window()
    panel, sent = window.chat_panel, requests_of(window, "ask")
    assert not panel.ask_button.isEnabled() and "Open a video first" in panel.ask_button.toolTip()
    QTest.keyClick(window, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClicks(panel.question, "Who is there?")
    QTest.keyClick(panel.question, Qt.Key.Key_Return)  # Enter in the box explains it too
    assert sent == [] and "Open a video first" in panel.note.text() and panel.note.isVisibleTo(panel)
    open_and_wait(qtbot, window, clip)
    assert panel.ask_button.isEnabled() and panel.ask_button.toolTip() == "Ask (Enter)"
    QTest.keyClick(panel.question, Qt.Key.Key_Return)  # the question typed before is asked now
    assert window.chat.busy and len(sent) == 1 and panel.ask_button.isEnabled()  # Stop
    assert panel.ask_button.text() == "Stop"
    window.chat.cancel()
    qtbot.waitUntil(lambda: not window.chat.busy, timeout=60_000)
    assert panel.ask_button.isEnabled() and panel.ask_button.text() == "Ask"


def test_a_follow_up_and_a_new_conversation_run_no_vision_pass(qtbot, make_window, clip) -> None:
    window = make_window()
    open_and_wait(qtbot, window, clip)
    sent = requests_of(window, "ask")
    first = ask(qtbot, window, "Who is there?")
    follow = ask(qtbot, window, "And then?")
    assert first.answer["cache"]["vision_passes"] in (0, 1)  # 0 when an earlier test filled the disk cache
    assert "conversation" in sent[1] and "video" not in sent[1], "the follow-up continues the conversation"
    assert not follow.conversation_start and follow.answer["cache"]["vision_passes"] == 0
    assert follow.answer["tokens"]["reused"] > 0, "only the new turn was prefilled"
    assert "0 vision passes" in window.chat_panel.transcript.toPlainText()
    QTest.keyClick(
        window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    )
    again = ask(qtbot, window, "Who is there?")
    assert "conversation" not in sent[2] and sent[2]["video"] == window.video_handle
    assert again.conversation_start and again.answer["cache"]["vision_passes"] == 0
    assert again.answer["cache"]["source"] == "memory", "the video's tokens were kept, not encoded again"
    assert "new conversation" in window.chat_panel.transcript.toPlainText()


def test_cancel_while_answering_keeps_the_partial_answer_marked_and_the_window_usable(
    qtbot, make_window, clip
) -> None:
    window = make_window()
    window.chat.max_new_tokens = 4000
    open_and_wait(qtbot, window, clip)
    panel = window.chat_panel
    QTest.keyClick(window, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClicks(panel.question, "Describe everything.")
    QTest.keyClick(panel.question, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: len(window.chat.turns[-1].text) > 0, timeout=60_000)
    QTest.keyClick(panel.question, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not window.chat.busy, timeout=20_000)
    turn = window.chat.turns[-1]
    assert turn.state == "cancelled" and turn.text and turn.answer is None
    assert turn.text[:5] in panel.transcript.toPlainText() and "cancelled" in panel.transcript.toPlainText()
    assert not window.actions["cancel_answer"].isEnabled() and panel.ask_button.text() == "Ask"
    QTest.keyClick(window, Qt.Key.Key_Period)  # the player still steps
    on_screen(qtbot, window, 1)
    window.chat.max_new_tokens = 8
    assert ask(qtbot, window, "Anything else?").state == "done"  # and the chat still answers


def test_the_scopes_ask_about_the_selected_span_and_the_visible_part(qtbot, make_window, clip) -> None:
    window = make_window()
    open_and_wait(qtbot, window, clip)
    panel, chat = window.chat_panel, window.chat
    sent = requests_of(window, "ask")
    panel.scope.setCurrentIndex(panel.scope.findData("span"))
    panel.question.setPlainText("Who is there?")
    panel.ask()
    assert not sent and "Select a span" in panel.note.text(), "no span selected: nothing is asked"
    chat.set_selected_span(1.0, 2.0)
    turn = ask(qtbot, window, "Who is there?")
    assert sent[-1]["sampling"] == {"mode": "frames", "value": FRAMES, "start_s": 1.0, "end_s": 2.0}
    assert all(1.0 <= t < 2.0 for _, t in turn.frames) and "(selected span)" in panel.transcript.toPlainText()
    window.timeline.set_view_range(3.0, 5.0)
    panel.scope.setCurrentIndex(panel.scope.findData("view"))
    turn = ask(qtbot, window, "And here?")
    assert (sent[-1]["sampling"]["start_s"], sent[-1]["sampling"]["end_s"]) == pytest.approx((3.0, 5.0))
    assert turn.conversation_start, "another stretch of the video: another conversation"
    assert all(3.0 <= t < 5.0 for _, t in turn.frames)


STAGED = "A boat comes in at 0:02. It moors from 3 to 4.5 seconds, and frame 2 shows the quay."


def staged_session(clip, answer: dict) -> None:
    """The clip's session with one answer whose text names times (the tiny model's text is noise)."""
    session, path = open_video_session(clip)
    staged = {**answer, "answer": STAGED}
    session.chat = [ChatTurn("Where is the boat?", text=STAGED, state="done", answer=staged).to_dict()]
    save_session(session, path)


def test_a_reopened_session_shows_the_chat_without_the_model_and_its_links_seek_and_propose(
    qtbot, make_window, clip
) -> None:
    window = make_window()
    open_and_wait(qtbot, window, clip)
    answered = ask(qtbot, window, "Where is the boat?")
    window.close()
    saved = load_session(open_video_session(clip)[1]).chat
    assert [t["question"] for t in saved] == ["Where is the boat?"] and saved[0]["answer"] == answered.answer

    staged_session(clip, answered.answer)
    window = make_window()
    sent = requests_of(window, "ask")
    open_and_wait(qtbot, window, clip)
    turn = window.chat.turns[0]
    assert window.chat.asks == 0 and sent == [], "the chat came from the session, not the model"
    assert turn.text == STAGED and STAGED[:20] in window.chat_panel.transcript.toPlainText()
    assert strip_barcodes(qtbot, window, turn) == [f["index"] for f in answered.answer["frames"]]
    # a time link seeks: a real click on "0:02"
    click_text(qtbot, window, "0:02")
    on_screen(qtbot, window, window.info.frames.index_at(2.0))
    # "frame 2" is the answer's second sampled frame
    click_text(qtbot, window, "frame 2")
    on_screen(qtbot, window, turn.frames[1][0])
    # a span's "+ moment" proposes it, and it becomes a moment on the Moments lane
    with qtbot.waitSignal(window.chat.moment_proposed) as proposed:
        click_text(qtbot, window, "moment")
    span = proposed.args[0]
    assert (span.start_s, span.end_s, span.query) == (3.0, 4.5, "Where is the boat?")
    assert [(m.span.start_s, m.span.end_s) for m in window.moments.moments] == [(3.0, 4.5)]
    # "look closer" asks the same question about the span only
    click_text(qtbot, window, "look closer")
    assert window.chat.busy
    qtbot.waitUntil(lambda: not window.chat.busy, timeout=60_000)
    closer = window.chat.turns[-1]
    assert sent[-1]["sampling"] == {"mode": "frames", "value": FRAMES, "start_s": 3.0, "end_s": 4.5}
    assert closer.question == "Where is the boat?" and all(3.0 <= t < 4.5 for _, t in closer.frames)
    gaps = [b - a for (_, a), (_, b) in zip(closer.frames, closer.frames[1:], strict=False)]
    assert max(gaps) < min(b - a for (_, a), (_, b) in zip(turn.frames, turn.frames[1:], strict=False))


def test_a_missing_model_shows_the_message_and_a_setup_button(qtbot, make_window, clip, tmp_path) -> None:
    empty = tmp_path / "no model here"
    empty.mkdir()
    (empty / "config.json").write_text(json.dumps({"architectures": ["nothing"]}))
    window = make_window(model=str(empty))
    open_and_wait(qtbot, window, clip)
    turn = ask(qtbot, window, "Who is there?")
    panel = window.chat_panel
    assert turn.state == "failed" and turn.error["code"] == "model_error"
    shown = [line for line in panel.transcript.toPlainText().splitlines() if turn.error["message"] in line]
    assert len(shown) == 1, "the message, in one line"
    assert panel.note.isVisible() and panel.setup_button.isVisible()
    with qtbot.waitSignal(window.chat.model_setup_requested) as setup:
        panel.setup_button.click()
    assert setup.args == ["internvideo"]


def test_the_event_loop_never_stalls_while_an_answer_streams_during_playback(
    qtbot, make_window, media
) -> None:
    window = make_window()
    window.chat.max_new_tokens = 200
    open_and_wait(qtbot, window, media("chat busy.mp4", frames=300, fps=30, width=640, height=360))
    panel = window.chat_panel
    panel.question.setPlainText("What happens?")  # typed before: QTest's key clicks hold the loop themselves
    panel.question.setFocus()
    window.player.play()
    beat = Heartbeat()
    beat.start()
    QTest.keyClick(panel.question, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not window.chat.busy, timeout=60_000)
    beat.stop()
    window.player.pause()
    turn = window.chat.turns[-1]
    assert turn.state == "done" and len(turn.text) > 0 and window.player.index > 30, "it played meanwhile"
    assert beat.held(50), beat.report()


def test_after_an_engine_restart_the_next_question_starts_a_new_conversation(
    qtbot, make_window, clip
) -> None:
    import os
    import signal

    window = make_window()
    open_and_wait(qtbot, window, clip)
    ask(qtbot, window, "Who is there?")
    sent = requests_of(window, "ask")
    os.kill(window.worker.pid, signal.SIGKILL)
    qtbot.waitUntil(lambda: window.banner.isVisible(), timeout=10_000)
    with qtbot.waitSignal(window.video_opened, timeout=30_000):
        window.banner.button("Restart engine").click()
    assert [t.question for t in window.chat.turns] == ["Who is there?"], "the chat is still shown"
    turn = ask(qtbot, window, "And then?")
    assert "conversation" not in sent[0] and sent[0]["video"] == window.video_handle
    assert turn.state == "done" and turn.conversation_start, "the old conversation died with the engine"
    # the status bar's Cancel stops an answer too
    window.chat.max_new_tokens = 4000
    window.chat_panel.question.setPlainText("Describe everything.")
    window.chat_panel.ask()
    qtbot.waitUntil(lambda: len(window.chat.turns[-1].text) > 0, timeout=60_000)
    assert window.engine_status.cancel.isVisible() and "Answering" in window.engine_status.job.text()
    window.engine_status.cancel.click()
    qtbot.waitUntil(lambda: not window.chat.busy, timeout=20_000)
    assert window.chat.turns[-1].state == "cancelled"
