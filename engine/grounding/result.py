"""What grounding is asked to do and what it found, as plain data (no torch: a window holds these)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.grounding.refine import DEFAULT_FRAMES_PER_SPAN, DEFAULT_MAX_SPANS
from engine.grounding.spans import RelevanceCurve
from engine.spans import Span
from engine.video import SampledFrames, Sampling

DEFAULT_MAX_NEW_TOKENS = 96  # a few "The event happens in the 12.3 - 20.1 seconds." sentences
DEFAULT_WINDOW_GROUPS = 2  # relevance window: 2 groups of 4 sampled frames
DEFAULT_STRIDE_GROUPS = 1  # windows move by one group


@dataclass(frozen=True)
class GroundingOptions:
    """How hard to look. The defaults suit the 8B on one GPU; see the modules for the reasons."""

    window_groups: int = DEFAULT_WINDOW_GROUPS  # relevance window width, in groups of 4 sampled frames
    stride_groups: int = DEFAULT_STRIDE_GROUPS  # step between windows, in groups
    batch_windows: int | None = None  # windows per language-model pass (default: 32 on a GPU, 8 on CPU)
    text_answer: bool = True  # also ask the model for times in words (one generated answer)
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS
    refine: bool = True  # zoom in on the best spans (costs vision-tower passes for the new frames)
    refine_spans: int = DEFAULT_MAX_SPANS  # how many of the best spans to refine
    refine_frames: int = DEFAULT_FRAMES_PER_SPAN  # frames sampled around each refined span


@dataclass(frozen=True)
class GroundingResult:
    """What `ground` found, with what it cost."""

    query: str
    spans: list[Span]  # in time order; score in [0, 1]; source "text", "curve" or "both"
    curve: RelevanceCurve  # whole-sampling relevance, one score per window (the timeline draws it)
    threshold: float  # the curve level spans had to reach
    answer_text: str  # the model's answer to the grounding question ("" when not asked)
    frames: SampledFrames  # the frames scanned
    vision_passes: int  # vision-tower passes run by this call (opening the video, refinement)
    timings_s: dict[str, float] = field(default_factory=dict)  # open_s, answer_s, scan_s, refine_s, total_s

    def to_dict(self) -> dict[str, Any]:
        """The JSON form printed by `scenescope ground --json` (its "spans" load with `load_spans`)."""
        curve = self.curve
        points = [
            {
                "time_s": round(float(c), 6),
                "start_s": round(float(s), 6),
                "end_s": round(float(e), 6),
                "score": round(float(p), 6),
            }
            for c, s, e, p in zip(curve.centers_s, curve.starts_s, curve.ends_s, curve.scores, strict=True)
        ]
        return {
            "query": self.query,
            "spans": [span.to_dict() for span in self.spans],
            "curve": points,
            "threshold": round(self.threshold, 6),
            "answer": self.answer_text,
            "frames": self.frames.to_list(),
            "sampling": self.frames.sampling.to_dict(),
            "vision_passes": self.vision_passes,
            "timings_s": {k: round(v, 6) for k, v in self.timings_s.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GroundingResult:
        """The inverse of `to_dict` (times and scores as it rounds them, to 1e-6)."""
        points, frames = data["curve"], data["frames"]
        return cls(
            query=data["query"],
            spans=[Span.from_dict(s) for s in data["spans"]],
            curve=RelevanceCurve(
                starts_s=np.array([p["start_s"] for p in points], dtype=np.float64),
                ends_s=np.array([p["end_s"] for p in points], dtype=np.float64),
                scores=np.array([p["score"] for p in points], dtype=np.float64),
            ),
            threshold=float(data["threshold"]),
            answer_text=data["answer"],
            frames=SampledFrames.from_list(frames, Sampling.from_dict(data["sampling"])),
            vision_passes=int(data["vision_passes"]),
            timings_s={k: float(v) for k, v in data["timings_s"].items()},
        )
