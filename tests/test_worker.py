"""The worker as the window uses it: a real `python -m engine.worker` subprocess with the tiny models.

Open a generated video, ask (text pieces before the result, a follow-up with no vision pass), ground
(stage progress and curve pieces, then spans), click-track (prompt, propagate with a masks event per
frame, refine, remove), export with progress; cancel each kind of job mid-way; kill -9 mid-job and
restart; hostile lines; stdout kept clean of anything but protocol lines.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from engine.jobs import Progress
from engine.tracking import FrameMask, decode_mask
from engine.video import Sampling, VideoInfo, probe, sample_frames
from engine.worker.client import WorkerError, WorkerExited, WorkerProcess
from tests.conftest import REPO_ROOT

SAMPLING = {"mode": "frames", "value": 16}
CLICK = {"points": [[80.0, 60.0], [20.0, 15.0]], "labels": [1, 0]}


@pytest.fixture(scope="module")
def video(media) -> Path:
    return media(
        "worker clip ü.mp4", frames=60, fps=20, width=160, height=120, gop=10, texture=True, audio=True
    )


@pytest.fixture(scope="module")
def worker_env(env: dict[str, str], tmp_path_factory) -> dict[str, str]:
    return {**env, "OMP_NUM_THREADS": "1", "SCENESCOPE_LOG_DIR": str(tmp_path_factory.mktemp("worker-log"))}


@pytest.fixture(scope="module")
def worker_args(leaning_model_dir: Path, sam2_folder: Path) -> list[str]:
    return [
        "--model",
        str(leaning_model_dir),
        "--sam-model",
        str(sam2_folder),
        "--device",
        "cpu",
        "--precision",
        "fp32",
    ]


@pytest.fixture(scope="module")
def worker(worker_args, worker_env, tmp_path_factory):
    stderr = (tmp_path_factory.mktemp("worker-stderr") / "stderr.txt").open("wb")
    with WorkerProcess(worker_args, env=worker_env, stderr=stderr) as w:
        assert w.call("hello")["protocol"] == 1
        yield w
        assert w.garbage == []  # stdout carried protocol lines only
    stderr.close()


@pytest.fixture(scope="module")
def opened(worker, video) -> tuple[str, VideoInfo]:
    result = worker.call("open_video", path=str(video))
    return result["video"], VideoInfo.from_dict(result["info"])


def by_kind(events: list[dict], kind: str) -> list[dict]:
    return [e for e in events if e["event"] == kind]


def test_hello_ping_and_status(worker) -> None:
    assert worker.next_event(worker.request("ping"))["event"] == "pong"
    status = worker.call("status")
    assert status["pid"] == worker.process.pid and status["rss_bytes"] > 10 << 20
    assert set(status["models"]) == {"internvideo", "sam2"}


def test_open_video_gives_the_true_frame_table(opened, video) -> None:
    _, info = opened
    truth = probe(video)
    assert info.frame_count == 60 and np.array_equal(info.frames.times_s, truth.frames.times_s)
    assert info.to_dict() == truth.to_dict()


def test_ask_streams_text_before_the_result_and_a_follow_up_runs_no_vision_pass(worker, opened) -> None:
    video, _ = opened
    events = list(
        worker.stream("ask", video=video, question="What happens?", sampling=SAMPLING, max_new_tokens=12)
    )
    kinds = [e["event"] for e in events]
    assert kinds[-1] == "result" and "partial" in kinds and kinds.index("partial") < len(kinds) - 1
    result = events[-1]["data"]
    text = "".join(e["data"]["text"] for e in by_kind(events, "partial"))
    assert text.strip() == result["answer"]["answer"] and result["answer"]["tokens"]["generated"] == 12
    stages = [e["stage"] for e in by_kind(events, "progress")]
    assert "encode" in stages and "answer" in stages and stages.index("encode") < stages.index("answer")

    follow = worker.call("ask", conversation=result["conversation"], question="And then?", max_new_tokens=4)
    assert follow["conversation"] == result["conversation"]
    assert follow["answer"]["cache"]["vision_passes"] == 0 and follow["answer"]["cache"]["source"] == "memory"
    assert follow["answer"]["tokens"]["reused"] > 0


def test_an_ask_without_sampling_takes_the_planned_frames_and_status_reports_the_plan(worker, opened) -> None:
    video, info = opened
    result = worker.call("ask", video=video, question="What?", max_new_tokens=2)
    plan = worker.call("status")["plan"]
    assert plan["device"]["kind"] == "cpu" and plan["precision"] == "fp32" and plan["frames"] == 128
    assert "fp32 LLM with 128 frames" in plan["explanation"] and "\n" not in plan["explanation"]
    planned = sample_frames(info.frames, Sampling("frames", plan["frames"]))  # as many as the video has
    assert [f["index"] for f in result["answer"]["frames"]] == planned.indices.tolist()


def test_ground_reports_stages_and_curve_pieces_then_spans(worker, opened) -> None:
    video, _ = opened
    options = {"refine": False}
    events = list(worker.stream("ground", video=video, query="a boat", sampling=SAMPLING, options=options))
    pieces = [e for e in by_kind(events, "partial") if e["kind"] == "curve"]
    result = events[-1]["data"]
    assert events[-1]["event"] == "result" and pieces
    streamed = [s for p in pieces for s in p["data"]["scores"]]
    np.testing.assert_allclose(streamed, [c["score"] for c in result["curve"]], atol=1e-6)
    assert {e["stage"] for e in by_kind(events, "progress")} >= {"answer", "scan"}
    assert result["query"] == "a boat" and all(s["query"] == "a boat" for s in result["spans"])
    assert result["model"]  # the window keeps which model found the moments


def test_refine_span_looks_again_densely_around_one_span(worker, opened) -> None:
    video, info = opened
    span = {"start_s": 1.0, "end_s": 1.6, "score": 0.4, "source": "user", "query": "a boat", "label": "x"}
    events = list(worker.stream("refine_span", video=video, span=span, sampling=SAMPLING))
    result = events[-1]["data"]
    assert events[-1]["event"] == "result" and result["spans"]
    assert result["vision_passes"] > 0  # the dense frames are new
    group_s = info.duration_s * 4 / SAMPLING["value"]  # one group of the scan's sampling: the margin
    for piece in result["spans"]:
        assert 1.0 - group_s - 1e-6 <= piece["start_s"] < piece["end_s"] <= 1.6 + group_s + 1e-6
        assert (piece["query"], piece["label"], piece["source"]) == ("a boat", "x", "user")
        assert 0.0 <= piece["score"] <= 1.0
    assert [e["done"] for e in by_kind(events, "progress") if e["stage"] == "refine"][-1] == 1
    again = worker.call("refine_span", video=video, span=span, sampling=SAMPLING)
    assert again == {**result, "vision_passes": 0}  # the same look, from the visual-token cache
    with pytest.raises(WorkerError, match="query"):
        worker.call("refine_span", video=video, span={"start_s": 1.0, "end_s": 2.0}, sampling=SAMPLING)


def test_click_track_propagate_refine_and_remove(worker, opened) -> None:
    video, info = opened
    first = worker.call("track_prompt", video=video, time_s=info.frames.time_of(20) + 0.01, **CLICK)
    tracker, obj = first["tracker"], first["obj_id"]
    mask = FrameMask.from_dict(first["mask"])
    assert obj == 1 and mask.frame_index == 20 and decode_mask(mask.rle, 120, 160).shape == (120, 160)

    events = list(worker.stream("track_propagate", tracker=tracker, start_s=0.5, end_s=2.0))
    masks = [m for e in by_kind(events, "partial") for m in e["data"]["masks"]]
    run = events[-1]["data"]["run"]
    frames = {m["frame_index"] for m in masks}
    assert frames == set(range(10, 40)) - {20} and run["frames_tracked"] == 29
    assert len(masks) == len(frames)  # one masks event entry per tracked frame, none twice
    progress = [
        Progress.from_dict({k: v for k, v in e.items() if k not in ("id", "event")})
        for e in by_kind(events, "progress")
    ]
    assert progress[-1].stage == "track" and progress[-1].done == progress[-1].total == 29

    refined = list(
        worker.stream(
            "track_refine",
            tracker=tracker,
            obj_id=obj,
            time_s=info.frames.time_of(30) + 0.01,
            points=[[70.0, 50.0]],
            labels=[1],
        )
    )
    again = {m["frame_index"] for e in by_kind(refined, "partial") for m in e["data"]["masks"]}
    assert 30 in again and again <= set(range(30, 40))  # from the click on, away from the first prompt

    second = worker.call("track_prompt", tracker=tracker, time_s=0.6, points=[[20.0, 20.0]], labels=[1])
    assert second["obj_id"] == 2
    removed = worker.call("track_remove", tracker=tracker, obj_id=2)
    assert removed["obj_id"] == 2
    with pytest.raises(WorkerError) as e:
        worker.call("track_prompt", tracker=tracker, time_s=99.0, points=[[1.0, 1.0]], labels=[1])
    assert e.value.code == "bad_request" and "past the end" in e.value.message


def test_restore_rebuilds_a_tracker_from_a_tracks_file_keeping_its_masks(worker, opened, tmp_path) -> None:
    from engine.tracking import TrackStore

    video, info = opened
    tracker = worker.call("track_prompt", video=video, time_s=0.51, **CLICK)["tracker"]
    worker.call("track_propagate", tracker=tracker, start_s=0.5, end_s=0.8)
    saved = worker.call("export_tracks", tracker=tracker, out_dir=str(tmp_path / "saved"), formats=["coco"])
    original = TrackStore.load(saved["coco"])
    restored = worker.call("track_restore", video=video, path=saved["coco"])
    assert restored["tracker"] != tracker and [m["frame_index"] for m in restored["masks"]] == [10]
    again = worker.call("export_tracks", tracker=restored["tracker"], out_dir=str(tmp_path / "again"),
                        formats=["coco"])  # fmt: skip
    back = TrackStore.load(again["coco"])
    assert back.frames(1) == original.frames(
        1
    )  # the prompt frame recomputed by the same model, the rest kept
    assert back.prompts(1) == original.prompts(1)  # the clicks once, not twice
    click = {"obj_id": 1, "time_s": info.frames.time_of(14) + 0.01, "points": [[70.0, 50.0]], "labels": [1]}
    events = list(worker.stream("track_refine", tracker=restored["tracker"], **click))
    refined = {m["frame_index"] for e in by_kind(events, "partial") for m in e["data"]["masks"]}
    last = original.frame_indices(1)[-1]
    assert last > 14 and refined == set(range(14, last + 1))  # the restored masks count as tracked


def test_export_reports_progress_and_writes_clips(worker, opened, tmp_path) -> None:
    video, _ = opened
    spans = [{"start_s": 0.5, "end_s": 1.0}, {"start_s": 1.5, "end_s": 2.0, "label": "second"}]
    events = list(
        worker.stream(
            "export_spans",
            video=video,
            spans=spans,
            out_dir=str(tmp_path / "out"),
            settings={"preset": "ultrafast"},
        )
    )
    result = events[-1]["data"]
    assert [c["frames"] for c in result["clips"]] == [10, 10]
    assert all(Path(c["path"]).exists() for c in result["clips"]) and len(result["sidecars"]) == 4
    progress = by_kind(events, "progress")
    assert progress[-1]["done"] == progress[-1]["total"] == 20 and progress[-1]["message"] == "clip 2 of 2"


def test_cancel_ends_each_kind_of_job_soon_after_its_next_step(worker, opened, media, tmp_path) -> None:
    video, _ = opened
    # ask: after its first piece of text
    rid = worker.request(
        "ask", video=video, question="Describe everything.", sampling=SAMPLING, max_new_tokens=400
    )
    ended = cancel_at(worker, rid, lambda e: e["event"] == "partial")
    assert ended["code"] == "cancelled"
    # tracking: after 5 frames; the masks already sent stay valid
    tracker = worker.call("track_prompt", video=video, time_s=0.01, **CLICK)["tracker"]
    rid = worker.request("track_propagate", tracker=tracker)
    seen = []
    ended = cancel_at(worker, rid, lambda e: e["event"] == "partial" and len(seen.append(e) or seen) == 5)
    assert ended["code"] == "cancelled"
    # export: mid-clip (ultrafast: no look-ahead, so frames leave the encoder one by one), nothing left
    out = tmp_path / "cancelled"
    long = worker.call(
        "open_video", path=str(media("worker long.mp4", frames=900, fps=30, width=160, height=120))
    )
    spans = [{"start_s": 0.0, "end_s": 29.9}]
    rid = worker.request(
        "export_spans",
        video=long["video"],
        spans=spans,
        out_dir=str(out),
        reencode=True,
        settings={"preset": "ultrafast"},
    )
    ended = cancel_at(worker, rid, lambda e: e["event"] == "progress" and e["done"] >= 3)
    assert ended["code"] == "cancelled" and [p.name for p in out.iterdir()] == []
    # ground: during the scan
    rid = worker.request(
        "ground",
        video=video,
        query="a dog",
        sampling={"mode": "frames", "value": 64},
        options={"refine": False, "text_answer": False},
    )
    ended = cancel_at(worker, rid, lambda e: e["event"] == "progress" and e["stage"] == "scan")
    assert ended["code"] == "cancelled"
    assert worker.call("status")["jobs"] == []


def cancel_at(worker: WorkerProcess, rid: str, when) -> dict:
    """Cancel job `rid` at the first event for which `when` holds; return its ending error event, checked
    to come within 0.5 s of the job's next step after the cancel. Steps are timed by the job's own
    events (the longest gap between two of them bounds a step)."""
    events = worker.events(rid, timeout=120)
    times = [time.monotonic()]
    for event in events:
        assert event["event"] != "result", "the job ended before it could be cancelled"
        times.append(time.monotonic())
        if when(event):
            break
    sent = time.monotonic()
    worker.request("cancel", target=rid)
    for event in events:
        times.append(time.monotonic())
        if event["event"] == "error":
            step = max((b - a for a, b in itertools.pairwise(times[1:-1])), default=0.0)
            waited = times[-1] - sent
            assert waited < 0.5 + step, (rid, waited, step)
            return event
    raise AssertionError("no error event after the cancel")


def hostile_cases(video: str, out_dir: str) -> tuple[list[bytes], list[tuple[str, dict]]]:
    """(lines that carry no usable id, requests with an id that must each be refused)."""
    without_id = [
        b"not json", b"{", b"[]", b"3", b'"text"', b"null", b"{}", b'{"id": 5, "type": "ping"}',
        b'{"id": "", "type": "status"}', b"\xff\xfe\x00garbage", b'{"type": 7}',
        b'{"id": "deep", "type": "status", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    ]  # fmt: skip
    span = {"start_s": 0, "end_s": 1}
    on_video = {"video": video, "question": "q"}
    prompt = {"type": "track_prompt", "video": video, "time_s": 0.1}
    one = {"points": [[1, 1]], "labels": [1]}
    export = {"type": "export_spans", "video": video, "out_dir": out_dir}
    with_id = [
        ("no_type", {}),
        ("nope", {"type": "nope"}),
        ("ping_needs_nothing_but_open_does", {"type": "open_video"}),
        ("path_number", {"type": "open_video", "path": 5}),
        ("no_file", {"type": "open_video", "path": "/no/such/file.mp4"}),
        ("a_folder", {"type": "open_video", "path": "/"}),
        ("xlong_name", {"type": "open_video", "path": "a" * 5000 + ".mp4"}),
        ("no_video", {"type": "ask", "video": "video-999", "question": "q"}),
        ("video_is_a_path", {"type": "ask", "video": "/tmp/clip.mp4", "question": "q"}),
        ("empty_question", {"type": "ask", "video": video, "question": ""}),
        ("huge_question", {"type": "ask", "video": video, "question": "x" * 30_000}),
        ("question_number", {"type": "ask", "video": video, "question": 42}),
        ("negative_tokens", {"type": "ask", **on_video, "max_new_tokens": -1}),
        ("float_tokens", {"type": "ask", **on_video, "max_new_tokens": 2.5}),
        ("too_many_frames", {"type": "ask", **on_video, "sampling": {"mode": "frames", "value": 1e9}}),
        ("too_few_frames", {"type": "ask", **on_video, "sampling": {"mode": "frames", "value": 2}}),
        ("bad_mode", {"type": "ask", **on_video, "sampling": {"mode": "warp"}}),
        ("sampling_text", {"type": "ask", **on_video, "sampling": "all"}),
        ("zero_fps", {"type": "ask", **on_video, "sampling": {"mode": "fps", "value": 0}}),
        ("no_conversation", {"type": "ask", **on_video, "conversation": "conversation-999"}),
        ("blank_query", {"type": "ground", "video": video, "query": "   "}),
        ("refine_text", {"type": "ground", "video": video, "query": "q", "options": {"refine": "yes"}}),
        ("negative_time", {**prompt, "time_s": -1, **one}),
        ("infinite_time", {**prompt, "time_s": float("inf"), **one}),
        ("half_point", {**prompt, "points": [[1]], "labels": [1]}),
        ("bad_label", {**prompt, "points": [[1, 1]], "labels": [7]}),
        ("labels_short", {**prompt, "points": [[1, 1], [2, 2]], "labels": [1]}),
        ("no_click", prompt),
        ("bad_box", {**prompt, "box": [1, 2, 3]}),
        ("no_tracker", {"type": "track_propagate", "tracker": "tracker-999"}),
        ("video_as_tracker", {"type": "track_refine", "tracker": video, "obj_id": 1, "time_s": 0.1, **one}),
        ("remove_unknown", {"type": "track_remove", "tracker": "tracker-999", "obj_id": 1}),
        ("obj_zero", {"type": "track_remove", "tracker": "tracker-999", "obj_id": 0}),
        ("no_spans", {**export, "spans": []}),
        ("backwards_span", {**export, "spans": [{"start_s": 5, "end_s": 1}]}),
        ("nan_span", {**export, "spans": [{"start_s": float("nan"), "end_s": 1}]}),
        ("span_after_end", {**export, "spans": [{"start_s": 100, "end_s": 101}]}),
        ("spans_text", {**export, "spans": "0-1"}),
        ("crf_999", {**export, "spans": [span], "settings": {"crf": 999}}),
        ("crf_negative", {**export, "spans": [span], "settings": {"crf": -5}}),
        ("bad_preset", {**export, "spans": [span], "settings": {"preset": "warp"}}),
        ("pad_huge", {**export, "spans": [span], "pad_s": 1e300}),
        ("tracks_unknown", {"type": "export_tracks", "tracker": "tracker-999", "out_dir": out_dir}),
        ("close_unknown", {"type": "close", "handle": "video-999"}),
        ("close_number", {"type": "close", "handle": 3}),
        ("cancel_nothing", {"type": "cancel", "target": "nothing-runs"}),
        ("device_tpu", {"type": "configure", "device": "tpu"}),
        ("precision_number", {"type": "configure", "precision": 4}),
    ]  # fmt: skip
    return without_id, with_id


def test_hostile_lines_each_get_an_error_and_the_worker_goes_on(worker, opened, tmp_path) -> None:
    video, _ = opened
    without_id, with_id = hostile_cases(video, str(tmp_path / "out"))
    assert len(without_id) + len(with_id) >= 50
    for line in without_id:
        worker.send_line(line + b"\n")
    worker.send_line(b"x" * (17 << 20) + b"\n")  # over the line limit
    refused = [worker.next_event(None, timeout=30) for _ in range(len(without_id) + 1)]
    assert all(e["event"] == "error" and e["message"] for e in refused)
    assert {e["code"] for e in refused} == {"invalid_json", "bad_request", "line_too_long"}
    for rid, fields in with_id:
        worker.send_line(json.dumps({"id": rid, **fields}).encode() + b"\n")
    for rid, _ in with_id:
        event = worker.next_event(rid, timeout=30)
        if rid == "xlong_name":
            continue
        assert event["event"] == "error" and event["code"] != "internal", (rid, event)
        assert event["message"] and "Traceback" not in event["message"], (rid, event)
    assert worker.next_event(worker.request("ping"), timeout=5)["event"] == "pong"
    assert worker.call("status")["jobs"] == [] and not (tmp_path / "out").exists()


def test_kill_9_mid_job_is_seen_and_a_new_worker_serves(worker_args, worker_env, video) -> None:
    with WorkerProcess(worker_args, env=worker_env) as doomed:
        opened = doomed.call("open_video", path=str(video))["video"]
        tracker = doomed.call("track_prompt", video=opened, time_s=0.01, **CLICK)["tracker"]
        rid = doomed.request("track_propagate", tracker=tracker)
        events = doomed.events(rid, timeout=60)
        next(e for e in events if e["event"] == "partial")
        os.kill(doomed.process.pid, signal.SIGKILL)
        with pytest.raises(WorkerExited):
            for _ in events:
                pass
        assert doomed.process.wait(10) == -signal.SIGKILL
    with WorkerProcess(worker_args, env=worker_env) as fresh:
        assert fresh.call("open_video", path=str(video))["info"]["frame_count"] == 60


def test_stdout_carries_protocol_lines_even_when_a_library_writes_to_fd_1(worker_env, tmp_path) -> None:
    noisy = (
        "import os, sys, threading, time\n"
        "import engine.worker.__main__ as worker\n"
        "def noise():\n"
        "    time.sleep(1.0)\n"
        "    os.write(1, b'written to fd 1 from C\\n')\n"
        "    print('printed by a library')\n"
        "threading.Thread(target=noise, daemon=True).start()\n"
        "sys.exit(worker.main(['--device', 'cpu']))\n"
    )
    stderr = tmp_path / "stderr.txt"
    with stderr.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-c", noisy], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
            env={**worker_env, "PYTHONPATH": str(REPO_ROOT)}, cwd=REPO_ROOT,
        )  # fmt: skip
        time.sleep(2.0)
        out, _ = process.communicate(b'{"id": "p", "type": "ping"}\n', timeout=30)
    assert [json.loads(line) for line in out.splitlines()] == [{"id": "p", "event": "pong"}]
    logged = stderr.read_text()
    assert "written to fd 1 from C" in logged and "printed by a library" in logged


def test_tracks_export_and_burned_in_clips_through_the_worker(worker, opened, tmp_path) -> None:
    from engine.tracking import TrackStore

    video, _ = opened
    tracker = worker.call("track_prompt", video=video, time_s=0.51, **CLICK)["tracker"]
    worker.call("track_propagate", tracker=tracker, start_s=0.5, end_s=1.0)
    events = list(worker.stream("export_tracks", tracker=tracker, out_dir=str(tmp_path / "tracks")))
    written = events[-1]["data"]
    assert TrackStore.load(written["coco"]).frame_indices(1) == list(range(10, 20))
    assert len(list(Path(written["png"]["1"]).glob("*.png"))) == 10
    assert by_kind(events, "progress")[-1]["done"] == 10  # PNG masks written
    before = sorted((p, p.stat().st_mtime_ns) for p in (tmp_path / "tracks").rglob("*"))
    with pytest.raises(WorkerError) as refused:
        worker.call("export_tracks", tracker=tracker, out_dir=str(tmp_path / "tracks"), formats=["png"])
    assert refused.value.code == "export_error" and "overwrite" in refused.value.message.lower()
    assert sorted((p, p.stat().st_mtime_ns) for p in (tmp_path / "tracks").rglob("*")) == before
    spans = [{"start_s": 0.5, "end_s": 1.0}]
    out = tmp_path / "burned"
    result = worker.call("export_spans", video=video, spans=spans, out_dir=str(out), tracker=tracker)
    (clip,) = result["clips"]
    assert clip["video"] == "burn-in" and clip["frames"] == 10


def test_export_plans_list_the_outputs_and_those_that_exist_writing_nothing(worker, opened, tmp_path) -> None:
    video, _ = opened
    out = tmp_path / "planned"
    spans = [{"start_s": 0.5, "end_s": 1.0}, {"start_s": 1.5, "end_s": 2.0}]
    plan = worker.call("export_spans", video=video, spans=spans, out_dir=str(out), plan=True)
    names = [Path(p).name for p in plan["outputs"]]
    assert len(names) == 6 and names[0].endswith("_01_00h00m00.500-00h00m01.000.mp4")
    assert names[2:] == [f"worker clip ü.spans.{kind}" for kind in ("srt", "vtt", "csv", "json")]
    assert plan["existing"] == [] and not out.exists()
    out.mkdir()
    (out / names[3]).write_text("mine")
    plan = worker.call("export_spans", video=video, spans=spans, out_dir=str(out), plan=True, sidecars=False)
    assert [Path(p).name for p in plan["outputs"]] == names[:2] and plan["existing"] == []
    plan = worker.call(
        "export_spans", video=video, spans=spans, out_dir=str(out), plan=True, sidecars=["json"]
    )
    assert [Path(p).name for p in plan["outputs"]] == [*names[:2], names[5]]
    with pytest.raises(WorkerError) as refused:
        worker.call("export_spans", video=video, spans=spans, out_dir=str(out), plan=True, sidecars=["txt"])
    assert refused.value.code == "bad_request" and "'sidecars'" in refused.value.message
    plan = worker.call("export_spans", video=video, spans=spans, out_dir=str(out), plan=True)
    assert plan["existing"] == [str(out / names[3])] and (out / names[3]).read_text() == "mine"

    tracker = worker.call("track_prompt", video=video, time_s=0.51, **CLICK)["tracker"]
    worker.call("track_propagate", tracker=tracker, start_s=0.5, end_s=1.0)
    everything = ["coco", "mot", "png", "palette", "video"]
    plan = worker.call("export_tracks", tracker=tracker, out_dir=str(out), formats=everything, plan=True)
    assert [Path(p).relative_to(out).as_posix() for p in plan["outputs"]] == [
        "tracks.json", "boxes.csv", "tracked.mp4", "masks/object_1", "masks/palette",
    ]  # fmt: skip
    assert plan["existing"] == [] and sorted(p.name for p in out.iterdir()) == [names[3]]


def test_tracks_export_palette_pngs_and_a_burned_in_moment_with_audio(worker, opened, tmp_path) -> None:
    import av

    video, _ = opened
    tracker = worker.call("track_prompt", video=video, time_s=0.51, **CLICK)["tracker"]
    worker.call("track_propagate", tracker=tracker, start_s=0.5, end_s=1.0)
    out = tmp_path / "tracks"
    formats = ["palette", "video"]
    events = list(
        worker.stream(
            "export_tracks", tracker=tracker, out_dir=str(out), formats=formats, start_s=0.5, end_s=1.0
        )
    )
    written = events[-1]["data"]
    assert sorted(p.name for p in Path(written["palette"]).iterdir()) == [
        f"{i:06d}.png" for i in range(10, 20)
    ]
    clip = written["video"]
    assert Path(clip["path"]).name == "tracked_00h00m00.500-00h00m01.000.mp4"
    assert (clip["video"], clip["frames"], clip["first_frame"]) == ("burn-in", 10, 10)
    with av.open(clip["path"]) as c:
        assert c.streams.audio[0].codec_context.name == "aac"
    progress = by_kind(events, "progress")
    assert progress[-1]["done"] == progress[-1]["total"] == 20  # 10 palette PNGs + 10 frames
    assert {p["message"] for p in progress} == {"palette PNGs", "video with masks"}
    with pytest.raises(WorkerError) as refused:
        worker.call(
            "export_tracks", tracker=tracker, out_dir=str(out), formats=["video"], start_s=0.5, end_s=1.0
        )
    assert refused.value.code == "export_error"
