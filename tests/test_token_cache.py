"""The on-disk visual-token cache: exact round trips, keys, damaged entries, the size cap."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.errors import ScenescopeError
from engine.models.internvideo import TokenCacheKey, TokenLayout, VisualTokenCache
from engine.models.internvideo.token_cache import MAX_GB_ENV, max_bytes_from_env

MODEL = "internvideo2_5-1234/vision-bfloat16/enc1"
KEY = TokenCacheKey.of("video-abc", MODEL, "frames:8:None:None", range(0, 16, 2))


def tokens(n: int = 8, width: int = 64, dtype: torch.dtype = torch.float32, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, 16, width, generator=torch.Generator().manual_seed(seed)).to(dtype)


def times(n: int = 8) -> np.ndarray:
    return np.arange(n, dtype=np.float64) / 3.0  # not representable in float32: checks float64 storage


def load(cache: VisualTokenCache, key: TokenCacheKey = KEY, dtype: torch.dtype = torch.float32):
    """`cache.load` as a model with 64-wide tokens in `dtype` asks, for frames at `times()`."""
    return cache.load(key, TokenLayout(16, 64, dtype), times(len(key.frame_indices)))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_round_trip_is_exact_in_the_computed_dtype(tmp_path: Path, dtype: torch.dtype) -> None:
    cache = VisualTokenCache(tmp_path)
    stored = tokens(dtype=dtype)
    path = cache.store(KEY, stored, times())
    assert path.parent == tmp_path and path.suffix == ".safetensors"
    assert not [p for p in tmp_path.iterdir() if p != path]  # atomic write left no temporary file
    hit = load(cache, dtype=dtype)
    assert hit is not None and hit.path == path
    assert hit.visual_tokens.dtype == dtype and torch.equal(hit.visual_tokens, stored)
    assert hit.frame_times_s.dtype == np.float64 and np.array_equal(hit.frame_times_s, times())


@pytest.mark.parametrize(
    "other",
    [
        TokenCacheKey.of("video-abd", KEY.model, KEY.sampling, KEY.frame_indices),
        TokenCacheKey.of(KEY.video, MODEL.replace("bfloat16", "float32"), KEY.sampling, KEY.frame_indices),
        TokenCacheKey.of(KEY.video, KEY.model, "frames:8:1.0:None", KEY.frame_indices),
        TokenCacheKey.of(KEY.video, KEY.model, KEY.sampling, [0, 2, 4, 6, 8, 10, 12, 15]),
    ],
    ids=["video", "model", "sampling", "frames"],
)
def test_every_part_of_the_key_separates_entries(tmp_path: Path, other: TokenCacheKey) -> None:
    cache = VisualTokenCache(tmp_path)
    cache.store(KEY, tokens(seed=1), times())
    assert other.digest != KEY.digest
    assert load(cache, other) is None
    cache.store(other, tokens(seed=2), times())
    assert torch.equal(load(cache).visual_tokens, tokens(seed=1))
    assert torch.equal(load(cache, other).visual_tokens, tokens(seed=2))


def test_damaged_entries_are_deleted_and_reported(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cache = VisualTokenCache(tmp_path)
    path = cache.store(KEY, tokens(), times())
    data = path.read_bytes()
    for damaged in (data[: len(data) // 2], b"\x00" * 64, b""):
        path.write_bytes(damaged)
        with caplog.at_level(logging.WARNING, logger="engine.cache"):
            assert load(cache) is None
        assert "is damaged" in caplog.text and str(path) in caplog.text
        assert len(caplog.records) == 1
        assert not path.exists()
        caplog.clear()
        cache.store(KEY, tokens(), times())  # and it can be written again


def test_an_entry_under_the_wrong_name_is_not_served(tmp_path: Path, caplog) -> None:
    cache = VisualTokenCache(tmp_path)
    other = TokenCacheKey.of("another-video", KEY.model, KEY.sampling, KEY.frame_indices)
    cache.store(other, tokens(), times()).rename(cache.path_for(KEY))
    with caplog.at_level(logging.WARNING, logger="engine.cache"):
        assert load(cache) is None
    assert "for another key" in caplog.text
    assert not cache.path_for(KEY).exists()


def _rewrite(path: Path, **changes: torch.Tensor) -> None:
    """Replace tensors of a stored entry, keeping its metadata (its key): a well-formed, wrong entry."""
    from safetensors import safe_open
    from safetensors.torch import save

    with safe_open(str(path), framework="pt") as f:
        metadata, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    tensors.update({k: v.contiguous() for k, v in changes.items()})
    path.write_bytes(save(tensors, metadata=metadata))


NAN = torch.full((8, 16, 64), float("nan"))
ONE_INF = tokens().index_fill(0, torch.tensor([3]), float("inf"))
WRONG_ENTRIES = {
    "wider tokens": ({"visual_tokens": tokens(width=128)}, "malformed"),
    "other dtype": ({"visual_tokens": tokens(dtype=torch.float16)}, "malformed"),
    "fewer tokens per frame": ({"visual_tokens": tokens()[:, :8]}, "malformed"),
    "NaN tokens": ({"visual_tokens": NAN}, "not finite"),
    "one infinite token": ({"visual_tokens": ONE_INF}, "not finite"),
    "other frame times": ({"frame_times_s": torch.from_numpy(times() + 0.5)}, "other frame times"),
    "float32 frame times": ({"frame_times_s": torch.from_numpy(times()).float()}, "other frame times"),
    "other frame indices": ({"frame_indices": torch.arange(8, dtype=torch.int64)}, "other frames"),
    "an extra tensor": ({"extra": torch.zeros(1)}, "holding tensors"),
}


@pytest.mark.parametrize("case", list(WRONG_ENTRIES))
def test_a_wrong_entry_is_discarded_with_one_warning_and_recomputed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    changes, reason = WRONG_ENTRIES[case]
    cache = VisualTokenCache(tmp_path)
    path = cache.store(KEY, tokens(), times())
    _rewrite(path, **changes)
    with caplog.at_level(logging.WARNING, logger="engine.cache"):
        assert load(cache) is None
    assert len(caplog.records) == 1 and reason in caplog.text and str(path) in caplog.text
    assert not path.exists()
    cache.store(KEY, tokens(), times())  # the recomputed tokens are stored and served again
    assert torch.equal(load(cache).visual_tokens, tokens())


def test_an_unusable_folder_means_no_cache_and_one_warning(tmp_path: Path, caplog) -> None:
    folder = tmp_path / "a file"
    folder.write_bytes(b"not a folder")
    with caplog.at_level(logging.WARNING, logger="engine.cache"):
        cache = VisualTokenCache(folder)
        assert cache.store(KEY, tokens(), times()) is None
        assert load(cache) is None and cache.entries() == [] and cache.evict() == []
        VisualTokenCache(folder).store(KEY, tokens(), times())
    assert len(caplog.records) == 1 and "running without it" in caplog.text
    assert folder.read_bytes() == b"not a folder"


def test_store_refuses_mismatched_shapes(tmp_path: Path) -> None:
    cache = VisualTokenCache(tmp_path)
    with pytest.raises(ValueError, match="do not match"):
        cache.store(KEY, tokens(n=4), times())
    with pytest.raises(ValueError, match="do not match"):
        cache.store(KEY, tokens(), times(n=7))
    assert cache.entries() == []


def test_least_recently_used_entries_are_evicted_beyond_the_cap(tmp_path: Path) -> None:
    keys = [TokenCacheKey.of(f"video-{i}", KEY.model, KEY.sampling, KEY.frame_indices) for i in range(4)]
    probe = VisualTokenCache(tmp_path / "probe")
    entry_size = probe.store(keys[0], tokens(), times()).stat().st_size
    cache = VisualTokenCache(tmp_path / "cache", max_bytes=3 * entry_size)
    for age, key in enumerate(keys[:3]):
        path = cache.store(key, tokens(), times())
        os.utime(path, (1000 + age, 1000 + age))  # distinct, ordered last-use times
    assert cache.size_bytes() == 3 * entry_size
    assert load(cache, keys[0]) is not None  # a hit makes video-0 the most recently used
    cache.store(keys[3], tokens(), times())  # over the cap: the least recently used (video-1) goes
    assert load(cache, keys[1]) is None
    assert all(load(cache, k) is not None for k in (keys[0], keys[2], keys[3]))
    assert cache.size_bytes() <= cache.max_bytes

    tiny = VisualTokenCache(tmp_path / "tiny", max_bytes=1)  # a cap below one entry keeps the newest one
    tiny.store(keys[0], tokens(), times())
    tiny.store(keys[1], tokens(), times())
    assert [p.name for p in tiny.entries()] == [tiny.path_for(keys[1]).name]


def test_cap_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MAX_GB_ENV, raising=False)
    assert max_bytes_from_env() == 4 * 2**30
    monkeypatch.setenv(MAX_GB_ENV, "0.5")
    assert max_bytes_from_env() == 2**29
    for bad in ("lots", "-1", "nan", "inf"):
        monkeypatch.setenv(MAX_GB_ENV, bad)
        with pytest.raises(ScenescopeError, match=MAX_GB_ENV):
            max_bytes_from_env()
