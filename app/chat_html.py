"""The chat transcript as rich text for a QTextBrowser: questions, answers with their times as links, the
frame strip under each answer, its footer; and the empty states.

Links are URLs the panel handles (app/chat_panel.py): `seek:T` (a time, a frame thumbnail), `moment:S:E:N`
(make a moment of span S-E of turn N), `closer:S:E:N` (ask turn N's question again about S-E), `frames:N`
(show all or fewer of turn N's frames). Thumbnails are images named `frame:INDEX`, which the browser
asks the panel for. Qt's rich text knows a subset of HTML 4 and CSS: tables carry the backgrounds.
"""

from __future__ import annotations

import html
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from app.chat_turn import ChatTurn, Scope
from app.theme import ACCENT, BASE, DIM, TEXT
from engine.grounding import time_mentions

STRIP_ROWS = 2  # rows of thumbnails shown before "all N frames"
QUESTION_BG = "#34373d"
ANSWER_BG = "#26282c"
WARN = "#d8b13a"
ERROR = "#e06c6c"
LINK = ACCENT.lighter(135).name()


@dataclass(frozen=True)
class Layout:
    """What the transcript needs to know about the panel and the video."""

    duration_s: float
    thumb_width: int  # pixels of one thumbnail (the strip's height times the video's aspect)
    thumb_height: int
    columns: int  # thumbnails per strip row
    expanded: frozenset[int] = frozenset()  # turns whose whole strip is shown


def short_time(seconds: float, digits: int = 1) -> str:
    """1:23.4, or 1:02:03.5 past an hour (a tenth of a second: what a chat reader needs; `digits` more
    where frames lie closer together)."""
    scale = 10**digits
    units = round(max(0.0, seconds) * scale)
    whole, fraction = divmod(units, scale)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
    return f"{clock}.{fraction:0{digits}d}"


def _digits_apart(times: Sequence[float]) -> int:
    """The decimals that keep the labels of these times apart (a short clip sampled densely): 1 to 3."""
    gap = min((b - a for a, b in itertools.pairwise(times) if b > a), default=1.0)
    return 1 if gap >= 0.1 else 2 if gap >= 0.01 else 3


def transcript_html(turns: Sequence[ChatTurn], layout: Layout, progress: str = "") -> str:
    body = "".join(turn_html(turn, i, layout, progress) for i, turn in enumerate(turns))
    return _page(body)


def empty_html(has_video: bool, model_loaded: bool | None) -> str:
    if not has_video:
        title, lines = "No video open", ["Open a video (Ctrl+O) to ask about it."]
    else:
        title = "Ask about this video"
        lines = [
            "Type a question below and press Enter (Ctrl+L puts the cursor there).",
            "Answers show the frames they were based on; times in them are links that seek.",
        ]
        if model_loaded is False:
            lines.append("The model loads with the first question: that one takes longer.")
    text = "".join(f'<p style="color:{DIM.name()}">{html.escape(line)}</p>' for line in lines)
    return _page(f'<div align="center"><br><br><p style="font-size:large">{title}</p>{text}</div>')


def turn_html(turn: ChatTurn, index: int, layout: Layout, progress: str = "") -> str:
    parts = []
    if turn.conversation_start and index > 0:
        parts.append(
            f'<p align="center" style="color:{DIM.name()}; font-size:small">— new conversation —</p>'
        )
    question = html.escape(turn.question).replace("\n", "<br>")
    parts.append(
        _box(QUESTION_BG, f"{_caption('You · ' + scope_text(turn.scope))}<div>{question}</div>", top=4)
    )
    parts.append(_box(ANSWER_BG, _answer_body(turn, index, layout, progress)))
    return "".join(parts)


def scope_text(scope: Scope) -> str:
    if scope.kind == "video":
        return "whole video"
    where = f"{short_time(scope.start_s)}–{short_time(scope.end_s)}"
    return f"{where} (selected span)" if scope.kind == "span" else f"{where} (visible part)"


