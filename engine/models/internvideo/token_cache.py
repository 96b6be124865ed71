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
the metadata. Files are written atomically. A file that cannot be read or does not match its key is
logged, deleted and treated as a miss. A hit refreshes the file's mtime; after every write the least
recently used entries are deleted until the folder is under its size cap.
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

from engine.atomic import write_bytes_atomic
from engine.cache import cache_dir
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
    """Visual tokens on disk under `cache_dir("visual_tokens")` (or `folder`), at most `max_bytes` in all."""

    def __init__(self, folder: Path | None = None, max_bytes: int | None = None) -> None:
        self.folder = Path(folder) if folder is not None else cache_dir("visual_tokens")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes_from_env() if max_bytes is None else int(max_bytes)

    def path_for(self, key: TokenCacheKey) -> Path:
        return self.folder / f"{key.digest}{SUFFIX}"

    def load(self, key: TokenCacheKey, device: torch.device | str = "cpu") -> CachedTokens | None:
        """The entry of `key` with its tokens on `device`, or None (missing, unreadable or not matching)."""
        from safetensors import safe_open

        path = self.path_for(key)
        if not path.is_file():
            return None
        try:
            with safe_open(str(path), framework="pt", device=str(device)) as f:
                meta = f.metadata() or {}
                tokens = f.get_tensor("visual_tokens")
                indices = f.get_tensor("frame_indices").cpu().numpy()
                times = f.get_tensor("frame_times_s").cpu().numpy()
            problem = _mismatch(key, meta, tokens, indices, times)
        except FileNotFoundError:  # evicted by another process between the check and the read
            return None
        except Exception as exc:  # a truncated or foreign file: whatever the reader raises, recompute
            problem = f"unreadable ({type(exc).__name__}: {exc})"
        if problem:
            logger.warning("visual-token cache entry %s is %s; deleting it and encoding again", path, problem)
            path.unlink(missing_ok=True)
            return None
        os.utime(path)  # most recently used
        return CachedTokens(visual_tokens=tokens, frame_times_s=times, path=path)

    def store(self, key: TokenCacheKey, visual_tokens: torch.Tensor, frame_times_s: Sequence[float]) -> Path:
        """Write the entry of `key` atomically, then evict old entries beyond the size cap."""
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
        path = self.path_for(key)
        write_bytes_atomic(path, save(tensors, metadata=key.metadata()))
        self.evict(keep=path)
        return path

    def entries(self) -> list[Path]:
        """Entry files, least recently used first."""
        found = []
        for path in self.folder.glob(f"*{SUFFIX}"):
            try:
                found.append((path.stat().st_mtime, path))
            except FileNotFoundError:
                continue
        return [p for _, p in sorted(found)]

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
            path.unlink(missing_ok=True)
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


def _mismatch(
    key: TokenCacheKey, meta: dict[str, str], tokens: torch.Tensor, indices: np.ndarray, times: np.ndarray
) -> str:
    """Why a read entry does not belong to `key` ("" if it does)."""
    if meta != key.metadata():
        return "for another key"
    if indices.tolist() != list(key.frame_indices):
        return "for other frames"
    if tokens.ndim != 3 or tokens.shape[0] != len(indices) or times.shape != (len(indices),):
        return f"malformed (tokens {tuple(tokens.shape)}, {len(indices)} frames, times {times.shape})"
    return ""
