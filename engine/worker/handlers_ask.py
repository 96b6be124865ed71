"""The video LLM's requests: ask (a question, or a follow-up in a conversation), ground (find moments), and
refine_span (a denser second look at one moment). Each streams its partial results through the job."""

from __future__ import annotations

from typing import Any

from engine.spans import Span
from engine.video import Sampling
from engine.video.sampling import GROUP
from engine.worker.context import Context
from engine.worker.protocol import BAD_REQUEST, Args, ProtocolError
from engine.worker.state import Conversation, Models, OpenVideo

MAX_FRAMES = 2048  # frames one sampling may ask for (512 is the model's budget; 4x leaves room)
MAX_NEW_TOKENS = 4096
SAMPLING_MODES = ("frames", "fps", "auto", "duration")


def ask(ctx: Context) -> dict[str, Any]:
    """A question about a video, in a new conversation or a follow-up in `conversation`."""
    a = ctx.args
    question = a.text("question")
    max_new_tokens = a.integer("max_new_tokens", optional=True, low=1, high=MAX_NEW_TOKENS)
    name = a.text("conversation", optional=True)
    conversation = None if name is None else ctx.handles.get("conversation", name)
    video_name = conversation.video if conversation else a.text("video")
    video: OpenVideo = ctx.handles.get("video", video_name)
    sampling = _sampling(a, ctx.state.models)
    with ctx.state.models.using("internvideo", ctx.job) as assistant:
        if conversation is None:
            context = video.context(assistant, sampling, ctx.job)
            conversation = Conversation(video_name, context.conversation())
            name = ctx.handles.add("conversation", conversation)
        options = {} if max_new_tokens is None else {"max_new_tokens": max_new_tokens}
        answer = conversation.chat.ask(question, ctx.job, **options)
    return {"conversation": name, "answer": answer.to_dict()}


def ground(ctx: Context) -> dict[str, Any]:
    """The moments of a video that match a query: spans, the relevance curve, the written answer."""
    from engine.grounding import GroundingOptions, check_query
    from engine.grounding import ground as find_moments

    a = ctx.args
    query = a.text("query")
    check_query(query)
    choices = a.sub("options")
    options = GroundingOptions(
        refine=choices.flag("refine", True), text_answer=choices.flag("text_answer", True)
    )
    video = ctx.video()
    sampling = _sampling(a, ctx.state.models)
    with ctx.state.models.using("internvideo", ctx.job) as assistant:
        context = video.context(assistant, sampling, ctx.job)
        result = find_moments(assistant, context, query, options=options, job=ctx.job)
    return {**result.to_dict(), "model": _internvideo_id(ctx)}  # the window keeps which model found them


def refine_span(ctx: Context) -> dict[str, Any]:
    """The dense second look at one span (`span`: a span object with its `query`), on the video sampled
    as `sampling` (the sampling it was found with: its visual tokens are cached, and one group of it is
    the margin looked at around the span)."""
    from engine.grounding import check_query, refine_span_once

    a = ctx.args
    try:
        span = Span.from_dict(a.obj("span"))
    except ValueError as e:
        raise ProtocolError(BAD_REQUEST, f"'span': {e}") from None
    if not span.query:
        raise ProtocolError(BAD_REQUEST, "'span' needs the 'query' it answers, to look for it again")
    check_query(span.query)
    video = ctx.video()
    if span.end_s > video.info.duration_s + 1e-6:
        raise ProtocolError(
            BAD_REQUEST,
            f"'span' ends at {span.end_s:g} s, past the end of the video ({video.info.duration_s:.3f} s)",
        )
    sampling = _sampling(a, ctx.state.models)
    with ctx.state.models.using("internvideo", ctx.job) as assistant:
        context = video.context(assistant, sampling, ctx.job)
        spans, passes = refine_span_once(assistant, context, span, job=ctx.job)
    return {"spans": [s.to_dict() for s in spans], "vision_passes": passes}


def _sampling(a: Args, models: Models) -> Sampling:
    """The `sampling` object ({"mode", "value", "start_s", "end_s"}), or the memory planner's frame count."""
    if not a.has("sampling"):
        return Sampling("frames", models.plan().frames)
    inner = a.sub("sampling")
    mode = inner.choice("mode", SAMPLING_MODES, "frames")
    highs = {"frames": MAX_FRAMES, "fps": 60.0, "auto": MAX_FRAMES, "duration": 0.0}
    value = inner.number("value", optional=mode == "duration", low=0, high=highs[mode]) or 0.0
    if mode in ("frames", "auto") and value < GROUP:
        raise ProtocolError(
            BAD_REQUEST, f"sampling 'value' must be at least {GROUP} frames for mode {mode!r}"
        )
    if mode == "fps" and value <= 0:
        raise ProtocolError(BAD_REQUEST, "sampling 'value' must be more than 0 frames per second")
    start, end = inner.number("start_s", optional=True, low=0), inner.number("end_s", optional=True, low=0)
    return Sampling(mode, value, start, end)


def _internvideo_id(ctx: Context) -> str:
    """The InternVideo model in use, as configured: a folder, or a Hub id at its commit."""
    from engine.models.internvideo.load import DEFAULT_REPO, DEFAULT_REVISION

    settings = ctx.state.models.settings
    if settings.internvideo is None:
        return f"{DEFAULT_REPO}@{DEFAULT_REVISION}"
    return settings.internvideo + (f"@{settings.revision}" if settings.revision else "")
