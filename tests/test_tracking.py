"""SAM2 tracking end to end with the tiny random model: exact, bounded, ranged, refinable, cancellable."""

from __future__ import annotations

import threading

import pytest
import torch
from transformers.models.sam2_video.modeling_sam2_video import Sam2VideoInferenceSession

from engine.errors import ScenescopeError
from engine.jobs import Cancelled, Job
from engine.tracking import Tracker
from engine.tracking.frames import logits_to_mask, prompt_tensors, stream_frames, to_pixel_values
from engine.tracking.memory import ObjectMemory
from engine.tracking.store import encode_mask
from engine.video import probe

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CLICK = {"points": [(80.0, 60.0), (20.0, 15.0)], "labels": [1, 0]}


@pytest.fixture(scope="module")
def clip(media):
    return probe(media("track_clip.mp4", frames=48, fps=24, width=160, height=120, gop=12, texture=True))


def snapshot(tracker: Tracker, obj_id: int = 1) -> dict[int, tuple]:
    return {m.frame_index: (m.rle, m.score) for m in tracker.store.frames(obj_id)}


def t(clip, index: int) -> float:
    return clip.frames.time_of(index)


def stock_transformers_masks(sam2, clip, anchor: int) -> dict[int, bytes]:
    """The reference: transformers' own offline video session (all frames in RAM), forward then reverse."""
    net = sam2.network
    frames = [
        to_pixel_values(f.image, sam2.mean, sam2.std) for f in stream_frames(clip, 0, 47, sam2.image_size)
    ]
    session = Sam2VideoInferenceSession(
        video=torch.stack(frames), video_height=clip.height, video_width=clip.width, dtype=torch.float32
    )
    coords, labels = prompt_tensors(CLICK["points"], CLICK["labels"], None, (160, 120), sam2.image_size)
    session.add_point_inputs(
        session.obj_id_to_idx(1), anchor, {"point_coords": coords, "point_labels": labels}
    )
    session.obj_with_new_inputs = [1]
    masks = {}
    with torch.inference_mode():
        outputs = [net(inference_session=session, frame_idx=anchor)]
        outputs += list(net.propagate_in_video_iterator(session, start_frame_idx=anchor))
        outputs += list(net.propagate_in_video_iterator(session, start_frame_idx=anchor, reverse=True))
    for out in outputs:
        masks[out.frame_idx] = encode_mask(logits_to_mask(out.pred_masks, (160, 120)))[0]
    return masks


@pytest.mark.parametrize("model", ["sam2", "sam2_short_memory"])
def test_tracking_equals_transformers_and_pruning_changes_nothing(model, clip, request):
    """SAM 2.1's memory sizes, and small ones (window 3) with which most of the clip is pruned away."""
    sam2, anchor = request.getfixturevalue(model), 20
    pruned, unpruned = Tracker(sam2, clip), Tracker(sam2, clip, keep_all_memory=True)
    for tracker in (pruned, unpruned):
        tracker.prompt(t(clip, anchor), **CLICK)
        run = tracker.propagate()
        assert run.frames_tracked == 47
    masks = {i: rle for i, (rle, _) in snapshot(pruned).items()}
    assert sorted(masks) == list(range(48))
    assert len(set(masks.values())) > 40  # the masks really change from frame to frame
    assert snapshot(pruned) == snapshot(unpruned)
    assert masks == stock_transformers_masks(sam2, clip, anchor)
    memory = pruned._objects[1].memory
    assert len(unpruned._objects[1].memory.held_frames) == 48
    assert len(memory.held_frames) < 48 and len(memory.held_frames) <= 1 + 2 * (2 * memory.window + 1)


