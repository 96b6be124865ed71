"""Questions about one opened video: streamed answers, multi-turn history, and what each answer was based on.

A `Conversation` wraps the model's `ChatSession`, which keeps the KV cache of everything said so far, so a
follow-up only prefills its own new tokens. Each turn returns an `Answer` with the frames the model saw
(indices and presentation times), where the visual tokens came from, and timings.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from engine.jobs import Job, job_or_new
from engine.questions import DEFAULT_MAX_NEW_TOKENS, check_max_new_tokens, check_question
from engine.video import SampledFrames, Sampling

if TYPE_CHECKING:
    from engine.assistant.assistant import VideoContext

TokenSource = Literal["computed", "disk", "memory"]


@dataclass(frozen=True)
class Answer:
    """One assistant turn."""

    text: str  # post-processed like the reference chat(): cut at the turn end, stripped
    frames: SampledFrames  # the frames the answer is based on (all frames the model saw)
    finish_reason: str  # "stop" (turn end) or "length" (max_new_tokens); a cancelled turn raises instead
    visual_tokens_source: TokenSource  # computed for this answer, read from the disk cache, or in memory
    vision_passes: int  # vision-tower passes run for this answer (0 unless it computed the tokens)
    prompt_tokens: int  # tokens of the whole prompt of this turn
    reused_tokens: int  # of them, how many came from the KV cache (not prefilled again)
    generated_tokens: int  # including the turn-end token when one was produced
    timings_s: dict[str, float] = field(default_factory=dict)  # see `Conversation.stream`

    @property
    def cache_hit(self) -> bool:
        """The visual tokens were not computed for this answer."""
        return self.visual_tokens_source != "computed"

    @property
    def tokens_per_s(self) -> float | None:
        """Decoding speed after the first token (None with fewer than two tokens)."""
        decode_s = self.timings_s["generate_s"] - self.timings_s["first_token_s"]
        return (self.generated_tokens - 1) / decode_s if self.generated_tokens > 1 and decode_s > 0 else None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form printed by `scenescope ask --json`."""
        rate = self.tokens_per_s
        return {
            "answer": self.text,
            "frames": self.frames.to_list(),
            "sampling": self.frames.sampling.to_dict(),
            "cache": {
                "hit": self.cache_hit,
                "source": self.visual_tokens_source,
                "vision_passes": self.vision_passes,
            },
            "finish_reason": self.finish_reason,
            "tokens": {
                "prompt": self.prompt_tokens,
                "reused": self.reused_tokens,
                "generated": self.generated_tokens,
                "per_s": None if rate is None else round(rate, 3),
            },
            "timings_s": {k: round(v, 6) for k, v in self.timings_s.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Answer:
        """The inverse of `to_dict` (times as it rounds them, to the microsecond)."""
        frames = data["frames"]
        tokens, cache = data["tokens"], data["cache"]
        return cls(
            text=data["answer"],
            frames=SampledFrames.from_list(frames, Sampling.from_dict(data["sampling"])),
            finish_reason=data["finish_reason"],
            visual_tokens_source=cache["source"],
            vision_passes=int(cache["vision_passes"]),
            prompt_tokens=int(tokens["prompt"]),
            reused_tokens=int(tokens["reused"]),
            generated_tokens=int(tokens["generated"]),
            timings_s={k: float(v) for k, v in data["timings_s"].items()},
        )


class Conversation:
    """A multi-turn chat about one `VideoContext`. One question at a time; not thread-safe."""

    def __init__(self, context: VideoContext, system_message: str | None = None) -> None:
        self.context = context
        self._session = context.model.start_chat(context.visual_tokens, system_message=system_message)
        self.last: Answer | None = None

    @property
    def history(self) -> list[tuple[str, str]]:
        """(question, answer) pairs of the finished turns (cancelled turns are not kept)."""
        return list(self._session.history)

    def stream(
        self,
        question: str,
        max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
        job: Job | None = None,
    ) -> Iterator[str]:
        """Yield the answer's text as it is generated; `self.last` holds the `Answer` afterwards.

        The pieces joined are the raw answer (`Answer.text` is that, stripped). Progress: stage
        "answer", tokens generated of `max_new_tokens`. A cancelled `job` ends the answer after the
        current token with `Cancelled` (the turn is not added to the history); leaving the loop early
        instead leaves `last` unset for this turn.
        Timings: those of opening the video (first answer only, see `VideoAssistant.open_video`), then
        `first_token_s` (prompt prefill and the first token) and `generate_s` (the whole turn).
        """
        check_question(question)
        check_max_new_tokens(max_new_tokens)
        job = job_or_new(job)
        start = time.perf_counter()
        first: float | None = None
        tokens = self._session.stream(question, max_new_tokens=max_new_tokens, cancel=job.event)
        for count, (_token, delta) in enumerate(tokens, start=1):
            if first is None:
                first = time.perf_counter()
            if delta:
                yield delta
            job.progress("answer", count, max_new_tokens)
        end = time.perf_counter()
        generation = self._session.last
        if generation.finish_reason == "cancelled":
            job.check()
        source, passes, setup_timings = self.context.claim_setup_cost()
        self.last = Answer(
            text=generation.text,
            frames=self.context.frames,
            finish_reason=generation.finish_reason,
            visual_tokens_source=source,
            vision_passes=passes,
            prompt_tokens=generation.prompt_tokens,
            reused_tokens=generation.reused_tokens,
            generated_tokens=len(generation.token_ids),
            timings_s={**setup_timings, "first_token_s": (first or end) - start, "generate_s": end - start},
        )

    def ask(
        self, question: str, job: Job | None = None, max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS
    ) -> Answer:
        """Answer `question`, handing out the text as it streams in (`job.partial("text", {"text": ...})`)."""
        job = job_or_new(job)
        for piece in self.stream(question, max_new_tokens=max_new_tokens, job=job):
            job.partial("text", {"text": piece})
        assert self.last is not None
        return self.last