def answer_text_html(text: str, duration_s: float, frame_times_s: Sequence[float] | None, turn: int) -> str:
    """The answer with every time and span written in it as a seek link, spans followed by their actions."""
    out, at = [], 0
    mentions = sorted(time_mentions(text, duration_s, frame_times_s), key=lambda m: m.start)
    for mention in mentions:
        if mention.start < at:
            continue  # inside a span already linked (a lone time the range parse also read)
        out.append(_escape(text[at : mention.start]))
        written = _escape(text[mention.start : mention.end])
        out.append(f'<a href="seek:{mention.start_s:.3f}">{written}</a>')
        if mention.end_s > mention.start_s:
            span = f"{mention.start_s:.3f}:{mention.end_s:.3f}:{turn}"
            out.append(
                f' <a href="moment:{span}" style="{_ACTION}">[+&nbsp;moment]</a>'
                f' <a href="closer:{span}" style="{_ACTION}">[look&nbsp;closer]</a>'
            )
        at = mention.end
    out.append(_escape(text[at:]))
    return "".join(out)


def _answer_body(turn: ChatTurn, index: int, layout: Layout, progress: str) -> str:
    frames = turn.frames
    times = [t for _, t in frames] or None
    parts = [_caption("InternVideo2.5")]
    if turn.text:
        parts.append(f"<div>{answer_text_html(turn.text, layout.duration_s, times, index)}</div>")
    if turn.state == "answering":
        parts.append(
            f'<div style="color:{DIM.name()}">{html.escape(progress or "Waiting for the engine")}…</div>'
        )
    elif turn.state == "cancelled":
        parts.append(f'<div style="color:{WARN}; font-size:small">■ cancelled: the answer stops here</div>')
    elif turn.state == "failed" and turn.error:
        message = turn.error.get("message") or "the engine failed"
        hint = turn.error.get("hint")
        line = html.escape(message + (f" {hint}" if hint else ""))
        parts.append(f'<div style="color:{ERROR}">{line}</div>')
    if frames:
        parts.append(_strip(frames, index, layout))
        parts.append(f'<div style="color:{DIM.name()}; font-size:small">{html.escape(turn.footer())}</div>')
    return "".join(parts)


def _strip(frames: list[tuple[int, float]], turn: int, layout: Layout) -> str:
    """The frames the answer was based on: thumbnails with their times, each a link to its time."""
    columns = max(1, layout.columns)
    expanded = turn in layout.expanded
    shown = frames if expanded else frames[: columns * STRIP_ROWS]
    digits = _digits_apart(sorted(t for _, t in frames))
    rows = []
    for r in range(math.ceil(len(shown) / columns)):
        cells = []
        for index, time_s in shown[r * columns : (r + 1) * columns]:
            cells.append(
                f'<td align="center"><a href="seek:{time_s:.6f}">'
                f'<img src="frame:{index}" width="{layout.thumb_width}" height="{layout.thumb_height}"></a>'
                f'<br><span style="color:{DIM.name()}; font-size:x-small">'
                f"{short_time(time_s, digits)}</span></td>"
            )
        rows.append(f"<tr>{''.join(cells)}</tr>")
    more = ""
    if len(frames) > len(shown) or expanded:
        label = "fewer frames" if expanded else f"all {len(frames)} frames ▸"
        more = f'<div><a href="frames:{turn}" style="{_ACTION}">{label}</a></div>'
    return f'<table cellspacing="3" cellpadding="0" style="margin-top:6px">{"".join(rows)}</table>{more}'


_ACTION = f"color:{LINK}; font-size:small; text-decoration:none"


def _escape(text: str) -> str:
    return html.escape(text).replace("\n", "<br>")


def _caption(text: str) -> str:
    return f'<div style="color:{DIM.name()}; font-size:small">{html.escape(text)}</div>'


def _box(background: str, inner: str, top: int = 0) -> str:
    return (
        f'<table width="100%" cellpadding="8" cellspacing="0" style="background-color:{background};'
        f' margin-top:{top}px; margin-bottom:2px"><tr><td>{inner}</td></tr></table>'
    )


def _page(body: str) -> str:
    return (
        f'<html><body style="background-color:{BASE.name()}; color:{TEXT.name()}">'
        f"<style>a {{ color:{LINK}; }}</style>{body}</body></html>"
    )
