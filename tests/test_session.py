"""The `.scenescope` session file on real generated videos: round trips, refusals, atomic writes, the
session found again by content, relinking a moved video (and refusing another one)."""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import app.session as session_module
from app.chat_turn import ChatTurn
from app.moment import Moment
from app.relevance import Relevance
from app.relink_dialog import ask_relink
from app.session import (
    FORMAT,
    VERSION,
    Session,
    SessionError,
    VideoRef,
    ViewState,
    data_folder,
    load_session,
    open_video_session,
    relink,
    save_session,
    save_session_copy,
    video_problem,
)
from engine.cache import file_identity
from engine.spans import Span, spans_from_json

pytestmark = pytest.mark.usefixtures("data_dir")  # each test its own sessions and crash markers


@pytest.fixture
def video(media, tmp_path) -> Path:
    """A video of this test's own (tests rename, move and change it)."""
    path = tmp_path / "videos" / "harbour.mp4"
    path.parent.mkdir()
    shutil.copyfile(media("session_clip.mp4", frames=50), path)
    return path


ANSWER = {
    "answer": "A boat, at 0:01.",
    "frames": [{"index": 3, "time_s": 0.12}, {"index": 9, "time_s": 0.36}],
    "sampling": {"mode": "frames", "value": 4, "start_s": None, "end_s": None},
    "cache": {"hit": False, "source": "computed", "vision_passes": 1},
    "finish_reason": "stop",
    "tokens": {"prompt": 100, "reused": 0, "generated": 9, "per_s": 16.0},
    "timings_s": {"first_token_s": 0.5, "generate_s": 1.0},
}  # an engine Answer.to_dict(), as the worker sends it


def full_session(video: Path) -> Session:
    return Session(
        video=VideoRef.of(video),
        view=ViewState(position_s=1.24, start_s=0.5, end_s=1.5, zoom=2.0),
        chat=[ChatTurn("Who enters?", text="A boat, at 0:01.", state="done", answer=ANSWER).to_dict()],
        moments=[
            Moment(
                Span(0.2, 0.8, score=0.9, source="curve", label="a boat", query="boat"),
                "m1",
                "accepted",
                {"query": "boat", "model": "tiny@abc", "sampling": {"mode": "frames", "value": 16}},
            ),
            Moment(Span(1.0, 1.6), "m2"),
        ],
        relevance=Relevance(
            "boat", np.array([0.0, 0.4, 0.8]), np.array([0.8, 1.2, 1.6]), np.array([0.1, 0.9, 0.25])
        ),
        tracks={"boats": "tracks-boats.json"},
        settings={"frame_budget": 64},
    )


def test_a_session_round_trips_through_its_file(video, tmp_path):
    session, path = full_session(video), tmp_path / "a.scenescope"
    save_session(session, path)
    assert load_session(path) == session
    document = json.loads(path.read_text())
    assert (document["format"], document["version"]) == (FORMAT, VERSION)
    assert document["video"] == {
        "path": str(video.resolve()),
        "size": video.stat().st_size,
        "content_hash": file_identity(video),
    }
    assert document["moments"][0] == {
        **Span(0.2, 0.8, 0.9, "curve", "a boat", "boat").to_dict(),
        "id": "m1",
        "state": "accepted",
        "provenance": {"query": "boat", "model": "tiny@abc", "sampling": {"mode": "frames", "value": 16}},
    }
    assert spans_from_json(document["moments"]) == [m.span for m in session.moments]  # a spans file too


