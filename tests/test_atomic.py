"""Atomic writes after a kill, beside a live writer, and with the permissions a plain write gives.

The killed writers are real processes stopped with SIGKILL in the middle of a clip export and of a
PNG sequence (they block inside a progress callback, so the kill lands mid-write every time); the
live ones are real processes too, paused the same way while the test writes the same name.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from engine.atomic import atomic_folder, atomic_open, atomic_path, temporary_name, write_bytes_atomic
from engine.export import EncodeSettings, export_clip, png_name, write_png_masks
from engine.jobs import Cancelled, Job
from engine.tracking import FrameMask, TrackStore, encode_mask
from engine.video import probe
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.skipif(os.name != "posix", reason="SIGKILL, umask and flock are POSIX")

FAST = EncodeSettings(preset="ultrafast")

# A writer that stops at its 10th progress step, says so, and waits for a line on stdin before going on.
WRITER = textwrap.dedent(
    """
    import sys
    from engine.jobs import Job
    from engine.tracking import TrackStore

    def pause(p):
        if p.done == 10:
            print("paused", flush=True)
            sys.stdin.readline()

    job = Job(on_progress=pause)
    kind, source, target = sys.argv[1:]
    if kind == "clip":
        from engine.export import EncodeSettings, export_clip
        from engine.video import probe
        settings = EncodeSettings(preset="ultrafast")
        export_clip(probe(source), 0, 3, target, reencode=True, overwrite=True, settings=settings, job=job)
    else:
        from engine.export import write_png_masks
        write_png_masks(TrackStore.load(source), target, overwrite=True, job=job)
    print("done", flush=True)
    """
)


@pytest.fixture(scope="module")
def video(media):
    return probe(media("atomic.mp4", frames=100, gop=25, audio=True))


@pytest.fixture(scope="module")
def store(video, tmp_path_factory):
    """Object 1 on all 100 frames (a box), saved as a tracks file the writer process loads."""
    mask = np.zeros((video.height, video.width), bool)
    mask[40:120, 60:200] = True
    rle, bbox, area = encode_mask(mask)
    tracks = TrackStore(width=video.width, height=video.height)
    for i in range(video.frame_count):
        tracks.put(1, FrameMask(i, video.frames.time_of(i), rle, bbox, area, 0.9))
    tracks.save(tmp_path_factory.mktemp("tracks") / "tracks.json")
    return tracks


def start_writer(kind: str, source, target) -> subprocess.Popen:
    """A writer process, returned once it is paused mid-write."""
    env = os.environ | {"PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, kind, str(source), str(target)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout.readline() == "paused\n", proc.communicate(timeout=60)
    return proc


def kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL


def temporaries(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".tmp-"))


def test_clip_export_killed_mid_write_is_cleaned_by_the_next_export(video, tmp_path):
    target = tmp_path / "clip.mp4"
    kill(start_writer("clip", video.path, target))
    (left,) = temporaries(tmp_path)  # what the killed export left: a partial clip
    assert left.startswith(".tmp-clip.mp4.") and left.endswith(".mp4") and not target.exists()
    clip = export_clip(video, 0.0, 3.0, target, reencode=True, settings=FAST)
    assert probe(clip.path).frame_count == 75
    assert temporaries(tmp_path) == []


def test_png_sequence_killed_mid_write_is_cleaned_by_the_next_export(store, tmp_path):
    tracks_file = store_file(store, tmp_path)
    masks = tmp_path / "masks"
    kill(start_writer("masks", tracks_file, masks))
    (left,) = temporaries(masks)
    assert left.startswith(".tmp-object_1.") and len(list((masks / left).iterdir())) >= 9
    assert not (masks / "object_1").exists()
    write_png_masks(store, masks)
    assert temporaries(masks) == []
    assert sorted(p.name for p in (masks / "object_1").iterdir()) == [png_name(i) for i in range(100)]


def store_file(store: TrackStore, folder):
    return store.save(folder / "tracks.json")


@pytest.mark.parametrize("kind", ["clip", "masks"])
def test_a_live_writers_temporary_is_left_alone(video, store, tmp_path, kind):
    """Two processes write the same name at once: each finishes, neither removes the other's file."""
    if kind == "clip":
        source, target, folder = video.path, tmp_path / "clip.mp4", tmp_path
    else:
        source, target, folder = store_file(store, tmp_path), tmp_path / "masks", tmp_path / "masks"
    writer = start_writer(kind, source, target)
    try:
        (theirs,) = temporaries(folder)
        if kind == "clip":
            export_clip(video, 0.0, 1.0, target, overwrite=True, settings=FAST)
            assert probe(target).frame_count == 25
        else:
            write_png_masks(store, target, overwrite=True)
        assert temporaries(folder) == [theirs]  # still there, still being written
        out, _ = writer.communicate("go\n", timeout=120)
    finally:
        writer.kill()
    assert writer.returncode == 0 and out == "done\n"
    assert temporaries(folder) == []
    if kind == "clip":
        assert probe(target).frame_count == 75  # the later rename wins, whole
    else:
        assert len(list((target / "object_1").iterdir())) == 100


