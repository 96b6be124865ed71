"""The export requests: moment clips and sidecars (export_spans), tracked objects' masks, COCO, MOT and
burned-in video (export_tracks). Both check their plan before writing anything and write atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.jobs import Job
from engine.spans import Span
from engine.worker.context import Context
from engine.worker.protocol import BAD_REQUEST, Args, ProtocolError

TRACK_EXPORTS = ("coco", "mot", "png", "palette", "video")  # default: the first 3


def export_spans(ctx: Context) -> dict[str, Any]:
    """A clip per span (masks burned in when `tracker` is given) and the sidecars listing them.

    `plan`: write nothing; say which files the export would write and which of them exist.
    """
    from engine.export import SIDECAR_KINDS, span_outputs
    from engine.export import export_spans as export

    a = ctx.args
    spans = []
    for number, item in enumerate(a.items("spans", most=100_000), start=1):
        try:
            spans.append(Span.from_dict(item))
        except ValueError as e:
            raise ProtocolError(BAD_REQUEST, f"span {number}: {e}") from None
    tracker = a.text("tracker", optional=True)
    tracks = None if tracker is None else ctx.handles.get("tracker", tracker).tracker.store
    info, out = ctx.video().info, Path(a.text("out_dir"))
    choices = {
        "pad_s": a.number("pad_s", optional=True, low=0, high=3600) or 0.0,
        "clips": a.flag("clips", True),
        "sidecars": a.some_of("sidecars", SIDECAR_KINDS),
    }
    if a.flag("plan"):
        return _planned(out, span_outputs(info, spans, out, **choices))
    result = export(
        info,
        spans,
        out,
        **choices,
        reencode=a.flag("reencode"),
        overwrite=a.flag("overwrite"),
        settings=_encode_settings(a),
        tracks=tracks,
        job=ctx.job,
    )
    return result.to_dict()


def export_tracks(ctx: Context) -> dict[str, Any]:
    """The tracker's masks as COCO JSON (tracks.json), MOT boxes (boxes.csv), PNG masks per object
    (masks/object_<id>/), indexed palette PNGs (masks/palette/) and a video with the masks burned in
    (tracked.mp4, or tracked_<start>-<end>.mp4 for `start_s`/`end_s`), all checked before any is written.

    `plan`: write nothing; say which files and folders the export would write and which of them exist.
    """
    from engine.export import (
        check_outputs,
        export_clip,
        frame_range,
        tracked_video_name,
        write_coco_json,
        write_mot_csv,
        write_palette_pngs,
        write_png_masks,
    )

    a = ctx.args
    tracker = ctx.handles.get("tracker", a.text("tracker")).tracker
    store, info = tracker.store, tracker.video
    formats = a.items("formats", optional=True, most=len(TRACK_EXPORTS)) or list(TRACK_EXPORTS[:3])
    if not set(formats) <= set(TRACK_EXPORTS):
        raise ProtocolError(BAD_REQUEST, f"'formats' may hold {', '.join(TRACK_EXPORTS)}, not {formats}")
    start_s, end_s = a.number("start_s", optional=True, low=0), a.number("end_s", optional=True, low=0)
    out, overwrite = Path(a.text("out_dir")), a.flag("overwrite")
    files = {
        "coco": out / "tracks.json",
        "mot": out / "boxes.csv",
        "video": out / tracked_video_name(start_s, end_s),
    }
    files = {kind: path for kind, path in files.items() if kind in formats}
    objects = {obj: out / "masks" / f"object_{obj}" for obj in store.object_ids()} if "png" in formats else {}
    folders = [*objects.values(), *([out / "masks" / "palette"] if "palette" in formats else [])]
    if a.flag("plan"):
        return _planned(out, list(files.values()), folders)
    check_outputs(out, files.values(), folders, overwrite=overwrite)  # all of them before writing any
    clip_start, clip_end = start_s or 0.0, info.duration_s if end_s is None else end_s
    steps = {  # frames (or masks) each step writes, for one progress count over all of them
        "png": sum(len(store.frame_indices(obj)) for obj in objects),
        "palette": store.frames_tracked(),
        "video": frame_range(info.frames, clip_start, clip_end).frame_count,
    }
    total, done = sum(steps[kind] for kind in formats if kind in steps), 0

    def step(kind: str, message: str) -> Job:
        nonlocal done
        job, done = ctx.job.within("export", done, total, message), done + steps[kind]
        return job

    written: dict[str, Any] = {}
    if "coco" in formats:
        written["coco"] = str(write_coco_json(store, files["coco"], overwrite=overwrite))
    if "mot" in formats:
        written["mot"] = str(write_mot_csv(store, files["mot"], overwrite=overwrite))
    if "png" in formats:
        job = step("png", "PNG masks")
        folders_written = write_png_masks(store, out / "masks", overwrite=overwrite, job=job)
        written["png"] = {str(obj): str(folder) for obj, folder in folders_written.items()}
    if "palette" in formats:
        job = step("palette", "palette PNGs")
        written["palette"] = str(write_palette_pngs(store, folders[-1], overwrite=overwrite, job=job))
    if "video" in formats:
        job = step("video", "video with masks")
        clip = export_clip(
            info, clip_start, clip_end, files["video"], overwrite=overwrite, settings=_encode_settings(a),
            tracks=store, job=job,
        )  # fmt: skip
        written["video"] = clip.to_dict()
    return written


def _encode_settings(a: Args):
    """The `settings` object (`crf` 0-51, `preset`, `audio_bitrate`, `smart_cut`); defaults where absent."""
    from engine.export import X264_PRESETS, EncodeSettings

    chosen, default = a.sub("settings"), EncodeSettings()
    crf = chosen.integer("crf", optional=True, low=0, high=51)
    bitrate = chosen.integer("audio_bitrate", optional=True, low=16_000, high=512_000)
    return EncodeSettings(
        crf=default.crf if crf is None else crf,
        preset=chosen.choice("preset", X264_PRESETS, default.preset),
        audio_bitrate=default.audio_bitrate if bitrate is None else bitrate,
        smart_cut=chosen.flag("smart_cut", default.smart_cut),
    )


def _planned(out: Path, files: list[Path], folders: list[Path] = ()) -> dict[str, Any]:
    """What an export would write and which of it exists: checked as the export checks (kinds, a
    writable folder), except that existing outputs are listed rather than refused."""
    from engine.export import check_outputs

    check_outputs(out, files, folders, overwrite=True)
    outputs = [*files, *folders]
    return {"outputs": [str(p) for p in outputs], "existing": [str(p) for p in outputs if p.exists()]}
