"""`VideoAssistant`: a loaded video LLM plus the visual-token cache; `open_video` prepares a video for chat.

open_video: probe (true timestamps) -> sample (frame indices and times) -> visual-token cache lookup
    -> on a miss: decode only those frames at 448 while encoding earlier ones (`encode.py`), then store
    -> VideoContext (frames + visual tokens [N, 16, D] on the model's device)
VideoContext.conversation() -> Conversation: streamed answers with KV reuse across turns.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from engine.assistant import DEFAULT_SAMPLING
from engine.assistant.conversation import Conversation, TokenSource
from engine.assistant.encode import encode_video
from engine.errors import ScenescopeError, VideoError
from engine.jobs import Job, job_or_new
from engine.models.internvideo import (
    DEFAULT_REPO,
    InternVideo,
    TokenCacheKey,
    VisualTokenCache,
    load_internvideo,
)
from engine.video import SampledFrames, Sampling, VideoInfo, probe, sample_frames


@dataclass
class VideoContext:
    """One video, sampled and encoded, ready for questions. Made by `VideoAssistant.open_video`."""

    model: InternVideo
    info: VideoInfo
    frames: SampledFrames  # the frames the model sees: indices and presentation times
    visual_tokens: torch.Tensor  # [N, 16, D] on the model's device
    source: TokenSource  # "computed" (vision tower ran) or "disk" (visual-token cache)
    vision_passes: int  # vision-tower passes run to open it
    timings_s: dict[str, float]  # probe_s, sample_s, cache_lookup_s, and on a miss decode/encode/store
    _setup_claimed: bool = field(default=False, repr=False)

    def conversation(self, system_message: str | None = None) -> Conversation:
        """A new conversation about this video (several may share one context, one question at a time)."""
        return Conversation(self, system_message)

    def claim_setup_cost(self) -> tuple[TokenSource, int, dict[str, float]]:
        """(source, vision passes, timings) of opening the video, for the first answer; then memory, 0, {}."""
        if self._setup_claimed:
            return "memory", 0, {}
        self._setup_claimed = True
        return self.source, self.vision_passes, dict(self.timings_s)


class VideoAssistant:
    """Answers questions about videos with InternVideo2.5. Holds the model; not thread-safe."""

    def __init__(
        self,
        model: InternVideo,
        token_cache: VisualTokenCache | None = None,
        chunk_frames: int | None = None,
        decode_workers: int | None = None,
    ) -> None:
        """`token_cache` defaults to `VisualTokenCache()` (the user cache folder, size-capped).
        `chunk_frames`: frames per vision-tower pass (the planner's `Plan.vision_chunk`; default: 32 on a
        GPU, 8 on the CPU).
        `decode_workers`: decoder threads (default: all cores)."""
        self.model = model
        self.token_cache = token_cache if token_cache is not None else VisualTokenCache()
        self.chunk_frames = chunk_frames
        self.decode_workers = decode_workers

    @classmethod
    def load(
        cls,
        source: str | os.PathLike = DEFAULT_REPO,
        device: str | torch.device = "auto",
        precision: str = "auto",
        revision: str | None = None,
        token_cache: VisualTokenCache | None = None,
        job: Job | None = None,
        chunk_frames: int | None = None,
    ) -> VideoAssistant:
        """Load the model (see `engine.models.internvideo.load_internvideo`: stages "download", "load") and
        wrap it. `chunk_frames`: frames per vision-tower pass (the memory planner's `Plan.vision_chunk`)."""
        model = load_internvideo(source, device=device, precision=precision, revision=revision, job=job)
        return cls(model, token_cache, chunk_frames)

    def open_video(
        self,
        video: str | os.PathLike | VideoInfo,
        sampling: Sampling = DEFAULT_SAMPLING,
        job: Job | None = None,
    ) -> VideoContext:
        """Probe (unless given a `VideoInfo`), sample, and get the visual tokens: from the cache, or by
        decoding and encoding the sampled frames (then cached).

        Progress: stage "encode", frames encoded (one step with all of them on a cache hit); a cancelled
        `job` stops decoding and encoding (`Cancelled`). Timings in `VideoContext.timings_s`:
        probe_s, sample_s, cache_lookup_s, and on a miss decode_wait_s (decoding not hidden behind
        encoding), encode_s, visual_tokens_s (the whole decode -> encode pipeline) and cache_store_s.
        """
        timings: dict[str, float] = {}
        clock = time.perf_counter()
        if isinstance(video, VideoInfo):
            info = video
        else:
            info = probe(Path(video))
            clock = _lap(timings, "probe_s", clock)
        try:
            frames = sample_frames(info.frames, sampling)
        except ValueError as exc:
            raise VideoError(f"cannot sample {info.path}: {exc}. Choose a range inside the video.") from None
        most = self.model.max_frames
        if len(frames) > most:  # refused before minutes of decoding and encoding, not after
            raise ScenescopeError(
                f"{len(frames)} frames do not fit the model's context of {self.model.context_window} tokens, "
                f"which holds at most {most} frames. Ask for {most} or fewer (--frames), or a shorter range."
            )
        clock = _lap(timings, "sample_s", clock)
        key = TokenCacheKey.of(info.identity, self.model.visual_tokens_key, sampling.key(), frames.indices)
        cached = self.token_cache.load(
            key, self.model.visual_token_layout, frames.times_s, device=self.model.device
        )
        clock = _lap(timings, "cache_lookup_s", clock)
        job = job_or_new(job)
        if cached is not None:
            job.progress("encode", len(frames), len(frames), "visual tokens from the cache")
            return VideoContext(self.model, info, frames, cached.visual_tokens, "disk", 0, timings)
        encoded = encode_video(
            self.model,
            info,
            frames,
            chunk_frames=self.chunk_frames,
            decode_workers=self.decode_workers,
            job=job,
        )
        clock = time.perf_counter()
        timings |= {
            "decode_wait_s": encoded.decode_wait_s,
            "encode_s": encoded.encode_s,
            "visual_tokens_s": encoded.wall_s,
        }
        self.token_cache.store(key, encoded.visual_tokens, frames.times_s)
        _lap(timings, "cache_store_s", clock)
        tokens = encoded.visual_tokens
        return VideoContext(self.model, info, frames, tokens, "computed", encoded.vision_passes, timings)


def _lap(timings: dict[str, float], name: str, since: float) -> float:
    now = time.perf_counter()
    timings[name] = now - since
    return now