def test_each_moment_and_chat_turn_is_a_line_of_the_file(video, tmp_path):
    """A diff of two saves shows the moment that changed, and nothing else, as one line."""
    session, path = full_session(video), tmp_path / "lined.scenescope"
    save_session(session, path)
    before = path.read_text().splitlines()
    session.moments[0] = replace(session.moments[0], state="rejected")
    save_session(session, path)
    after = path.read_text().splitlines()
    changed = [(old, new) for old, new in zip(before, after, strict=True) if old != new]
    assert len(changed) == 1, changed
    assert json.loads(changed[0][1].rstrip(",")) == session.moments[0].to_dict()
    document = session.to_dict()
    turns = [line for line in after if line.strip().startswith('{"question"')]
    assert [json.loads(line.rstrip(",")) for line in turns] == document["chat"]
    assert '  "position_s": 1.24,' in after and after[0] == "{" and after[-1] == "}"


def test_the_relevance_curve_is_kept_as_three_rounded_arrays_of_a_line_each(video, tmp_path):
    """An hour scanned at a point per second: 3,600 windows in three lines of JSON, a few tens of kB."""
    session, path = full_session(video), tmp_path / "long.scenescope"
    starts = np.arange(3600) * 1.0001 + 1 / 3
    scores = np.random.default_rng(0).random(3600)
    session.relevance = Relevance("a white van", starts, starts + 4 / 3, scores)
    save_session(session, path)
    text = path.read_text()
    saved = json.loads(text)["relevance"]
    assert saved["query"] == "a white van" and saved["starts_s"][:2] == [0.333, 1.333]
    assert saved["ends_s"][0] == 1.667 and saved["scores"][0] == round(float(scores[0]), 3)
    assert len(text) < 100_000 and len(text.splitlines()) < 120, (len(text), len(text.splitlines()))
    again = load_session(path).relevance
    np.testing.assert_allclose(again.starts_s, starts, atol=5e-4)
    np.testing.assert_allclose(again.ends_s, starts + 4 / 3, atol=5e-4)
    np.testing.assert_allclose(again.scores, scores, atol=5e-4)


def test_a_session_without_a_relevance_curve_still_opens(video, tmp_path):
    path = tmp_path / "older.scenescope"
    document = full_session(video).to_dict()
    del document["relevance"]  # written before the curve was kept
    path.write_text(json.dumps(document))
    assert load_session(path).relevance is None
    document["relevance"] = None  # a session whose last search found no curve
    path.write_text(json.dumps(document))
    assert load_session(path).relevance is None


def test_moments_of_an_older_session_read_as_undecided_with_new_ids(video, tmp_path):
    path = tmp_path / "old.scenescope"
    document = full_session(video).to_dict()
    document["moments"] = [{"start_s": 0.2, "end_s": 0.8, "query": "boat"}, {"start_s": 1.0, "end_s": 1.6}]
    path.write_text(json.dumps(document))
    moments = load_session(path).moments
    assert [m.span for m in moments] == [Span(0.2, 0.8, query="boat"), Span(1.0, 1.6)]
    assert [m.state for m in moments] == ["undecided"] * 2 and [m.provenance for m in moments] == [{}, {}]
    assert len({m.id for m in moments}) == 2 and all(m.id for m in moments)


def test_keys_of_a_later_version_are_written_back(video, tmp_path):
    path = tmp_path / "later.scenescope"
    save_session(full_session(video), path)
    document = json.loads(path.read_text())
    document["bookmarks"] = [{"at_s": 1.0, "note": "look"}]
    document["video"]["codec"] = "h264"
    document["view"]["rate"] = 2.0
    path.write_text(json.dumps(document))
    session = load_session(path)
    session.view.position_s = 0.5
    save_session(session, path)
    again = json.loads(path.read_text())
    assert again["bookmarks"] == [{"at_s": 1.0, "note": "look"}]
    assert again["video"]["codec"] == "h264"
    assert again["view"]["rate"] == 2.0
    assert again["view"]["position_s"] == 0.5


def _document(video: Path, **changes) -> dict:
    document = full_session(video).to_dict()
    for dotted, value in changes.items():
        *parents, key = dotted.split("__")
        target = document
        for parent in parents:
            target = target[parent]
        target[key] = value
    return document


