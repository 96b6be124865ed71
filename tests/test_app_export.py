"""File ▸ Export… on real widgets with the real worker: the dialog writes what `scenescope export` and
`scenescope track` write for the same spans and prompts (file lists, sidecar texts, every clip frame's
barcode, audio, masks), also right after a session is reopened (the tracker rebuilt first); existing
files are replaced only after "Replace"; a cancel leaves no half-written file; the event loop keeps
running during an export; each state says what it is."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QUrl

from app.export_dialog import FOLDER_KEY, ExportDialog
from app.main_window import MainWindow
from engine.export import draw_masks
from engine.spans import Span, save_spans
from engine.tracking import TrackStore
from engine.video import decode_frames, probe
from tests.conftest import checkout_env
from tests.heartbeat import Heartbeat
from tests.media import read_barcode
from tests.test_app import on_screen, open_and_wait, press, shown_ready, store, window_env  # noqa: F401

SCENESCOPE = shutil.which("scenescope", path=str(Path(sys.executable).parent)) or "scenescope"
SPANS = [
    Span(0.5, 1.0, score=0.8, source="model", label="a boat <docks>", query="boat?"),
    Span(1.3, 2.2, score=None, source="user", label=None, query="the start"),
]


def new_window(qtbot, store, sam2_folder) -> MainWindow:  # noqa: F811
    window = MainWindow(argparse.Namespace(device="cpu", sam_model=str(sam2_folder)), store)
    shown_ready(qtbot, window)
    return window


@pytest.fixture
def window(qtbot, store, window_env, data_dir, sam2_folder, monkeypatch):  # noqa: F811
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # as the CLI runs below: the same masks to the bit
    window = new_window(qtbot, store, sam2_folder)
    yield window
    window.close()


@pytest.fixture(scope="module")
def video(media) -> Path:
    return media(
        "export window.mp4", frames=60, fps=20, width=160, height=120, gop=10, texture=True, audio=True
    )


def open_dialog(qtbot, window, spans) -> ExportDialog:
    """The spans as accepted moments (what the dialog exports), then File ▸ Export… by its key."""
    while window.moments.moments:
        window.moments.select(window.moments.moments[0].id)
        window.moments.delete()
    for span in spans:
        window.moments.add_moment(span)
        window.moments.decide("accepted")
    press(window, "Ctrl+E")
    dialog = window.export_dialog
    qtbot.addWidget(dialog)
    return dialog


def run_to(qtbot, dialog: ExportDialog, state: str, timeout: int = 120_000) -> None:
    qtbot.waitUntil(lambda: dialog.controller.state == state, timeout=timeout)


def cli(*args: str) -> None:
    done = subprocess.run(
        [SCENESCOPE, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=checkout_env(OMP_NUM_THREADS="1"),
    )
    assert done.returncode == 0, done.stderr


def cli_export(video: Path, spans: list[Span], out: Path, *options: str) -> None:
    """`scenescope export VIDEO --spans FILE --out OUT OPTIONS...`, the spans written beside `out`."""
    spans_file = out.with_name(out.name + " spans.json")
    save_spans(spans_file, spans)
    cli("export", str(video), "--spans", str(spans_file), "--out", str(out), *options)


def barcodes(path: Path) -> list[int]:
    with av.open(str(path)) as c:
        return [read_barcode(f.to_ndarray(format="rgb24")) for f in c.decode(video=0)]


def has_audio(path: Path) -> bool:
    with av.open(str(path)) as c:
        return bool(c.streams.audio)


def test_the_dialog_writes_what_scenescope_export_writes(qtbot, window, video, tmp_path, store) -> None:  # noqa: F811
    open_and_wait(qtbot, window, video)
    dialog = open_dialog(qtbot, window, SPANS)
    out = tmp_path / "from the window"
    dialog.folder.setText(str(out))
    dialog.pad.setValue(0.25)
    dialog.preset.setCurrentText("ultrafast")
    assert dialog.export.isEnabled() and not dialog.tracks_box.isEnabled()  # no tracked objects
    qtbot.waitUntil(window.timeline.thumbnails.idle, timeout=30_000)  # the window has settled
    beat = Heartbeat()
    beat.start()
    dialog.export.click()
    run_to(qtbot, dialog, "done")
    beat.stop()
    assert beat.held(5), beat.report()

    cli_out = tmp_path / "from the cli"
    cli_export(video, SPANS, cli_out, "--pad", "0.25", "--preset", "ultrafast")
    names = sorted(p.name for p in cli_out.iterdir())
    assert sorted(p.name for p in out.iterdir()) == names and len(names) == 6
    for name in names:
        ours, theirs = out / name, cli_out / name
        if name.endswith(".mp4"):
            assert barcodes(ours) == barcodes(theirs) and len(barcodes(ours)) >= 10
            assert has_audio(ours) and has_audio(theirs)
        else:
            # the JSON sidecar names the clips by file name, so the texts match in different folders
            assert ours.read_bytes() == theirs.read_bytes(), name

    assert dialog.status.text().count("Done: 6 files") == 1
    listed = [dialog.files.item(i).text() for i in range(dialog.files.count())]
    assert [line.split("  ")[0] for line in listed] == [w.path.name for w in dialog.controller.written]
    qtbot.waitUntil(lambda: dialog.files.verticalScrollBar().maximum() == 0)  # the dialog grew: all 6 shown
    assert sorted(w.path.name for w in dialog.controller.written) == names
    opened: list[QUrl] = []
    dialog.open_url = opened.append
    dialog.open_folder.click()
    assert opened == [QUrl.fromLocalFile(str(out))]
    assert store.value(FOLDER_KEY) == str(out)  # the next dialog starts there
    assert ExportDialog(window.worker, "video-1", window.info, SPANS, store).folder.text() == str(out)


def test_existing_files_are_replaced_only_after_replace(qtbot, window, video, tmp_path) -> None:
    open_and_wait(qtbot, window, video)
    dialog = open_dialog(qtbot, window, SPANS[:1])
    out = tmp_path / "out"
    out.mkdir()
    mine = out / "export window.spans.srt"
    mine.write_text("mine")
    dialog.folder.setText(str(out))
    dialog.clips.setChecked(False)
    dialog.export.click()
    run_to(qtbot, dialog, "confirm")
    assert [dialog.files.item(i).text() for i in range(dialog.files.count())] == [mine.name]
    assert dialog.replace.isVisible() and dialog.keep.isVisible() and "Replace it?" in dialog.status.text()
    dialog.keep.click()
    assert dialog.controller.state == "idle"
    assert mine.read_text() == "mine" and sorted(p.name for p in out.iterdir()) == [mine.name]
    dialog.export.click()
    run_to(qtbot, dialog, "confirm")
    dialog.replace.click()
    run_to(qtbot, dialog, "done")
    assert mine.read_text().startswith("1\n00:00:00,500 --> 00:00:01,000")
    assert len(list(out.iterdir())) == 4


def test_cancel_keeps_the_finished_clip_and_no_half_written_file(qtbot, window, media, tmp_path) -> None:
    long = media("export long.mp4", frames=900, fps=30, width=160, height=120, audio=True)
    open_and_wait(qtbot, window, long)
    dialog = open_dialog(qtbot, window, [Span(0.0, 1.0), Span(1.0, 29.9)])
    out = tmp_path / "out"
    dialog.folder.setText(str(out))
    dialog.smart_cut.setChecked(False)  # every frame re-encoded: the second clip takes a while
    dialog.preset.setCurrentText("ultrafast")
    beat = Heartbeat()
    beat.start()
    dialog.export.click()
    qtbot.waitUntil(
        lambda: (p := dialog.controller.progress) is not None and p.message == "clip 2 of 2" and p.done > 40,
        timeout=120_000,
    )
    beat.stop()
    assert beat.held(20), beat.report()  # as above, over a longer run
    assert "clip 2 of 2" in dialog.status.text() and dialog.bar.isVisible()
    assert window.engine_status.cancel.isVisible()
    dialog.close()  # the export goes on; File > Export… brings its dialog back
    window.actions["export"].trigger()
    assert window.export_dialog is dialog and dialog.isVisible() and dialog.controller.state == "running"
    window.engine_status.cancel.click()  # the status bar's Cancel
    run_to(qtbot, dialog, "cancelled")
    (first,) = [p for p in dialog.controller.kept]
    assert sorted(out.iterdir()) == [first] and first.name.startswith("export long_01_")  # nothing else
    assert barcodes(first) == list(range(30))  # the finished clip is whole
    assert "Cancelled. 1 finished output kept" in dialog.status.text()

    dialog.export.click()  # again into the same folder: asked about the kept clip, then the dialog's Cancel
    run_to(qtbot, dialog, "confirm")
    dialog.replace.click()
    qtbot.waitUntil(lambda: (p := dialog.controller.progress) is not None and p.done > 40, timeout=120_000)
    dialog.cancel.click()
    run_to(qtbot, dialog, "cancelled")
    assert [p.name for p in out.iterdir()] == [first.name] and barcodes(first) == list(range(30))


@pytest.mark.parametrize("reopened", [False, True], ids=["tracked-now", "after-reopening"])
def test_track_exports_match_scenescope_track(
    qtbot,
    window,
    video,
    sam2_folder,
    store,  # noqa: F811
    tmp_path,
    reopened,
) -> None:
    open_and_wait(qtbot, window, video)
    t = window.tracking
    t.track_in_moment(0.5, 1.5)  # tracking mode, propagation over the moment
    window.player.show_index(20)  # 1.0 s
    on_screen(qtbot, window, 20)
    t.click(80.0, 60.0)  # = --at 1.0 --point 80,60
    t.propagate()
    qtbot.waitUntil(lambda: t._call is None and not t._queue, timeout=120_000)
    assert t.store.frame_indices(1) == list(range(10, 30))
    if reopened:  # the masks come from the session's file; the worker has no tracker for them yet
        window.close()
        window = new_window(qtbot, store, sam2_folder)
        qtbot.addWidget(window)
        open_and_wait(qtbot, window, video)
        assert window.tracking.tracker_handle() is None
        assert window.tracking.store.frame_indices(1) == list(range(10, 30))
    dialog = open_dialog(qtbot, window, [Span(0.5, 1.5)])
    if reopened:
        assert dialog.preparing and "preparing" in dialog.tracks_box.title() and not dialog.export.isEnabled()
        assert "Preparing the tracked objects" in dialog.status.text()
    qtbot.waitUntil(lambda: not dialog.preparing, timeout=120_000)
    assert dialog.controller.tracker == window.tracking.tracker_handle() is not None
    assert "Object 1" in dialog.tracks_box.title() and "preparing" not in dialog.tracks_box.title()
    out = tmp_path / "window"
    dialog.folder.setText(str(out))
    dialog.burn_in.setChecked(True)  # the moment's clip with the masks drawn in, as export --burn-masks
    for box in dialog.sidecars.values():
        box.setChecked(False)
    dialog.track_range.setCurrentIndex(1)  # the moment, as --range 0.5-1.5
    assert all(box.isChecked() for box in dialog.track_formats.values())
    dialog.export.click()
    run_to(qtbot, dialog, "done")

    cli_out = tmp_path / "cli"
    cli(
        "track", str(video), "--at", "1.0", "--point", "80,60", "--range", "0.5-1.5",
        "--sam-model", str(sam2_folder), "--device", "cpu", "--out", str(cli_out),
    )  # fmt: skip
    ours, theirs = TrackStore.load(out / "tracks.json"), TrackStore.load(cli_out / "tracks.json")
    assert ours.frame_indices(1) == theirs.frame_indices(1) == list(range(10, 30))
    assert [m.rle for m in ours.frames(1)] == [m.rle for m in theirs.frames(1)]
    assert (out / "boxes.csv").read_text() == (cli_out / "boxes.csv").read_text()
    pngs = sorted(p.name for p in (cli_out / "masks" / "object_1").iterdir())
    assert sorted(p.name for p in (out / "masks" / "object_1").iterdir()) == pngs and len(pngs) == 20
    for name in pngs:
        mask = np.asarray(Image.open(out / "masks" / "object_1" / name))
        assert np.array_equal(mask, np.asarray(Image.open(cli_out / "masks" / "object_1" / name)))
        assert np.array_equal(
            np.asarray(Image.open(out / "masks" / "palette" / name)), (mask > 0).astype(np.uint8)
        )
    cli_clips = tmp_path / "cli clips"
    cli_export(video, [Span(0.5, 1.5)], cli_clips, "--burn-masks", str(cli_out / "tracks.json"))
    (clip_name,) = [p.name for p in cli_clips.glob("*.mp4")]
    # x264 does not encode the same pictures to the same bytes twice (the CLI differs from itself), so
    # every video is held to the pictures burn-in draws: the source frames with these masks drawn in.
    burned = out / "tracked_00h00m00.500-00h00m01.500.mp4"
    info = probe(video)
    plain = {f.index: f.image.astype(int) for f in decode_frames(info, range(10, 30))}
    drawn = {i: draw_masks(plain[i].astype(np.uint8), theirs, i).astype(int) for i in plain}
    errors = {}
    for path in (burned, cli_out / "tracked.mp4", out / clip_name, cli_clips / clip_name):
        with av.open(str(path)) as c:
            frames = [f.to_ndarray(format="rgb24").astype(int) for f in c.decode(video=0)]
        assert len(frames) == 20
        errors[path] = [np.abs(frame - drawn[i]).mean() for i, frame in zip(plain, frames, strict=True)]
        off = [np.abs(frame - plain[i]).mean() for i, frame in zip(plain, frames, strict=True)]
        assert all(e < min(12.0, o / 3) for e, o in zip(errors[path], off, strict=True)), (errors[path], off)
    mean_errors = [float(np.mean(e)) for e in errors.values()]
    assert max(mean_errors) - min(mean_errors) < 1.0, mean_errors
    assert all(has_audio(path) for path in errors)
    assert (
        json.loads((out / "tracks.json").read_text())["tracks"]
        == json.loads((cli_out / "tracks.json").read_text())["tracks"]
    )


def test_states_say_why_and_what_to_do(qtbot, window, video, tmp_path, store) -> None:  # noqa: F811
    empty = ExportDialog(window.worker, None, None, [], store)
    qtbot.addWidget(empty)
    assert "open a video first" in empty.status.text() and not empty.export.isEnabled()
    open_and_wait(qtbot, window, video)
    dialog = open_dialog(qtbot, window, [])
    assert "no moments and no tracked objects" in dialog.status.text() and not dialog.export.isEnabled()
    assert not dialog.clips_box.isEnabled() and not dialog.tracks_box.isEnabled()
    tracks_only = ExportDialog(window.worker, "video-1", window.info, [], store, "tracker-1", {1: "boat"})
    qtbot.addWidget(tracks_only)
    assert not tracks_only.clips_box.isEnabled() and tracks_only.tracks_box.isEnabled()
    assert [tracks_only.track_range.itemText(i) for i in range(tracks_only.track_range.count())] == [
        "the whole video"
    ]
    assert tracks_only.export.isEnabled()

    dialog = open_dialog(qtbot, window, SPANS)
    for box in (dialog.clips, *dialog.sidecars.values()):
        box.setChecked(False)
    assert "Nothing is ticked" in dialog.status.text() and not dialog.export.isEnabled()
    dialog.clips.setChecked(True)
    blocker = tmp_path / "a file"
    blocker.write_text("")
    dialog.folder.setText(str(blocker))  # a file where the folder should be
    dialog.export.click()
    run_to(qtbot, dialog, "failed")
    text = dialog.status.text()
    assert "is a file, not a folder" in text and "Choose another folder" in text and "\n" not in text
    assert dialog.export.text() == "Export again" and blocker.read_text() == ""
