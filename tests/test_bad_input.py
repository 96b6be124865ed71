"""Bad input: every kind gets one clear message that says what to do, and nothing crashes.

Checked through the API (`VideoError` and its message) and through the real `scenescope` command
(exit status 2, one line on stderr, no traceback).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from engine.errors import VideoError
from engine.video import DecodeStats, Sampling, decode_frames, probe, sample_frames
from tests.conftest import checkout_env
from tests.media import make_audio_only, make_video


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    full = make_video(d / "full.mp4", frames=100, gop=25, audio=True)
    fast = make_video(d / "fast.mp4", frames=100, gop=25, audio=True, faststart=True)
    mkv = make_video(d / "full.mkv", frames=100, gop=25)
    recording = make_video(d / "rec.mp4", frames=100, gop=25, audio=True, movflags="frag_keyframe+empty_moov")
    files = {}
    data = full.read_bytes()
    files["truncated_index"] = d / "cut_before_index.mp4"
    files["truncated_index"].write_bytes(data[: len(data) // 2])
    data = fast.read_bytes()
    files["truncated_faststart"] = d / "cut_faststart.mp4"
    files["truncated_faststart"].write_bytes(data[: int(len(data) * 0.6)])
    data = recording.read_bytes()  # a fragmented recording that stopped mid-write (a crash, a full disk)
    files["truncated_fragmented"] = d / "cut_recording.mp4"
    files["truncated_fragmented"].write_bytes(data[: int(len(data) * 0.6)])
    data = mkv.read_bytes()
    files["truncated_mkv"] = d / "cut.mkv"
    files["truncated_mkv"].write_bytes(data[: int(len(data) * 0.6)])
    damaged = bytearray(fast.read_bytes())
    rng = np.random.default_rng(1)
    middle = len(damaged) // 2
    damaged[middle : middle + 3000] = rng.integers(0, 256, 3000, dtype=np.uint8).tobytes()
    files["damaged_middle"] = d / "damaged.mp4"
    files["damaged_middle"].write_bytes(bytes(damaged))
    files["empty"] = d / "empty.mp4"
    files["empty"].write_bytes(b"")
    files["random"] = d / "random.mp4"
    files["random"].write_bytes(rng.integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    Image.fromarray(np.zeros((100, 120, 3), np.uint8)).save(d / "photo.png")
    files["png_named_mp4"] = shutil.copy(d / "photo.png", d / "photo.mp4")
    Image.fromarray(np.zeros((100, 120, 3), np.uint8)).save(d / "photo.jpg")
    files["jpeg_named_mp4"] = shutil.copy(d / "photo.jpg", d / "jpeg.mp4")
    files["audio_only"] = make_audio_only(d / "speech.m4a")
    files["audio_named_mp4"] = shutil.copy(files["audio_only"], d / "speech.mp4")
    files["non_ascii"] = shutil.copy(full, d / "vidéo 映像 ñ.mp4")
    files["folder"] = d / "folder.mp4"
    files["folder"].mkdir()
    files["missing"] = d / "missing.mp4"
    return files


REJECTED = {
    "truncated_index": "index is missing",
    "empty": "is empty (0 bytes)",
    "random": "not a video FFmpeg can read",
    "png_named_mp4": "still image (png)",
    "jpeg_named_mp4": "still image (mjpeg)",
    "audio_only": "no video stream (an audio file)",
    "audio_named_mp4": "no video stream (an audio file)",
    "folder": "is a folder",
    "missing": "No such video file",
}


@pytest.mark.parametrize("kind", list(REJECTED))
def test_unusable_files_are_rejected_with_a_clear_message(bad_files, kind):
    with pytest.raises(VideoError, match=re.escape(REJECTED[kind])) as err:
        probe(bad_files[kind])
    assert str(bad_files[kind]) in str(err.value)


@pytest.mark.parametrize("kind", list(REJECTED))
def test_cli_reports_one_line_and_exit_status_2(bad_files, kind):
    result = subprocess.run(
        [sys.executable, "-m", "engine", "probe", str(bad_files[kind])],
        env=checkout_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("scenescope: ")
    assert REJECTED[kind] in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "kind, readable, total",
    [("truncated_faststart", 58, 100), ("truncated_mkv", 57, 100), ("truncated_fragmented", 63, 100)],
)
def test_cut_off_files_open_with_a_warning_and_decode_what_is_there(bad_files, kind, readable, total):
    info = probe(bad_files[kind])
    assert info.frame_count == readable
    assert len(info.warnings) == 1 and "cut off" in info.warnings[0]
    stats = DecodeStats()
    frames = list(decode_frames(info, range(info.frame_count), stats=stats))
    assert [f.index for f in frames] == list(range(readable))
    assert stats.substituted == 0


def test_damage_in_the_middle_does_not_stop_decoding(bad_files):
    info = probe(bad_files["damaged_middle"])
    chosen = sample_frames(info.frames, Sampling("frames", 100))
    frames = list(decode_frames(info, chosen.indices, size=64))
    assert len(frames) == len(chosen)
    assert all(f.image.shape == (64, 64, 3) for f in frames)


def test_non_ascii_path_works_end_to_end(bad_files):
    path = bad_files["non_ascii"]
    info = probe(path)
    assert info.frame_count == 100 and info.has_audio
    (frame,) = decode_frames(info, [42])
    assert frame.index == 42
    result = subprocess.run(
        [sys.executable, "-m", "engine", "probe", str(path), "--json"],
        env=checkout_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "映像" in result.stdout


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can read any file")
def test_unreadable_file(bad_files, tmp_path):
    locked = shutil.copy(bad_files["non_ascii"], tmp_path / "locked.mp4")
    os.chmod(locked, 0)
    with pytest.raises(VideoError, match="permission denied"):
        probe(locked)
