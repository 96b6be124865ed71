"""Sidecar files that list the exported spans: SRT and WebVTT subtitles, CSV, JSON (docs/formats.md).

Subtitle cues are timed on the source video (span times, without padding), so a player showing the
source with the .srt or .vtt loaded shows each span's caption while it plays. CSV and JSON also link
each span to its clip file and the source time the clip covers (padded, on whole frames).

Subtitles are written with webvtt-py, which writes both formats and refuses cue text the formats
cannot carry (blank lines, "-->"); the caption text is made safe before it gets there.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import webvtt

from engine.atomic import write_bytes_atomic
from engine.errors import ExportError
from engine.export.clip import Clip
from engine.spans import Span
from engine.timecode import format_timecode

SIDECAR_KINDS = ("srt", "vtt", "csv", "json")
FORMAT_VERSION = 1

CSV_COLUMNS = (
    "number", "start_s", "end_s", "start", "end", "duration_s", "score", "source", "label", "query",
    "clip", "clip_start_s", "clip_end_s", "clip_start", "clip_end",
)  # fmt: skip

_VTT_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_SRT_SAFE = {"<": "‹", ">": "›"}  # SRT has no escapes, and players take <...> for formatting tags


@dataclass(frozen=True)
class ExportedSpan:
    """One span of an export, numbered from 1 in the spans file's order, with its clip if one was cut."""

    number: int
    span: Span
    clip: Clip | None


def caption(item: ExportedSpan) -> str:
    """The cue text: "3. <label or query> (0.87)", on one line."""
    span = item.span
    title = " ".join((span.label or span.query or "span").split())
    score = f" ({span.score:.2f})" if span.score is not None else ""
    return f"{item.number}. {title}{score}".replace("-->", "→")


def vtt_text(items: Sequence[ExportedSpan]) -> str:
    return _captions(items, _VTT_ESCAPES).content


def srt_text(items: Sequence[ExportedSpan]) -> str:
    out = io.StringIO()
    _captions(items, _SRT_SAFE).write(out, format="srt")
    return out.getvalue() + "\n"


def csv_text(items: Sequence[ExportedSpan]) -> str:
    """RFC 4180 CSV, one row per span; empty cells for no score, label, query or clip."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for item in items:
        row = _record(item)
        clip = row.pop("clip") or {}
        cells = row | {f"clip_{k}": clip.get(k) for k in ("start_s", "end_s", "start", "end")}
        cells["clip"] = clip.get("file")
        writer.writerow("" if cells[c] is None else cells[c] for c in CSV_COLUMNS)
    return out.getvalue()


def json_text(items: Sequence[ExportedSpan], video: Path, pad_s: float) -> str:
    document = {
        "format": "scenescope-export",
        "version": FORMAT_VERSION,
        "video": str(video),
        "pad_s": pad_s,
        "spans": [_record(item) for item in items],
    }
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def sidecar_texts(items: Sequence[ExportedSpan], video: Path, pad_s: float) -> dict[str, str]:
    """{kind: file content} for every kind in SIDECAR_KINDS."""
    return {
        "srt": srt_text(items),
        "vtt": vtt_text(items),
        "csv": "\ufeff" + csv_text(items),  # a byte-order mark: spreadsheets then read UTF-8 labels right
        "json": json_text(items, video, pad_s),
    }


def write_sidecars(
    paths: dict[str, Path], items: Sequence[ExportedSpan], video: Path, pad_s: float, *, overwrite: bool
) -> list[Path]:
    """Write each sidecar atomically (as bytes: the same line endings on every system)."""
    texts = sidecar_texts(items, video, pad_s)
    for kind, path in paths.items():
        try:
            write_bytes_atomic(path, texts[kind].encode("utf-8"), overwrite=overwrite)
        except FileExistsError:
            raise ExportError(
                f"{path} already exists. Choose another folder, or allow overwriting."
            ) from None
        except OSError as e:
            raise ExportError(
                f"Cannot write {path}: {e.strerror or e}. Check the folder and free disk space."
            ) from None
    return list(paths.values())


def _captions(items: Sequence[ExportedSpan], replacements: dict[str, str]) -> webvtt.WebVTT:
    pattern = re.compile("|".join(map(re.escape, replacements)))
    document = webvtt.WebVTT()
    for item in items:
        start_ms = round(item.span.start_s * 1000)
        end_ms = max(round(item.span.end_s * 1000), start_ms + 1)  # a cue must end after it starts
        document.captions.append(
            webvtt.Caption(
                start=format_timecode(start_ms / 1000),
                end=format_timecode(end_ms / 1000),
                text=pattern.sub(lambda m: replacements[m.group()], caption(item)),
                identifier=str(item.number),
            )
        )
    return document


def _record(item: ExportedSpan) -> dict[str, Any]:
    """The JSON object of one span; CSV flattens the same fields."""
    span, clip = item.span, item.clip
    record = {
        "number": item.number,
        "start_s": _seconds(span.start_s),
        "end_s": _seconds(span.end_s),
        "start": format_timecode(span.start_s),
        "end": format_timecode(span.end_s),
        "duration_s": _seconds(span.duration_s),
        "score": span.score,
        "source": span.source,
        "label": span.label,
        "query": span.query,
        "clip": None,
    }
    if clip is not None:
        record["clip"] = {
            "file": clip.path.name,
            "start_s": _seconds(clip.frames.start_s),
            "end_s": _seconds(clip.frames.end_s),
            "start": format_timecode(clip.frames.start_s),
            "end": format_timecode(clip.frames.end_s),
            "frames": clip.frames.frame_count,
            "video": clip.video,
            "audio": clip.audio,
        }
    return record


def _seconds(value: float) -> float:
    return round(value, 6)
