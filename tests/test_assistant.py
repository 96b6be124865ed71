"""engine.assistant on the tiny reference model and real generated videos: the visual-token cache seen from
the API, frames carried by answers, streaming, cancellation, KV reuse, and end-to-end parity with the model
called directly on independently decoded frames."""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from PIL import Image

from engine.assistant import VideoAssistant
from engine.errors import VideoError
from engine.jobs import Cancelled, Job, Progress
from engine.models.internvideo import InternVideo, VisualTokenCache, load_internvideo
from engine.video import Sampling, probe, sample_frames
from tests.fixtures import internvideo_fixture

Q1 = "What happens in this video?"
Q2 = "What colour is the square?"


@pytest.fixture(scope="module")
def model() -> InternVideo:
    return load_internvideo(internvideo_fixture() / "checkpoint", device="cpu", precision="fp32")


@pytest.fixture(scope="module")
def video(media: Callable[..., Path]) -> Path:
    return media("ask.mp4", frames=120, fps=25.0, gop=25, bframes=2)


class VisionPasses:
    """Counts forward calls of the vision tower, whoever makes them."""

    def __init__(self, model: InternVideo) -> None:
        self.count = 0
        self._handle = model.model.vision_tower.register_forward_hook(self._seen)

    def _seen(self, *_args) -> None:
        self.count += 1

    def close(self) -> None:
        self._handle.remove()


@pytest.fixture
def passes(model: InternVideo):
    counter = VisionPasses(model)
    yield counter
    counter.close()


def assistant(model: InternVideo, folder: Path, **kwargs) -> VideoAssistant:
    return VideoAssistant(model, VisualTokenCache(folder), **kwargs)


def test_reopening_a_video_runs_no_vision_pass(model, video, passes, tmp_path: Path) -> None:
    progress: list[Progress] = []
    first = assistant(model, tmp_path).open_video(
        video, Sampling("frames", 16), job=Job(on_progress=progress.append)
    )
    assert first.source == "computed" and first.vision_passes == passes.count == 2  # 16 frames, 8 per pass
    assert [(p.stage, p.done, p.total) for p in progress] == [("encode", 8, 16), ("encode", 16, 16)]
    answer = first.conversation().ask(Q1, max_new_tokens=8)
    assert not answer.cache_hit and answer.vision_passes == 2
    assert {"decode_wait_s", "encode_s", "visual_tokens_s", "first_token_s"} <= set(answer.timings_s)

    passes.count = 0
    again = assistant(model, tmp_path).open_video(video, Sampling("frames", 16))  # a fresh assistant
    assert again.source == "disk" and again.vision_passes == 0 and passes.count == 0
    assert torch.equal(again.visual_tokens, first.visual_tokens)
    repeat = again.conversation().ask(Q1, max_new_tokens=8)
    assert repeat.cache_hit and repeat.vision_passes == 0 and repeat.visual_tokens_source == "disk"
    assert repeat.text == answer.text
    assert "encode_s" not in repeat.timings_s

    copy = tmp_path / "renamed copy.mp4"
    shutil.copy(video, copy)
    assert assistant(model, tmp_path).open_video(copy, Sampling("frames", 16)).source == "disk"
    assert passes.count == 0


def test_the_cache_key_follows_sampling_range_model_and_content(
    model, video, media, passes, tmp_path: Path
) -> None:
    helper = assistant(model, tmp_path)
    base = Sampling("frames", 8)
    assert helper.open_video(video, base).source == "computed"
    changes = (Sampling("frames", 12), Sampling("frames", 8, start_s=1.0), Sampling("frames", 8, end_s=3.0))
    for changed in changes:
        passes.count = 0
        assert helper.open_video(video, changed).source == "computed" and passes.count > 0
    assert helper.open_video(video, base).source == "disk"

    other_content = media("ask-other.mp4", frames=120, fps=25.0, gop=25, bframes=2, texture=True)
    assert helper.open_video(other_content, base).source == "computed"

    bf16 = load_internvideo(internvideo_fixture() / "checkpoint", device="cpu", precision="bf16")
    assert bf16.visual_tokens_key != model.visual_tokens_key
    context = assistant(bf16, tmp_path).open_video(video, base)
    assert context.source == "computed" and context.visual_tokens.dtype == torch.bfloat16
    assert assistant(bf16, tmp_path).open_video(video, base).visual_tokens.dtype == torch.bfloat16


