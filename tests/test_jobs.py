"""The job contract: progress records, partial results, one way to cancel, sub-steps mapped onto stages."""

from __future__ import annotations

import threading

import pytest

from engine.jobs import Cancelled, Job, Progress


def test_progress_reaches_the_sink_then_a_cancel_stops_at_that_step() -> None:
    seen: list[Progress] = []
    job = Job(on_progress=seen.append)
    job.progress("scan", 1, 4, "window 1")
    job.cancel()
    with pytest.raises(Cancelled):
        job.progress("scan", 2, 4)
    assert [(p.stage, p.done, p.total, p.message) for p in seen] == [
        ("scan", 1, 4, "window 1"),
        ("scan", 2, 4, ""),
    ]
    with pytest.raises(Cancelled):
        job.check()


def test_a_cancel_from_another_thread_is_seen_by_the_next_check() -> None:
    job = Job()
    job.check()
    thread = threading.Thread(target=job.cancel)
    thread.start()
    thread.join()
    assert job.cancelled and job.event.is_set()
    with pytest.raises(Cancelled):
        job.check()


def test_fraction_and_the_plain_form_round_trip() -> None:
    p = Progress("track", 3, 12, "at 00:00:01.000", 1.0)
    assert p.fraction == 0.25 and Progress.from_dict(p.to_dict()) == p
    assert Progress("download", 5, None).fraction is None
    assert Progress("export", 14, 12).fraction == 1.0  # never past the end
    assert Progress.from_dict({"stage": "load", "done": 0, "total": None}) == Progress("load", 0, None)


def test_within_maps_a_sub_step_onto_the_callers_stage_and_shares_cancel_and_partials() -> None:
    seen: list[Progress] = []
    pieces: list[tuple[str, dict]] = []
    parent = Job(on_progress=seen.append, on_partial=lambda k, d: pieces.append((k, d)))
    clip = parent.within("export", 25, 75, "clip 2 of 3")
    clip.progress("export", 1, 25, "ignored: the caller names it")
    clip.partial("text", {"text": "a"})
    assert seen == [Progress("export", 26, 75, "clip 2 of 3")]
    assert pieces == [("text", {"text": "a"})]
    silent = parent.within("answer", 0, 10, partials=False)
    silent.partial("text", {"text": "b"})
    silent.progress("answer", 2, 10)
    assert len(pieces) == 1 and seen[-1] == Progress("answer", 2, 10)
    parent.cancel()
    with pytest.raises(Cancelled):
        clip.check()


def test_quiet_reports_nothing_but_stops_with_its_caller() -> None:
    seen: list[Progress] = []
    parent = Job(on_progress=seen.append, on_partial=lambda k, d: seen.append(k))
    quiet = parent.quiet()
    quiet.progress("encode", 1, 2)
    quiet.partial("curve", {})
    assert seen == []
    parent.cancel()
    with pytest.raises(Cancelled):
        quiet.progress("encode", 2, 2)