BAD = [
    ({"format": "something-else"}, "is not a Scenescope session"),
    ({"version": VERSION + 1}, f"made by a newer Scenescope (session version {VERSION + 1}"),
    ({"version": "1"}, "has no valid session version"),
    ({"video__size": -1}, "'video.size' must be a whole number of bytes"),
    ({"video__content_hash": "not hex!"}, "'video.content_hash' must be a hex digest"),
    ({"video__path": ""}, "'video.path' must be a non-empty string"),
    ({"view__position_s": "abc"}, "'view.position_s' must be a number, not 'abc'"),
    ({"view__position_s": -2}, "'view.position_s' must be 0 s or later"),
    ({"view__zoom": 0}, "'view.zoom' must be more than 0"),
    ({"view__start_s": 3.0}, "'view.start_s' and 'view.end_s' must both be null or start < end"),
    ({"view__end_s": None}, "'view.start_s' and 'view.end_s' must both be null or start < end"),
    ({"moments": [{"start_s": 2, "end_s": 1}]}, "moment 1: a span must end after it starts"),
    ({"moments": [{"start_s": 1, "end_s": 2, "state": "maybe"}]}, "moment 1: 'state' must be one of"),
    ({"moments": [{"start_s": 1, "end_s": 2, "id": 7}]}, "moment 1: 'id' must be a non-empty string"),
    ({"moments": [{"start_s": 1, "end_s": 2, "provenance": []}]}, "moment 1: 'provenance' must be an object"),
    (
        {"moments": [{"start_s": 1, "end_s": 2, "id": "a"}, {"start_s": 3, "end_s": 4, "id": "a"}]},
        "two moments have the same 'id'",
    ),
    (
        {"tracks": {"boats": "../elsewhere.json"}},
        "track 'boats' must name a file inside the session's data folder",
    ),
    ({"tracks": {"boats": "/etc/passwd"}}, "track 'boats' must name a file inside"),
    ({"chat": {"role": "user"}}, "'chat' must be a list, not dict"),
    ({"chat": ["hello"]}, "chat turn 1: 'turn' must be an object, not str"),
    ({"chat": [{"question": "", "state": "done"}]}, "chat turn 1: 'question' must be a non-empty string"),
    ({"chat": [{"question": "Who?", "state": "thinking"}]}, "chat turn 1: 'state' must be one of done"),
    (
        {
            "chat": [
                {"question": "Who?", "state": "done", "scope": {"kind": "span", "start_s": 3, "end_s": 1}}
            ]
        },
        "chat turn 1: 'scope.end_s' must be after 'scope.start_s'",
    ),
    (
        {"chat": [{"question": "Who?", "state": "done", "answer": {**ANSWER, "frames": [{"index": -1}]}}]},
        "chat turn 1: 'answer' is not an answer of the engine",
    ),
    (
        {
            "chat": [
                {
                    "question": "Who?",
                    "state": "done",
                    "answer": {**ANSWER, "frames": [{"index": 2, "time_s": -1}]},
                }
            ]
        },
        "chat turn 1: 'answer.frames[0].time_s' must be a time in seconds",
    ),
    ({"settings": []}, "'settings' must be an object, not list"),
    ({"relevance": [0.1, 0.2]}, "'relevance' must be an object or null, not list"),
    ({"relevance__query": ""}, "'relevance.query' must be a non-empty string"),
    ({"relevance__scores": "0.1 0.9 0.25"}, "'relevance.scores' must be a list of numbers, not str"),
    ({"relevance__starts_s": [0.0, "0.4", 0.8]}, "'relevance.starts_s' must hold only numbers, not '0.4'"),
    ({"relevance__ends_s": [0.8, True, 1.6]}, "'relevance.ends_s' must hold only numbers, not True"),
    ({"relevance__scores": [0.1, 0.9]}, "must have one number per window each, not 3, 3 and 2"),
    ({"relevance__ends_s": [0.8, 0.4, 1.6]}, "'relevance' window 2 must have 0 <= start < end"),
    ({"relevance__starts_s": [-1.0, 0.4, 0.8]}, "'relevance' window 1 must have 0 <= start < end"),
    ({"relevance__scores": [0.1, 1.5, 0.25]}, "'relevance.scores' must be 0 to 1, not 1.5"),
]