def test_only_temporaries_of_gone_writers_are_removed(tmp_path):
    """A temporary goes when its pid is not alive and nobody holds its lock; either one keeps it."""
    target = tmp_path / "data.bin"
    gone = subprocess.Popen(["true"])
    gone.wait()
    holder = subprocess.Popen(["sleep", "60"])
    try:
        dead = tmp_path / f".tmp-data.bin.{gone.pid}-0123abcd.bin"  # a writer killed long ago
        alive = tmp_path / f".tmp-data.bin.{holder.pid}-0123abcd.bin"  # a live pid, not (yet) locked
        locked = tmp_path / f".tmp-data.bin.{gone.pid}-89abcdef.bin"  # a writer elsewhere: lock held
        other = tmp_path / f".tmp-data.csv.{gone.pid}-0123abcd.csv"  # another name's temporary
        for path in (dead, alive, locked, other):
            path.write_bytes(b"partial")
        lock = subprocess.Popen(
            [sys.executable, "-c", LOCK_HOLDER, str(locked)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        assert lock.stdout.readline() == b"locked\n"
        write_bytes_atomic(target, b"whole")
        assert temporaries(tmp_path) == sorted(p.name for p in (alive, locked, other))
        lock.communicate(b"\n", timeout=30)
        write_bytes_atomic(target, b"whole again")
        assert temporaries(tmp_path) == sorted(p.name for p in (alive, other))
    finally:
        holder.kill()
        holder.wait()
    write_bytes_atomic(target, b"and again")
    assert temporaries(tmp_path) == [other.name] and target.read_bytes() == b"and again"


LOCK_HOLDER = textwrap.dedent(
    """
    import fcntl, os, sys
    fd = os.open(sys.argv[1], os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    print("locked", flush=True)
    sys.stdin.readline()
    """
)


def test_temporary_names_belong_to_their_target(tmp_path):
    names = {temporary_name(tmp_path / n).name for n in ("a.mp4", "a.mp4", "a.srt", "object_1")}
    assert len(names) == 4
    assert all(f".{os.getpid()}-" in name for name in names)
    assert temporary_name(tmp_path / "a.mp4").suffix == ".mp4"


@pytest.mark.parametrize("umask", [0o022, 0o077], ids=["022", "077"])
def test_files_and_folders_get_the_mode_a_plain_write_gives(video, store, tmp_path, umask):
    before = os.umask(umask)
    try:
        with open(tmp_path / "plain.txt", "w") as f:  # what every write below must match
            f.write("x")
        (tmp_path / "plain_folder").mkdir()
        write_bytes_atomic(tmp_path / "bytes.bin", b"x")
        with atomic_open(tmp_path / "text.txt", "w") as f:
            f.write("x")
        clip = export_clip(video, 1.0, 2.0, tmp_path / "clip.mp4")  # written by FFmpeg's muxer
        tracks = store.save(tmp_path / "tracks.json")
        folder = write_png_masks(store, tmp_path / "masks")[1]
    finally:
        os.umask(before)
    file_mode, folder_mode = 0o666 & ~umask, 0o777 & ~umask

    def mode(path) -> int:
        return stat.S_IMODE(path.stat().st_mode)

    assert mode(tmp_path / "plain.txt") == file_mode and mode(tmp_path / "plain_folder") == folder_mode
    for path in (tmp_path / "bytes.bin", tmp_path / "text.txt", clip.path, tracks, folder / png_name(0)):
        assert mode(path) == file_mode, path.name
    for path in (tmp_path / "masks", folder):
        assert mode(path) == folder_mode, path.name


@pytest.mark.parametrize("mode", [0o640, 0o444])
def test_replacing_a_file_keeps_its_mode(video, tmp_path, mode):
    for target in (tmp_path / "notes.txt", tmp_path / "clip.mp4"):
        target.write_text("old")
        target.chmod(mode)
        if target.suffix == ".mp4":
            export_clip(video, 1.0, 2.0, target, overwrite=True)
            assert probe(target).frame_count == 25
        else:
            write_bytes_atomic(target, b"new")
            assert target.read_bytes() == b"new"
        assert stat.S_IMODE(target.stat().st_mode) == mode


def test_atomic_path_replaces_only_on_success(tmp_path):
    target = tmp_path / "file.mp4"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".mp4" and tmp != target
        tmp.write_bytes(b"half")
        raise RuntimeError("encoder died")
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["file.mp4"]
    with pytest.raises(FileExistsError):
        atomic_path(target, overwrite=False).__enter__()
    with atomic_path(target) as tmp:
        tmp.write_bytes(b"new")
    assert target.read_bytes() == b"new" and [p.name for p in tmp_path.iterdir()] == ["file.mp4"]


def test_atomic_folder_replaces_only_on_success(tmp_path):
    target = tmp_path / "seq"
    target.mkdir()
    (target / "old.png").write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_folder(target) as staging:
        (staging / "new.png").write_bytes(b"half")
        raise RuntimeError("stopped")
    assert [p.name for p in target.iterdir()] == ["old.png"] and temporaries(tmp_path) == []
    with pytest.raises(FileExistsError), atomic_folder(target, overwrite=False):
        pass
    with atomic_folder(target) as staging:
        (staging / "new.png").write_bytes(b"new")
    assert [p.name for p in target.iterdir()] == ["new.png"] and temporaries(tmp_path) == []


def test_png_export_reports_progress_and_a_cancel_leaves_no_partial_folder(video, store, tmp_path):
    two = TrackStore(width=store.width, height=store.height)
    for obj in (1, 2):
        for m in store.frames(1)[: 10 * obj]:
            two.put(obj, m)
    seen = []
    write_png_masks(
        two, tmp_path / "all", job=Job(on_progress=lambda p: seen.append((p.stage, p.done, p.total)))
    )
    assert seen == [("export", n, 30) for n in range(1, 31)]

    def cancel_at(n):
        def progress(p):
            if p.done == n:
                job.cancel()

        job = Job(on_progress=progress)
        return job

    with pytest.raises(Cancelled):
        write_png_masks(two, tmp_path / "first", job=cancel_at(5))  # inside object 1
    assert list((tmp_path / "first").iterdir()) == []
    with pytest.raises(Cancelled):
        write_png_masks(two, tmp_path / "second", job=cancel_at(15))  # inside object 2
    assert [p.name for p in (tmp_path / "second").iterdir()] == ["object_1"]  # finished, whole
    assert len(list((tmp_path / "second" / "object_1").iterdir())) == 10
