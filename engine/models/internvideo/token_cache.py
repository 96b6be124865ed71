"""The visual-token cache: what the vision tower made of a video's sampled frames, kept on disk.

Encoding frames is the expensive part of a first question (the vision tower runs on every frame), while
its output is small: visual tokens [N, 16, D], 64 MiB for 512 frames of the 8B in bf16. An entry is keyed
by
- the video's content (`VideoInfo.identity`: a renamed or copied file still hits),
- the model's `visual_tokens_key` (weights, vision dtype, encoder code version),
- the sampling (`Sampling.key()`) and the exact frame indices it chose,
so a follow-up in a new process or a reopened video runs no vision-tower pass, and a change to any part
misses.

One safetensors file per entry, named by a digest of the key: `visual_tokens` [N, 16, D] as computed (bf16
on GPU, fp32 on CPU), `frame_indices` [N] int64 and `frame_times_s` [N] float64, with the key's parts in
the metadata. Files are written atomically (`engine.cache.CacheFolder`). Every read checks the whole entry:
its key, frame indices and times (those of the video's frames now), the tokens' shape and dtype (the
model's `TokenLayout`) and that they are finite; an entry that fails is deleted, logged once and
recomputed, and a folder that cannot be used means running without the cache. A hit refreshes the file's
mtime; after every write the least recently used entries are deleted until the folder is under its cap.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from engine.cache import BadEntry, CacheFolder
from engine.errors import ScenescopeError

logger = logging.getLogger("engine.models.internvideo")

FORMAT = "scenescope-visual-tokens/1"
SUFFIX = ".safetensors"
MAX_GB_ENV = "SCENESCOPE_VISUAL_TOKEN_CACHE_GB"
DEFAULT_MAX_GB = 4.0  # about 60 videos at 512 frames of the 8B in bf16


@dataclass(frozen=True)
class TokenCacheKey:
    """Everything visual tokens depend on."""

    video: str  # VideoInfo.identity
    model: str  # InternVideo.visual_tokens_key
    sampling: str  # Sampling.key()
    frame_indices: tuple[int, ...]

    @classmethod
    def of(
        cls, video: str, model: str, sampling: str, frame_indices: Sequence[int] | np.ndarray
    ) -> TokenCacheKey:
        return cls(video, model, sampling, tuple(int(i) for i in frame_indices))

    def metadata(self) -> dict[str, str]:
        """The key as safetensors metadata (strings only); the frame indices are stored as a tensor."""
        frames = np.asarray(self.frame_indices, dtype="<i8").tobytes()
        return {
            "format": FORMAT,
            "video": self.video,
            "model": self.model,
            "sampling": self.sampling,
            "frames_sha256": hashlib.sha256(frames).hexdigest(),
        }

    @property
    def digest(self) -> str:
        """File name of the entry: a hash of the whole key."""
        text = json.dumps(self.metadata(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:40]


@dataclass(frozen=True)
class TokenLayout:
    """What one frame's visual tokens must look like for a model: [tokens_per_frame, width] of `dtype`."""

    tokens_per_frame: int  # 16
    width: int  # the language model's hidden size
    dtype: torch.dtype  # what the vision tower computes in (bf16 on GPU, fp32 on CPU)


@dataclass(frozen=True)
class CachedTokens:
    """A cache hit."""

    visual_tokens: torch.Tensor  # [N, 16, D] on the device asked for, in the stored dtype
    frame_times_s: np.ndarray  # [N] float64, presentation times of the frames when they were encoded
    path: Path


def max_bytes_from_env() -> int:
    """The size cap: `$SCENESCOPE_VISUAL_TOKEN_CACHE_GB` gigabytes (GiB), else 4."""
    text = os.environ.get(MAX_GB_ENV)
    if not text:
        return int(DEFAULT_MAX_GB * 2**30)
    try:
        gb = float(text)
    except ValueError:
        gb = -1.0
    if not 0 <= gb < float("inf"):
        raise ScenescopeError(f"{MAX_GB_ENV} must be a number of gigabytes (e.g. 4 or 0.5), not {text!r}")
    return int(gb * 2**30)