@pytest.mark.parametrize(("changes", "expected"), BAD, ids=[e[:40] for _, e in BAD])
def test_a_bad_session_is_refused_in_one_line_that_says_what_to_do(video, tmp_path, changes, expected):
    path = tmp_path / "bad.scenescope"
    path.write_text(json.dumps(_document(video, **changes)))
    with pytest.raises(SessionError) as error:
        load_session(path)
    message = str(error.value)
    assert expected in message
    assert str(path) in message and "\n" not in message
    assert any(
        fix in message for fix in ("fix it, or delete it", "open a .scenescope file", "update Scenescope")
    )


def test_a_damaged_or_missing_file_is_refused_with_its_name(tmp_path):
    damaged = tmp_path / "cut.scenescope"
    damaged.write_text('{"format": "scenescope-session", "version": 1, "vid')
    where = "Unterminated string starting at line 1, column 48"  # the quote before "vid"
    with pytest.raises(SessionError, match=rf"cut\.scenescope is damaged \(not JSON: {where}\): fix it"):
        load_session(damaged)
    for hostile in ("[" * 100_000, '{"format": ' + "9" * 5000 + "}"):  # past the parser's depth, digit limits
        damaged.write_text(hostile)
        with pytest.raises(SessionError, match=r"cut\.scenescope is damaged \(not a session's JSON: "):
            load_session(damaged)
    with pytest.raises(SessionError, match=r"gone\.scenescope does not exist"):
        load_session(tmp_path / "gone.scenescope")
    (tmp_path / "binary.scenescope").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(SessionError, match="not UTF-8 text"):
        load_session(tmp_path / "binary.scenescope")


def test_a_saved_session_has_the_permissions_of_a_plain_file(video, tmp_path):
    path = tmp_path / "s.scenescope"
    old_umask = os.umask(0o022)
    try:
        save_session(full_session(video), path)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # not mkstemp's 0600: a colleague may open it


