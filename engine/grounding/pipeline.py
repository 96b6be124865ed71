"""`ground`: every moment of a video that matches a query, as scored spans, from two signals.

open (same sampling as `ask`: the cached visual tokens are shared)
  -> text answer: the model asked for start and end times, given every frame's time -> parse.py
  -> relevance curve: P(yes) per window of frames, language model only (relevance.py)
  -> combine: curve runs above an adaptive threshold + the answer's spans, scored, NMS (spans.py)
  -> refine: dense re-sampling around the best spans to sharpen their edges (refine.py)
  -> `Span`s in time order, times in seconds of presentation time
"""

from __future__ import annotations

import itertools
import os
import time

from engine.assistant import DEFAULT_SAMPLING, VideoAssistant, VideoContext
from engine.grounding.parse import parse_time_spans
from engine.grounding.prompt import check_query, grounding_question
from engine.grounding.refine import refine_span, refine_spans
from engine.grounding.relevance import relevance_curve
from engine.grounding.result import GroundingOptions, GroundingResult
from engine.grounding.spans import RelevanceCurve, ScoredSpan, adaptive_threshold, combine_spans
from engine.jobs import Job, job_or_new
from engine.spans import Span
from engine.video import Sampling, VideoInfo, sampled_range_s
from engine.video.sampling import GROUP


def ground(
    assistant: VideoAssistant,
    video: VideoContext | VideoInfo | str | os.PathLike,
    query: str,
    *,
    sampling: Sampling = DEFAULT_SAMPLING,
    options: GroundingOptions | None = None,
    job: Job | None = None,
) -> GroundingResult:
    """Find the moments of `video` that show `query`.

    `video` is an opened `VideoContext` (its sampling is used), or a file or `VideoInfo` opened here
    with `sampling` (default: `ask`'s, so a video already asked about runs no vision pass for the scan).
    Progress, in order: "encode" (opening the video), "answer" (tokens of the written answer), "scan"
    (windows scored, each batch handed out as a "curve" partial, see `relevance_curve`), "refine"
    (spans refined). A cancelled `job` stops the work (`Cancelled`).
    """
    check_query(query)
    options = options or GroundingOptions()
    job = job_or_new(job)
    marks = [("start", time.perf_counter())]  # (what just ended, when)
    if isinstance(video, VideoContext):
        context, passes = video, 0
    else:
        context = assistant.open_video(video, sampling, job=job)
        passes = context.vision_passes
        marks.append(("open_s", time.perf_counter()))
    model, info, frames = context.model, context.info, context.frames
    _, range_end = sampled_range_s(info.frames, frames.sampling)

    answer_text = ""
    if options.text_answer:
        question = grounding_question(query, frames.times_s, info.duration_s)
        answer_job = job.within("answer", 0, options.max_new_tokens, partials=False)
        answer = context.conversation().ask(question, answer_job, max_new_tokens=options.max_new_tokens)
        answer_text = answer.text
        marks.append(("answer_s", time.perf_counter()))
    text_spans = parse_time_spans(answer_text, info.duration_s, frames.times_s)

    curve = _scan(model, query, options, context.visual_tokens, frames.times_s, range_end, job)
    marks.append(("scan_s", time.perf_counter()))
    threshold = adaptive_threshold(curve.scores)
    scored = combine_spans(text_spans, curve, moment_halfwidth_s=_group_s(context) / 2, threshold=threshold)

    if options.refine and scored:
        zooms = min(options.refine_spans, len(scored))
        zoom = _Zoom(assistant, info, query, options, job, zooms)
        job.progress("refine", 0, zooms)
        scored = refine_spans(
            scored,
            zoom,
            margin_s=_group_s(context),
            duration_s=info.duration_s,
            max_spans=options.refine_spans,
        )
        passes += zoom.vision_passes
        marks.append(("refine_s", time.perf_counter()))
    timings = {name: end - since for (_, since), (name, end) in itertools.pairwise(marks)}
    timings["total_s"] = marks[-1][1] - marks[0][1]
    return GroundingResult(
        query=query,
        spans=_to_spans(scored, query, info.duration_s),
        curve=curve,
        threshold=threshold,
        answer_text=answer_text,
        frames=frames,
        vision_passes=passes,
        timings_s=timings,
    )