def test_memory_keeps_prompts_and_the_frames_next_to_them_and_to_the_front():
    memory = ObjectMemory(1, 10_000, (64, 48), torch.device("cpu"), torch.float32, window=15)
    outputs = memory.outputs
    outputs["cond_frame_outputs"][100] = {"object_pointer": None}
    for f in range(0, 2000):
        if f != 100:
            outputs["non_cond_frame_outputs"][f] = {"object_pointer": None}
        memory.prune(f)
        assert len(memory.held_frames) <= 2 * (2 * 15 + 1)  # O(1): does not grow with f
    assert sorted(outputs["non_cond_frame_outputs"]) == [
        *range(85, 100),
        *range(101, 116),
        *range(1984, 2000),
    ]
    memory.forget_tracking()
    assert memory.held_frames == {100}


def test_ranges_track_forwards_and_backwards_from_the_prompt(sam2, clip):
    tracker = Tracker(sam2, clip)
    tracker.prompt(t(clip, 20), **CLICK)
    progress = []
    run = tracker.propagate(t(clip, 10), t(clip, 30), job=Job(on_progress=progress.append))
    assert tracker.store.frame_indices(1) == list(range(10, 30))  # [start, end): frame 30 appears at the end
    assert run.frames_tracked == 19 and (run.start_s, run.end_s) == (t(clip, 10), t(clip, 29))
    assert [p.done for p in progress] == list(range(1, 20)) and {(p.stage, p.total) for p in progress} == {
        ("track", 19)
    }
    assert [p.time_s for p in progress] == [t(clip, i) for i in [*range(21, 30), *range(19, 9, -1)]]

    forward_only = Tracker(sam2, clip)
    forward_only.prompt(t(clip, 10), **CLICK)
    forward_only.propagate(t(clip, 10), t(clip, 30))
    assert forward_only.store.frame_indices(1) == list(range(10, 30))

    with pytest.raises(ScenescopeError, match="no clicks between"):
        forward_only.propagate(t(clip, 31), None)


def test_refining_a_later_frame_changes_only_the_frames_after_it(sam2, clip):
    tracker = Tracker(sam2, clip)
    tracker.prompt(t(clip, 10), **CLICK)
    tracker.propagate()
    before = snapshot(tracker)

    run = tracker.refine(1, t(clip, 30), points=[(100.0, 80.0)], labels=[0])
    after = snapshot(tracker)
    assert run.frames_tracked == 17 and (run.start_s, run.end_s) == (t(clip, 31), t(clip, 47))
    assert {i: after[i] for i in range(30)} == {i: before[i] for i in range(30)}  # bit for bit
    assert after[30] != before[30]
    assert sum(after[i] != before[i] for i in range(31, 48)) >= 10
    assert [p.frame_index for p in tracker.store.prompts(1)] == [10, 30]

    tracker.refine(1, t(clip, 4), points=[(40.0, 40.0)], labels=[1])  # before the first prompt: backwards
    again = snapshot(tracker)
    assert {i: again[i] for i in range(5, 48)} == {i: after[i] for i in range(5, 48)}
    assert again[4] != after[4] and sum(again[i] != after[i] for i in range(4)) >= 2


def test_refining_near_the_tracking_front_is_exactly_unpruned_sam2(sam2, clip):
    """The memory there is still whole, so the correction needs no rebuilt window and matches exactly."""
    pruned, unpruned = Tracker(sam2, clip), Tracker(sam2, clip, keep_all_memory=True)
    for tracker in (pruned, unpruned):
        tracker.prompt(t(clip, 10), **CLICK)
        tracker.propagate(None, t(clip, 30))
        tracker.refine(1, t(clip, 25), points=[(100.0, 80.0)], labels=[0])
    assert snapshot(pruned) == snapshot(unpruned)


