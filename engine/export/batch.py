"""`export_spans`: a clip per span and the sidecars listing them, all checked before anything is written.

    result = export_spans("harbour.mp4", load_spans("spans.json"), "out/", pad_s=1.0)
    for item in result.spans: item.clip.path, item.clip.frames.start_s

Everything that can be known up front is: every span must touch the video, no output file may exist
(unless `overwrite`) and the folder must take files (`check_outputs`), so a bad spans file, a reused or
read-only folder fails before minutes of encoding.
Clips are written one by one, each atomically; the sidecars last, once every clip they name exists.
A cancelled or failed export keeps the clips already finished and no partial file.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import ExportError
from engine.export.burn_in import check_tracks_fit
from engine.export.clip import Clip, EncodeSettings, export_clip
from engine.export.frames import frame_range
from engine.export.names import clip_name, safe_stem, sidecar_name
from engine.export.outputs import check_outputs
from engine.export.sidecars import SIDECAR_KINDS, ExportedSpan, write_sidecars
from engine.jobs import Job, job_or_new
from engine.spans import Span
from engine.timecode import format_timecode
from engine.tracking import TrackStore
from engine.video import VideoInfo, probe


@dataclass(frozen=True)
class ExportResult:
    spans: list[ExportedSpan]  # in the spans' order; `clip` is None when clips were not asked for
    sidecars: list[Path]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form printed by `scenescope export --json`: every span with its clip, the clips
        alone (a listing of what was written) and the sidecars."""
        return {
            "spans": [
                {"number": s.number, "span": s.span.to_dict(), "clip": s.clip and s.clip.to_dict()}
                for s in self.spans
            ],
            "clips": [{"number": s.number, **s.clip.to_dict()} for s in self.spans if s.clip is not None],
            "sidecars": [str(p) for p in self.sidecars],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExportResult:
        spans = [
            ExportedSpan(
                number=int(s["number"]),
                span=Span.from_dict(s["span"]),
                clip=None if s["clip"] is None else Clip.from_dict(s["clip"]),
            )
            for s in data["spans"]
        ]
        return cls(spans=spans, sidecars=[Path(p) for p in data["sidecars"]])


@dataclass(frozen=True)
class _Planned:
    number: int
    span: Span
    start_s: float  # padded and clamped to the video
    end_s: float
    frames: int  # how many frames the clip will hold (for progress)
    path: Path


def export_spans(
    video: str | os.PathLike | VideoInfo,
    spans: Sequence[Span],
    out_dir: str | os.PathLike,
    *,
    pad_s: float = 0.0,
    clips: bool = True,
    sidecars: bool | Sequence[str] = True,
    reencode: bool = False,
    overwrite: bool = False,
    settings: EncodeSettings | None = None,
    tracks: TrackStore | None = None,
    job: Job | None = None,
) -> ExportResult:
    """Cut a clip of each span, `pad_s` seconds wider on both sides, and write the sidecars.

    Clips are `<video stem>_<NN>_<start>-<end>.mp4`, sidecars `<video stem>.spans.{srt,vtt,csv,json}`
    (`sidecars`: all, none, or the kinds named), all in `out_dir` (created if missing). See
    `export_clip` for how each clip is cut; with `tracks`, every clip holds the same frames with the
    tracked masks and ids burned in (a "burn-in" clip).
    Raises `ExportError` before writing anything when a span lies outside the video, an output file
    exists (and not `overwrite`), the folder cannot be written or `tracks` are of another video.
    Progress: stage "export", frames written of all clips' frames, message "clip k of n"; a cancelled
    `job` raises `Cancelled` (finished clips stay).
    """
    job = job_or_new(job)
    info = video if isinstance(video, VideoInfo) else probe(video)
    out_dir = Path(out_dir)
    stem = safe_stem(info.path.stem)
    if tracks is not None:
        check_tracks_fit(info, tracks)
    planned = _plan(info, spans, out_dir, stem, pad_s)
    sidecar_paths = sidecar_paths_for(info.path, out_dir, _sidecar_kinds(sidecars))
    check_outputs(out_dir, _outputs(planned, sidecar_paths, clips), overwrite=overwrite)
    _make_folder(out_dir)

    results = []
    total = sum(p.frames for p in planned) if clips else 0
    written = 0  # frames of the clips before this one
    for plan in planned:
        clip: Clip | None = None
        if clips:
            clip = export_clip(
                info,
                plan.start_s,
                plan.end_s,
                plan.path,
                reencode=reencode,
                overwrite=overwrite,
                settings=settings,
                tracks=tracks,
                job=job.within("export", written, total, f"clip {plan.number} of {len(planned)}"),
            )
            written += plan.frames
        results.append(ExportedSpan(number=plan.number, span=plan.span, clip=clip))
    written_sidecars = write_sidecars(sidecar_paths, results, info.path.resolve(), pad_s, overwrite=overwrite)
    return ExportResult(spans=results, sidecars=written_sidecars)


def span_outputs(
    info: VideoInfo,
    spans: Sequence[Span],
    out_dir: str | os.PathLike,
    *,
    pad_s: float = 0.0,
    clips: bool = True,
    sidecars: bool | Sequence[str] = True,
) -> list[Path]:
    """The files `export_spans` with these arguments writes, clips first (to ask before replacing any).

    Raises `ExportError` as `export_spans` does for spans outside the video.
    """
    out_dir = Path(out_dir)
    planned = _plan(info, spans, out_dir, safe_stem(info.path.stem), pad_s)
    return _outputs(planned, sidecar_paths_for(info.path, out_dir, _sidecar_kinds(sidecars)), clips)


def _outputs(planned: list[_Planned], sidecar_paths: dict[str, Path], clips: bool) -> list[Path]:
    return ([p.path for p in planned] if clips else []) + list(sidecar_paths.values())


def sidecar_paths_for(
    video: str | os.PathLike, out_dir: str | os.PathLike, kinds: Sequence[str] = SIDECAR_KINDS
) -> dict[str, Path]:
    """Where `export_spans` writes the sidecars of `video` in `out_dir`, by kind ("srt", "vtt", ...)."""
    stem = safe_stem(Path(video).stem)
    return {kind: Path(out_dir) / sidecar_name(stem, kind) for kind in kinds}


def _sidecar_kinds(sidecars: bool | Sequence[str]) -> tuple[str, ...]:
    if isinstance(sidecars, bool):
        return SIDECAR_KINDS if sidecars else ()
    unknown = sorted(set(sidecars) - set(SIDECAR_KINDS))
    if unknown:
        raise ExportError(f"Unknown sidecar kind {unknown[0]!r}: choose from {', '.join(SIDECAR_KINDS)}.")
    return tuple(kind for kind in SIDECAR_KINDS if kind in sidecars)


def _plan(info: VideoInfo, spans: Sequence[Span], out_dir: Path, stem: str, pad_s: float) -> list[_Planned]:
    if not spans:
        raise ExportError("There are no spans to export. Run grounding first, or check the spans file.")
    if not (math.isfinite(pad_s) and pad_s >= 0):
        raise ExportError(f"The padding must be zero or more seconds, not {pad_s}.")
    planned = []
    for number, span in enumerate(spans, start=1):
        if span.start_s >= info.duration_s:
            raise ExportError(
                f"Span {number} ({format_timecode(span.start_s)}-{format_timecode(span.end_s)}) starts after "
                f"the end of {info.path.name} ({format_timecode(info.duration_s)}). "
                "Check that the spans file belongs to this video."
            )
        start_s, end_s = max(0.0, span.start_s - pad_s), min(info.duration_s, span.end_s + pad_s)
        frames = frame_range(info.frames, start_s, end_s)
        name = clip_name(stem, number, len(spans), span.start_s, span.end_s)
        planned.append(_Planned(number, span, start_s, end_s, frames.frame_count, out_dir / name))
    return planned


def _make_folder(out_dir: Path) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ExportError(f"Cannot create the folder {out_dir}: {e.strerror or e}.") from None