def refine_span_once(
    assistant: VideoAssistant,
    context: VideoContext,
    span: Span,
    *,
    options: GroundingOptions | None = None,
    job: Job | None = None,
) -> tuple[list[Span], int]:
    """The dense second look at one span of `context`'s video (the window's "Refine"): the span's range
    widened by one group of `context`'s sampling, sampled again densely and scanned for `span.query`, its
    edges moved as `ground`'s refinement moves them (`refine_span`). Returns the refined span (several
    when the fine curve holds separate runs; the span itself, rescored, when it supports none) and the
    vision passes it cost. Progress: "refine" 0/1 then 1/1."""
    if not span.query:
        raise ValueError("a span needs its query to be refined")
    check_query(span.query)
    options, job = options or GroundingOptions(), job_or_new(job)
    info, margin = context.info, _group_s(context)
    zoom = _Zoom(assistant, info, span.query, options, job, 1)
    job.progress("refine", 0, 1)
    start, end = max(0.0, span.start_s - margin), min(info.duration_s, span.end_s + margin)
    scored = ScoredSpan(span.start_s, span.end_s, span.score or 0.0, span.source)
    pieces = refine_span(scored, zoom(start, end))
    refined = [
        Span(p.start_s, p.end_s, p.score, span.source, span.label, span.query)
        for p in _to_spans(pieces, span.query, info.duration_s)
    ]
    return refined, zoom.vision_passes


class _Zoom:
    """Scores a range densely for `query` (a `ScoreRange` for `refine_spans`), counting vision passes and
    reporting "refine" progress out of `total`."""

    def __init__(self, assistant, info: VideoInfo, query: str, options: GroundingOptions, job: Job, total):
        self.assistant, self.info, self.query, self.options, self.job = assistant, info, query, options, job
        self.total, self.done, self.vision_passes = total, 0, 0

    def __call__(self, start_s: float, end_s: float) -> RelevanceCurve:
        sampling = _zoom_sampling(self.info, start_s, end_s, self.options)
        fine = self.assistant.open_video(self.info, sampling, job=self.job.quiet())
        self.vision_passes += fine.vision_passes
        model, times = fine.model, fine.frames.times_s
        # Windows of one group, moving by one: the zoomed frames are dense enough to place edges.
        curve = _scan(
            model, self.query, self.options, fine.visual_tokens, times, end_s, self.job.quiet(), 1, 1
        )
        self.done += 1
        self.job.progress("refine", self.done, self.total)
        return curve


def _scan(
    model,
    query: str,
    options: GroundingOptions,
    tokens,
    times,
    end_s: float,
    job: Job,
    window_groups: int | None = None,
    stride_groups: int | None = None,
) -> RelevanceCurve:
    """The relevance curve of `tokens` for `query`, with the options' windows unless given."""
    return relevance_curve(
        model,
        tokens,
        times,
        end_s,
        query,
        window_groups=options.window_groups if window_groups is None else window_groups,
        stride_groups=options.stride_groups if stride_groups is None else stride_groups,
        batch_windows=options.batch_windows,
        job=job,
    )


def _group_s(context: VideoContext) -> float:
    """The time between the starts of two groups of the context's sampled frames."""
    start, end = sampled_range_s(context.info.frames, context.frames.sampling)
    return (end - start) * context.model.frame_group / len(context.frames)


def _zoom_sampling(info: VideoInfo, start_s: float, end_s: float, options: GroundingOptions) -> Sampling:
    """Up to `refine_frames` frames over [start_s, end_s], whole groups, no more than the video has there."""
    available = info.frames.index_at(end_s) - info.frames.index_at(start_s) + 1
    count = max(GROUP, min(options.refine_frames, available) // GROUP * GROUP)
    return Sampling("frames", count, start_s, end_s)


def _to_spans(scored: list[ScoredSpan], query: str, duration_s: float) -> list[Span]:
    """Engine spans in time order, clamped to the video, times to the microsecond (a moment squeezed to
    nothing at the video's end is dropped)."""
    spans = []
    for s in sorted(scored, key=lambda s: (s.start_s, s.end_s)):
        start, end = round(max(0.0, s.start_s), 6), round(min(duration_s, s.end_s), 6)
        if end > start:
            score = min(1.0, max(0.0, s.score))
            spans.append(Span(start_s=start, end_s=end, score=score, source=s.source, query=query))
    return spans
