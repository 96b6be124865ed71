"""The cache mechanism: damaged entries are discarded and recomputed, unusable folders mean no cache, and
content digests follow every byte of a file while hashing it only once."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from engine import cache as cache_module
from engine.cache import BadEntry, CacheFolder, content_digests
from engine.video import probe


def _parse_positive(data: bytes) -> int | None:
    value = int(data)  # garbage raises ValueError: a damaged entry
    if value < 0:
        raise BadEntry(f"{value} is negative")
    return value or None  # 0: sound but stale


def test_a_damaged_entry_is_deleted_with_one_warning(tmp_path: Path, caplog) -> None:
    folder = CacheFolder("numbers", tmp_path)
    for damaged, reason in ((b"garbage", "unreadable (ValueError"), (b"-3", "-3 is negative")):
        path = folder.write("n", damaged)
        with caplog.at_level(logging.WARNING, logger="engine.cache"):
            assert folder.read("n", _parse_positive) is None
        assert len(caplog.records) == 1 and reason in caplog.text and str(path) in caplog.text
        assert not path.exists()
        caplog.clear()
    folder.write("n", b"7")
    assert folder.read("n", _parse_positive) == 7


def test_a_stale_entry_is_a_quiet_miss_and_stays(tmp_path: Path, caplog) -> None:
    folder = CacheFolder("numbers", tmp_path)
    path = folder.write("n", b"0")
    with caplog.at_level(logging.WARNING, logger="engine.cache"):
        assert folder.read("n", _parse_positive) is None
        assert folder.read("missing", _parse_positive) is None
    assert caplog.records == [] and path.exists()


@pytest.mark.timeout(20)
def test_a_fifo_in_place_of_an_entry_does_not_block(tmp_path: Path, caplog) -> None:
    folder = CacheFolder("numbers", tmp_path)
    os.mkfifo(folder.path("n"))
    with caplog.at_level(logging.WARNING, logger="engine.cache"):
        assert folder.read("n", _parse_positive) is None
    assert "not a regular file" in caplog.text and not folder.path("n").exists()


@pytest.mark.parametrize("where", ["a file", "under a file"])
def test_a_root_that_cannot_be_a_folder_means_no_cache_and_one_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog, where: str
) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_bytes(b"keep me")
    monkeypatch.setenv("SCENESCOPE_CACHE_DIR", str(blocker if where == "a file" else blocker / "cache"))
    with caplog.at_level(logging.WARNING, logger="engine.cache"):
        for kind in ("frame_tables", "visual_tokens", "file_digests"):
            folder = CacheFolder(kind)
            assert not folder.usable
            assert folder.write("n", b"1") is None and folder.read("n", _parse_positive) is None
            assert folder.entries(".npz") == []
    assert len(caplog.records) == 1, caplog.text
    assert "running without it" in caplog.text and "SCENESCOPE_CACHE_DIR" in caplog.text
    assert blocker.read_bytes() == b"keep me"


def test_probe_runs_without_a_cache_it_cannot_create(media, tmp_path: Path, monkeypatch, caplog) -> None:
    video = media("cache_less.mp4", frames=30)
    expected = probe(video).frames
    blocker = tmp_path / "blocker"
    blocker.write_bytes(b"")
    monkeypatch.setenv("SCENESCOPE_CACHE_DIR", str(blocker))
    with caplog.at_level(logging.WARNING, logger="engine.cache"):
        again = probe(video)
    assert np.array_equal(again.frames.pts, expected.pts) and "running without it" in caplog.text


# ----- frame tables -----------------------------------------------------------------------------------------


def _entry(info) -> Path:
    return CacheFolder("frame_tables").path(f"{info.identity}-{info.stream_index}.v2.npz")


def _rewritten(info, **changes) -> bytes:
    """The cached table of `info` with some of its arrays replaced: well-formed npz, wrong table."""
    import io

    with np.load(io.BytesIO(_entry(info).read_bytes())) as z:
        arrays = {k: z[k] for k in z.files} | changes
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


DAMAGE = {
    "truncated": lambda info, data: data[: len(data) // 3],
    "garbage": lambda info, data: np.random.default_rng(0).integers(0, 256, 3000, np.uint8).tobytes(),
    "empty": lambda info, data: b"",
    "pickled object array": lambda info, data: _rewritten(info, pts=np.array([None, 1], dtype=object)),
    "another video's table": lambda info, data: _rewritten(info, key=np.array("0123abcd-0")),
    "times going back": lambda info, data: _rewritten(info, pts=info.frames.pts[::-1].copy()),
    "times as floats": lambda info, data: _rewritten(info, pts=info.frames.pts.astype(np.float64)),
    "a frame missing": lambda info, data: _rewritten(info, pts=info.frames.pts[:-1].copy()),
    "packet out of range": lambda info, data: _rewritten(info, decode_pos=info.frames.decode_pos + 10**6),
    "zero time base": lambda info, data: _rewritten(info, scalars=np.array([100, 30, 0, 1], np.int64)),
    "other time base": lambda info, data: _rewritten(
        info, scalars=np.array([info.frames.end_pts, info.frames.packet_count, 1, 7], np.int64)
    ),
    "NaN start": lambda info, data: _rewritten(info, start_s=np.array(np.nan)),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_frame_table_entry_is_read_again_from_the_video(
    media, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog, damage: str
) -> None:
    monkeypatch.setenv("SCENESCOPE_CACHE_DIR", str(tmp_path))  # a case of its own, whatever others left
    info = probe(media("table_damage.mp4", frames=36, gop=12))
    entry = _entry(info)
    entry.write_bytes(DAMAGE[damage](info, entry.read_bytes()))
    with caplog.at_level(logging.WARNING, logger="engine.cache"):
        again = probe(info.path)
    assert len(caplog.records) == 1 and "frame tables cache entry" in caplog.text, caplog.text
    for name in ("pts", "keyframe", "decode_pos"):
        assert np.array_equal(getattr(again.frames, name), getattr(info.frames, name))
    assert again.frames.time_base == info.frames.time_base and again.duration_s == info.duration_s
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="engine.cache"):
        probe(info.path)  # the entry was written again, sound: no more warnings
    assert caplog.records == []


# ----- content digests --------------------------------------------------------------------------------------


@pytest.fixture
def counted_hashing(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    hashed: list[Path] = []
    real = cache_module._sha256_of_file

    def counting(path: Path) -> str:
        hashed.append(path)
        return real(path)

    monkeypatch.setattr(cache_module, "_sha256_of_file", counting)
    return hashed


def test_digests_are_sha256_of_every_byte_and_hashed_once(tmp_path: Path, counted_hashing) -> None:
    files = [tmp_path / f"shard-{i}.bin" for i in range(3)]
    for i, f in enumerate(files):
        f.write_bytes(os.urandom(100_000 + i))
    digests = content_digests(files)
    assert digests == {f: hashlib.sha256(f.read_bytes()).hexdigest() for f in files}
    assert sorted(counted_hashing) == sorted(files)
    counted_hashing.clear()
    assert content_digests(files) == digests and counted_hashing == []  # remembered: nothing read again


def test_a_changed_byte_changes_the_digest_even_with_size_and_mtime_kept(tmp_path: Path, counted_hashing):
    shard = tmp_path / "model.safetensors"
    shard.write_bytes(bytes(200_000))
    before = content_digests([shard])[shard]
    stat = shard.stat()
    with shard.open("r+b") as f:  # in place: same inode, same size
        f.seek(150_000)
        f.write(b"\x01")
    os.utime(shard, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # and the old modification time back
    assert shard.stat().st_size == stat.st_size and shard.stat().st_ino == stat.st_ino
    counted_hashing.clear()
    after = content_digests([shard])[shard]
    assert after != before and after == hashlib.sha256(shard.read_bytes()).hexdigest()
    assert counted_hashing == [shard]


def test_a_copied_folder_is_hashed_again_and_gets_the_same_digests(tmp_path: Path, counted_hashing):
    (tmp_path / "a").mkdir()
    shard = tmp_path / "a" / "w.bin"
    shard.write_bytes(os.urandom(5000))
    first = content_digests([shard])[shard]
    copy = Path(shutil.copytree(tmp_path / "a", tmp_path / "b")) / "w.bin"
    counted_hashing.clear()
    assert content_digests([copy])[copy] == first and counted_hashing == [copy]


def test_a_damaged_digest_entry_is_hashed_again(tmp_path: Path, caplog, counted_hashing) -> None:
    shard = tmp_path / "w.bin"
    shard.write_bytes(os.urandom(5000))
    good = content_digests([shard])[shard]
    entries = CacheFolder("file_digests").entries(".json")
    (entry,) = [p for p in entries if f'"{shard.resolve()}"' in p.read_text()]
    entry.write_text(entry.read_text().replace(good, "0" * 63 + "g"))  # a digest that is no digest
    counted_hashing.clear()
    with caplog.at_level(logging.WARNING, logger="engine.cache"):
        assert content_digests([shard])[shard] == good
    assert counted_hashing == [shard] and "is not a SHA-256" in caplog.text and len(caplog.records) == 1


def test_hashing_a_large_folder_says_so_once(tmp_path: Path, monkeypatch, caplog) -> None:
    monkeypatch.setattr(cache_module, "_SAY_HASHING_BYTES", 10_000)
    shards = [tmp_path / f"s{i}" for i in range(2)]
    for s in shards:
        s.write_bytes(os.urandom(8000))
    with caplog.at_level(logging.WARNING, logger="engine.cache"):
        content_digests(shards)
        content_digests(shards)
    assert len(caplog.records) == 1 and "hashing 2 file(s)" in caplog.text and "once" in caplog.text
