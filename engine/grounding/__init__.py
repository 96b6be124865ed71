"""Temporal grounding: every moment of a video that matches a query, as scored spans on its timeline.

    assistant = VideoAssistant.load(...)
    result = ground(assistant, "gate.mp4", "a white van stops at the gate")
    for span in result.spans: span.start_s, span.end_s, span.score, span.source   # "text"/"curve"/"both"
    result.curve.starts_s, result.curve.scores          # relevance per window, for the timeline

Two signals, because the released InternVideo2.5 has no working grounding head and its free-text times
are unreliable on long video: the model's written answer (times read by `parse_time_spans`) and a
relevance curve (P(yes) per window of frames, from the cached visual tokens, `relevance_curve`),
combined (`combine_spans`) and sharpened by a dense second look (`refine_spans`).
"""

from typing import TYPE_CHECKING

from engine.grounding.parse import TimeMention, parse_time_spans, time_mentions
from engine.grounding.prompt import check_query, grounding_question, relevance_question
from engine.grounding.refine import refine_span, refine_spans
from engine.grounding.result import GroundingOptions, GroundingResult
from engine.grounding.spans import RelevanceCurve, ScoredSpan, adaptive_threshold, combine_spans
from engine.lazy import lazy_attributes

if TYPE_CHECKING:
    from engine.grounding.pipeline import ground, refine_span_once
    from engine.grounding.relevance import answer_tokens, relevance_curve, window_starts, window_times

# The model side imports torch and transformers (seconds); results and span arithmetic need neither, so
# those names load on first use.
_MODEL_SIDE = {
    "ground": "engine.grounding.pipeline",
    "refine_span_once": "engine.grounding.pipeline",
    "answer_tokens": "engine.grounding.relevance",
    "relevance_curve": "engine.grounding.relevance",
    "window_starts": "engine.grounding.relevance",
    "window_times": "engine.grounding.relevance",
}

__getattr__ = lazy_attributes(__name__, _MODEL_SIDE)


__all__ = [
    "GroundingOptions",
    "GroundingResult",
    "RelevanceCurve",
    "ScoredSpan",
    "TimeMention",
    "adaptive_threshold",
    "answer_tokens",
    "check_query",
    "combine_spans",
    "ground",
    "grounding_question",
    "parse_time_spans",
    "refine_span",
    "refine_span_once",
    "refine_spans",
    "relevance_curve",
    "relevance_question",
    "time_mentions",
    "window_starts",
    "window_times",
]