class VisualTokenCache:
    """Visual tokens on disk under the cache's `visual_tokens` folder (or `folder`), at most `max_bytes` in
    all. A folder that cannot be used means no caching (`engine.cache.CacheFolder`), never a failure."""

    def __init__(self, folder: Path | None = None, max_bytes: int | None = None) -> None:
        self.cache = CacheFolder("visual_tokens", folder)
        self.folder = self.cache.folder
        self.max_bytes = max_bytes_from_env() if max_bytes is None else int(max_bytes)

    def path_for(self, key: TokenCacheKey) -> Path:
        return self.cache.path(f"{key.digest}{SUFFIX}")

    def load(
        self,
        key: TokenCacheKey,
        layout: TokenLayout,
        frame_times_s: Sequence[float] | np.ndarray,
        device: torch.device | str = "cpu",
    ) -> CachedTokens | None:
        """The entry of `key` with its tokens on `device`, or None.

        The entry must be exactly what the model would compute for these frames: the key in its metadata,
        the key's frame indices, `frame_times_s` (the video's times of those frames), tokens of `layout`
        and all finite. Anything else is a damaged or foreign entry: deleted, logged once, and a miss.
        """
        times = np.asarray(frame_times_s, dtype=np.float64)

        def parse(data: bytes) -> dict[str, torch.Tensor]:
            from safetensors.torch import load

            if _metadata(data) != key.metadata():
                raise BadEntry("written for another key")
            tensors = load(data)
            problem = _mismatch(key, layout, times, tensors)
            if problem:
                raise BadEntry(problem)
            return tensors

        path = self.path_for(key)
        tensors = self.cache.read(path.name, parse)
        if tensors is None:
            return None
        self.cache.touch(path)  # most recently used
        tokens = tensors["visual_tokens"].to(device)
        return CachedTokens(visual_tokens=tokens, frame_times_s=tensors["frame_times_s"].numpy(), path=path)

    def store(
        self, key: TokenCacheKey, visual_tokens: torch.Tensor, frame_times_s: Sequence[float]
    ) -> Path | None:
        """Write the entry of `key` atomically, then evict old entries beyond the size cap.

        Returns the entry's path, or None when the cache folder cannot be written (logged once).
        """
        from safetensors.torch import save

        times = np.asarray(frame_times_s, dtype=np.float64)
        n = len(key.frame_indices)
        if visual_tokens.ndim != 3 or visual_tokens.shape[0] != n or times.shape != (n,):
            raise ValueError(
                f"visual tokens {tuple(visual_tokens.shape)} and {len(times)} times do not match {n} frames"
            )
        tensors = {
            "visual_tokens": visual_tokens.detach().to("cpu").contiguous(),
            "frame_indices": torch.tensor(key.frame_indices, dtype=torch.int64),
            "frame_times_s": torch.from_numpy(times),
        }
        path = self.cache.write(self.path_for(key).name, save(tensors, metadata=key.metadata()))
        if path is not None:
            self.evict(keep=path)
        return path

    def entries(self) -> list[Path]:
        """Entry files, least recently used first."""
        return self.cache.entries(SUFFIX)

    def size_bytes(self) -> int:
        return sum(_size(p) for p in self.entries())

    def evict(self, keep: Path | None = None) -> list[Path]:
        """Delete least recently used entries (never `keep`) until the total is within the cap."""
        entries = self.entries()
        total = sum(_size(p) for p in entries)
        removed: list[Path] = []
        for path in entries:
            if total <= self.max_bytes:
                break
            if path == keep:
                continue
            total -= _size(path)
            self.cache.remove(path)
            removed.append(path)
        if removed:
            logger.info(
                "visual-token cache: evicted %d old entries to stay under %d bytes",
                len(removed),
                self.max_bytes,
            )
        return removed


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _metadata(data: bytes) -> dict:
    """The metadata of a safetensors file in memory: an 8-byte little-endian header length, then a JSON
    header whose "__metadata__" holds it."""
    size = int.from_bytes(data[:8], "little")
    if not 0 < size <= len(data) - 8:
        raise BadEntry(f"its header length {size} does not fit its {len(data)} bytes")
    return json.loads(data[8 : 8 + size]).get("__metadata__") or {}


def _mismatch(
    key: TokenCacheKey, layout: TokenLayout, times: np.ndarray, tensors: dict[str, torch.Tensor]
) -> str:
    """Why the tensors of an entry are not what `key`'s frames give with `layout` ("" if they are)."""
    if set(tensors) != {"visual_tokens", "frame_indices", "frame_times_s"}:
        return f"holding tensors {sorted(tensors)}"
    tokens, indices = tensors["visual_tokens"], tensors["frame_indices"]
    stored_times = tensors["frame_times_s"]
    n = len(key.frame_indices)
    if indices.dtype != torch.int64 or indices.tolist() != list(key.frame_indices):
        return "for other frames"
    if stored_times.dtype != torch.float64 or not np.array_equal(stored_times.numpy(), times):
        return "for other frame times"
    shape = (n, layout.tokens_per_frame, layout.width)
    if tuple(tokens.shape) != shape or tokens.dtype != layout.dtype:
        return f"malformed (tokens {tokens.dtype} {tuple(tokens.shape)}, not {layout.dtype} {shape})"
    if not bool(torch.isfinite(tokens).all()):
        return "not finite (NaN or infinite tokens)"
    return ""