def test_a_failed_save_leaves_the_file_as_it_was_and_no_temporary(video, tmp_path, monkeypatch):
    path = tmp_path / "s.scenescope"
    save_session(full_session(video), path)
    before = path.read_bytes()

    def disk_full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    changed = full_session(video)
    changed.view.position_s = 9.0
    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(
        SessionError, match=r"cannot save the session to .*s\.scenescope \(No space left on device\)"
    ):
        save_session(changed, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.scenescope", "videos"]


def test_a_video_finds_its_session_again_also_renamed_and_moved(video, tmp_path, data_dir):
    session, path = open_video_session(video)
    assert session.view == ViewState() and not path.exists()
    assert path.parent == data_dir / "sessions" and path.name == f"{file_identity(video)}.scenescope"
    session.view.position_s = 1.5
    session.moments.append(Moment(Span(0.4, 1.2, label="arrival"), "arrival"))
    save_session(session, path)

    moved = tmp_path / "archive" / "2024-06-01 harbour (copy).mp4"
    moved.parent.mkdir()
    video.rename(moved)
    again, again_path = open_video_session(moved)
    assert again_path == path
    assert again.view.position_s == 1.5 and again.moments == [
        Moment(Span(0.4, 1.2, label="arrival"), "arrival")
    ]
    assert again.video.path == moved.resolve()


def test_another_video_gets_a_session_of_its_own(video, media, tmp_path):
    session, path = open_video_session(video)
    session.view.position_s = 1.0
    save_session(session, path)
    other, other_path = open_video_session(media("session_other.mp4", frames=30))
    assert other_path != path and other.view.position_s == 0.0


def _same_size_other_content(video: Path, tmp_path: Path) -> Path:
    other = tmp_path / "other" / video.name
    other.parent.mkdir()
    data = bytearray(video.read_bytes())
    data[len(data) // 2] ^= 0xFF
    other.write_bytes(bytes(data))
    return other


def test_relink_takes_a_copy_with_the_same_content(video, tmp_path):
    session = full_session(video)
    copy = tmp_path / "found" / "renamed.mp4"
    copy.parent.mkdir()
    shutil.copyfile(video, copy)
    relinked = relink(session, copy)
    assert relinked.video.path == copy.resolve()
    assert replace(relinked, video=session.video) == session  # nothing else changed


def test_relink_refuses_other_content_naming_both_files(video, tmp_path):
    session = full_session(video)
    other = _same_size_other_content(video, tmp_path)
    with pytest.raises(SessionError) as error:
        relink(session, other)
    message = str(error.value)
    assert str(other) in message and str(video.resolve()) in message
    assert "its content differs" in message and "choose the original video" in message


def test_relink_refuses_another_size_without_reading_the_file(video, media, monkeypatch):
    session = full_session(video)

    def no_hashing(path):
        raise AssertionError(f"{path} was hashed")

    monkeypatch.setattr(session_module, "file_identity", no_hashing)
    other = media("session_other.mp4", frames=30)
    with pytest.raises(SessionError, match=rf"it has {other.stat().st_size:,} bytes, .*harbour\.mp4 had"):
        relink(session, other)


def test_video_problem_says_gone_or_changed(video, tmp_path):
    session = full_session(video)
    assert video_problem(session) is None
    video.write_bytes(_same_size_other_content(video, tmp_path).read_bytes())
    assert "no longer the video of this session" in video_problem(session)
    video.unlink()
    assert "is no longer there" in video_problem(session)


def test_ask_relink_asks_again_after_a_wrong_file_and_takes_the_right_one(qtbot, video, tmp_path):
    session = full_session(video)
    wrong = _same_size_other_content(video, tmp_path)
    right = tmp_path / "moved.mp4"
    video.rename(right)
    offered, refusals = [], []

    def choose(parent, caption, folder, name_filter):
        offered.append((caption, folder, name_filter))
        return str(wrong if len(offered) == 1 else right)

    relinked = ask_relink(
        None, session, choose=choose, refused=lambda parent, message: refusals.append(message)
    )
    assert relinked is not None and relinked.video.path == right.resolve()
    assert len(offered) == 2 and len(refusals) == 1
    assert str(wrong) in refusals[0]
    assert offered[0][0] == "Locate harbour.mp4" and offered[0][1] == str(video.parent)
    assert offered[0][2].startswith("MP4 videos (*.mp4)")
    assert offered[1][1] == str(wrong.parent)  # asked again where the user was looking

    cancelled = ask_relink(
        None, session, choose=lambda *args: "", refused=lambda *args: pytest.fail("refused")
    )
    assert cancelled is None


def test_ask_relink_uses_the_qt_file_dialog_by_default(qtbot, video, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    session = full_session(video)
    copy = tmp_path / "copy.mp4"
    shutil.copyfile(video, copy)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *args: (str(copy), args[3].split(";;")[0]))
    assert ask_relink(None, session).video.path == copy.resolve()


def test_save_as_copies_the_files_the_session_names(video, tmp_path):
    source = tmp_path / "work" / "harbour.scenescope"
    session = full_session(video)
    tracks = data_folder(source) / "tracks-boats.json"
    tracks.parent.mkdir(parents=True)
    tracks.write_text('{"objects": []}')
    save_session(session, source)
    target = tmp_path / "shared" / "for-review.scenescope"
    save_session_copy(session, source, target)
    assert data_folder(target) == tmp_path / "shared" / "for-review.scenescope.d"
    assert (data_folder(target) / "tracks-boats.json").read_text() == '{"objects": []}'
    assert load_session(target) == session
    save_session_copy(session, target, target)  # onto itself: just saved
    assert load_session(target) == session