def test_a_damaged_cache_entry_is_encoded_again(model, video, passes, tmp_path: Path, caplog) -> None:
    cache = VisualTokenCache(tmp_path)
    first = VideoAssistant(model, cache).open_video(video, Sampling("frames", 8))
    (entry,) = cache.entries()
    entry.write_bytes(entry.read_bytes()[:100])  # a crash mid-copy, a full disk, ...
    passes.count = 0
    with caplog.at_level(logging.WARNING, logger="engine.cache"):
        again = VideoAssistant(model, cache).open_video(video, Sampling("frames", 8))
    assert again.source == "computed" and passes.count == 1 and "computing it again" in caplog.text
    assert torch.equal(again.visual_tokens, first.visual_tokens)
    assert VideoAssistant(model, cache).open_video(video, Sampling("frames", 8)).source == "disk"


def fine_tuned_copy(folder: Path) -> Path:
    """The tiny checkpoint with other projector values: same config, same tensors, same shard sizes."""
    from safetensors.torch import load_file, save_file

    folder.mkdir()
    source = internvideo_fixture() / "checkpoint"
    for file in source.iterdir():
        if file.suffix != ".py":
            shutil.copy(file, folder / file.name)
    shard = folder / "model-00003-of-00004.safetensors"
    tensors = load_file(shard)
    tensors["mlp1.1.weight"] = tensors["mlp1.1.weight"] * 1.5  # a fine-tune changes values, not layout
    save_file(tensors, shard, metadata={"format": "pt"})
    assert [f.stat().st_size for f in sorted(folder.glob("*.safetensors"))] == [
        f.stat().st_size for f in sorted(source.glob("*.safetensors"))
    ]
    return folder


def test_other_weights_with_the_same_layout_get_their_own_visual_tokens(model, video, tmp_path: Path) -> None:
    tuned = load_internvideo(fine_tuned_copy(tmp_path / "tuned"), device="cpu", precision="fp32")
    assert tuned.identity != model.identity
    cache = VisualTokenCache(tmp_path / "cache")
    first = VideoAssistant(model, cache).open_video(video, Sampling("frames", 8))
    other = VideoAssistant(tuned, cache).open_video(video, Sampling("frames", 8))
    assert first.source == "computed" and other.source == "computed"
    assert not torch.equal(first.visual_tokens, other.visual_tokens)
    assert VideoAssistant(tuned, cache).open_video(video, Sampling("frames", 8)).source == "disk"


def test_answers_carry_the_sampled_frames(model, video, tmp_path: Path) -> None:
    sampling = Sampling("frames", 12, start_s=0.7, end_s=4.1)
    expected = sample_frames(probe(video).frames, sampling)
    answer = assistant(model, tmp_path).open_video(video, sampling).conversation().ask(Q1, max_new_tokens=4)
    assert np.array_equal(answer.frames.indices, expected.indices)
    assert np.array_equal(answer.frames.times_s, expected.times_s)
    assert answer.to_dict()["frames"] == expected.to_list()
    assert all(0.7 <= f["time_s"] <= 4.1 for f in answer.to_dict()["frames"])


def reference_frames(path: Path, indices: np.ndarray, size: int) -> np.ndarray:
    """Every frame decoded in order by PyAV, the wanted ones resized like the published preprocessing."""
    with av.open(str(path)) as container:
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    return np.stack(
        [np.asarray(Image.fromarray(decoded[i]).resize((size, size), Image.BICUBIC)) for i in indices]
    )


def test_the_pipeline_answers_like_the_model_on_independently_decoded_frames(
    model, video, tmp_path: Path
) -> None:
    sampling = Sampling("frames", 20)  # 20 frames in passes of 8: the last pass holds one group
    context = assistant(model, tmp_path, chunk_frames=8, decode_workers=2).open_video(video, sampling)
    assert context.vision_passes == 3
    answer = context.conversation().ask(Q1, max_new_tokens=24)

    frames = reference_frames(video, context.frames.indices, model.image_size)
    visual = model.encode_frames(model.preprocess(frames), chunk_frames=20)  # one pass over all frames
    torch.testing.assert_close(context.visual_tokens, visual, atol=1e-5, rtol=1e-5)
    direct = model.generate(Q1, visual, max_new_tokens=24)
    assert answer.text == direct.text and answer.generated_tokens == len(direct.token_ids)
    assert answer.prompt_tokens == direct.prompt_tokens


def test_the_vision_chunk_changes_the_passes_not_the_visual_tokens(model, video, tmp_path: Path) -> None:
    sampling = Sampling("frames", 40)  # the planner's chunks: 32 (2 passes) where memory allows, 8 (5)
    by_chunk = {
        chunk: assistant(model, tmp_path / str(chunk), chunk_frames=chunk).open_video(video, sampling)
        for chunk in (32, 8)
    }
    assert [c.vision_passes for c in by_chunk.values()] == [2, 5]
    assert all(c.source == "computed" for c in by_chunk.values())
    torch.testing.assert_close(by_chunk[32].visual_tokens, by_chunk[8].visual_tokens, atol=1e-5, rtol=1e-5)