def test_objects_keep_their_ids_and_never_retrack_each_other(sam2, clip):
    tracker = Tracker(sam2, clip)
    first = tracker.prompt(t(clip, 5), **CLICK)
    second = tracker.prompt(t(clip, 30), box=(60.0, 30.0, 150.0, 110.0))  # a box alone
    assert (first.frame_index, second.frame_index) == (5, 30) and tracker.object_ids == [1, 2]
    tracker.propagate(t(clip, 0), t(clip, 32))
    assert tracker.store.frame_indices(1) == tracker.store.frame_indices(2) == list(range(32))
    one, two = snapshot(tracker, 1), snapshot(tracker, 2)
    assert one != two

    tracker.prompt(t(clip, 12), points=[(30.0, 90.0)], labels=[1], obj_id=9)
    tracker.propagate(t(clip, 8), t(clip, 24), obj_ids=[9])
    assert tracker.object_ids == [1, 2, 9] and tracker.store.frame_indices(9) == list(range(8, 24))
    assert snapshot(tracker, 1) == one and snapshot(tracker, 2) == two
    assert tracker.prompt(t(clip, 3), points=[(5.0, 5.0)], labels=[1]).frame_index == 3
    assert tracker.object_ids == [1, 2, 9, 10]


def test_cancel_stops_and_results_are_readable_meanwhile(sam2, clip):
    tracker = Tracker(sam2, clip)
    tracker.prompt(t(clip, 0), **CLICK)
    seen: list[int] = []

    def on_progress(p):
        seen.append(len(tracker.store.frames(1)))  # what a GUI thread would read now
        if p.done == 12:
            job.cancel()

    job = Job(on_progress=on_progress)
    result = {}

    def propagate() -> None:
        try:
            tracker.propagate(job=job)
        except Cancelled as e:
            result["cancelled"] = e

    worker = threading.Thread(target=propagate)
    worker.start()
    worker.join(timeout=120)
    assert "cancelled" in result
    assert tracker.store.frame_indices(1) == list(range(13))
    assert seen == list(range(2, 14))
    assert (
        tracker.mask_at(1, t(clip, 12) + 0.01).frame_index == 12 and tracker.mask_at(1, t(clip, 13)) is None
    )

    resumed = tracker.propagate(None, t(clip, 20))  # cancelling leaves a usable tracker
    assert resumed.frames_tracked == 19


def test_bad_prompts_say_what_to_do(sam2, clip):
    tracker = Tracker(sam2, clip)
    with pytest.raises(ScenescopeError, match="outside the 160x120 picture"):
        tracker.prompt(0.5, points=[(160.0, 10.0)], labels=[1])
    with pytest.raises(ScenescopeError, match="one label per point"):
        tracker.prompt(0.5, points=[(10.0, 10.0)], labels=[])
    with pytest.raises(ScenescopeError, match="at least one point or a box"):
        tracker.prompt(0.5)
    with pytest.raises(ScenescopeError, match="x0 < x1"):
        tracker.prompt(0.5, box=(50.0, 10.0, 40.0, 20.0))
    with pytest.raises(ScenescopeError, match="No object 3"):
        tracker.refine(3, 0.5, points=[(1.0, 1.0)], labels=[1])
    with pytest.raises(ScenescopeError, match="click an object first"):
        tracker.propagate()


def test_bfloat16_weights_run_end_to_end(sam2_folder, clip):
    """GPUs run SAM2 in bfloat16 (precision "auto"); the same dtype plumbing, exercised on the CPU."""
    import dataclasses

    from engine.tracking import load_sam2

    fp32 = load_sam2(sam2_folder, device="cpu")
    bf16 = dataclasses.replace(fp32, network=fp32.network.to(torch.bfloat16), dtype=torch.bfloat16)
    tracker = Tracker(bf16, clip)
    tracker.prompt(t(clip, 4), **CLICK)
    run = tracker.propagate(t(clip, 0), t(clip, 8))
    tracker.refine(1, t(clip, 6), points=[(100.0, 80.0)], labels=[0])
    assert run.frames_tracked == 7 and tracker.store.frame_indices(1) == list(range(8))
    assert any(m.area for m in tracker.store.frames(1))