def test_streamed_pieces_make_up_the_answer(model, video, tmp_path: Path) -> None:
    chat = assistant(model, tmp_path).open_video(video, Sampling("frames", 8)).conversation()
    pieces = list(chat.stream(Q1, max_new_tokens=30))
    assert len(pieces) > 5 and all(pieces)
    assert "".join(pieces).strip() == chat.last.text and chat.last.generated_tokens == 30
    called: list[str] = []
    progress: list[Progress] = []
    job = Job(on_progress=progress.append, on_partial=lambda kind, data: called.append(data["text"]))
    other = assistant(model, tmp_path).open_video(video, Sampling("frames", 8)).conversation()
    assert other.ask(Q1, job, max_new_tokens=30).text == chat.last.text
    assert called == pieces
    assert [(p.stage, p.done, p.total) for p in progress] == [("answer", n, 30) for n in range(1, 31)]


def test_an_answer_can_be_cancelled_midway(model, video, tmp_path: Path) -> None:
    chat = assistant(model, tmp_path).open_video(video, Sampling("frames", 8)).conversation()
    pieces: list[str] = []

    def on_text(kind: str, data: dict) -> None:
        pieces.append(data["text"])
        if len(pieces) == 3:
            job.cancel()

    job = Job(on_partial=on_text)
    with pytest.raises(Cancelled):
        chat.ask(Q1, job, max_new_tokens=200)
    assert len(pieces) == 3 and chat.history == [] and chat.last is None
    whole = "".join(chat.context.conversation().stream(Q1, max_new_tokens=200))
    assert len(whole) > len("".join(pieces)) and whole.startswith("".join(pieces))
    after = chat.ask(Q2, max_new_tokens=5)
    assert after.finish_reason == "length" and [q for q, _ in chat.history] == [Q2]


def test_a_follow_up_prefills_only_its_turn_and_matches_a_fresh_prompt(model, video, tmp_path: Path) -> None:
    context = assistant(model, tmp_path).open_video(video, Sampling("frames", 8))
    chat = context.conversation()
    first = chat.ask(Q1, max_new_tokens=12)
    second = chat.ask(Q2, max_new_tokens=10)
    assert first.reused_tokens == 0 and second.reused_tokens >= first.prompt_tokens
    prefilled = second.prompt_tokens - second.reused_tokens
    # at most what the prompt grew by (the first answer and the new question), not the video again
    assert prefilled <= second.prompt_tokens - first.prompt_tokens and prefilled < second.prompt_tokens / 4
    assert second.visual_tokens_source == "memory" and second.vision_passes == 0
    assert "visual_tokens_s" not in second.timings_s

    fresh = model.start_chat(context.visual_tokens, history=chat.history[:1])
    fresh.reuse_cache = False
    full = fresh.ask(Q2, max_new_tokens=10)
    assert full.reused_tokens == 0 and full.prompt_tokens == second.prompt_tokens
    assert full.text == second.text and len(full.token_ids) == second.generated_tokens


def test_opening_can_be_cancelled_and_stores_nothing(model, video, tmp_path: Path) -> None:
    cache = VisualTokenCache(tmp_path)
    job = Job(on_progress=lambda p: job.cancel())
    with pytest.raises(Cancelled):
        VideoAssistant(model, cache).open_video(video, Sampling("frames", 24), job=job)
    assert cache.entries() == []
    assert threading.active_count() < 10  # the decoder threads are gone


def test_an_empty_range_is_a_video_error(model, video, tmp_path: Path) -> None:
    with pytest.raises(VideoError, match="empty"):
        assistant(model, tmp_path).open_video(video, Sampling("frames", 8, start_s=30.0))


@pytest.mark.parametrize(("precision", "dtype"), [("fp16", torch.float16), ("int8", torch.float32)])
def test_other_precisions_answer_on_the_cpu(video, tmp_path: Path, caplog, precision, dtype) -> None:
    half = load_internvideo(internvideo_fixture() / "checkpoint", device="cpu", precision=precision)
    context = assistant(half, tmp_path).open_video(video, Sampling("frames", 8))
    assert context.visual_tokens.dtype == dtype
    with caplog.at_level(logging.WARNING):
        answer = context.conversation().ask(Q1, max_new_tokens=6)
    assert answer.generated_tokens == 6
    assert "MatMul8bitLt" not in caplog.text  # bitsandbytes' per-call cast notice is expected, not shown
