"""Pixel shuffle and the HiCo token merge, as in the released `extract_feature` / `merge_tokens`.

Per group of `local_num_frames` = 4 consecutive frames:
    [4, 256, 4C] --concat frames--> [1, 1024, 4C] --ToMe bipartite merging--> [1, 64, 4C] --> [4, 16, 4C]
The merge runs after pixel shuffle and before the projector, on the 4C-wide (4096 for the 8B) features.

Merging, step by step (the schedule for 1024 -> 64 is r = [512, 256, 128, 64], every step halves):
- metric: features viewed as [b, p, heads, C'/heads] averaged over heads, where heads is the *LLM* head
  count (config.llm_config.num_attention_heads), as released;
- bipartite soft matching (ToMe, no protected tokens): even tokens A, odd tokens B, cosine similarity,
  the r A-tokens with the highest best-match score merge into their best B-token;
- size-weighted average: sums of x·size and of size are scattered, then x = sum / size;
- output order: unmerged A-tokens (by descending score), then all B-tokens in their original order.
Because every step halves, all A-tokens merge every time and the survivors are the original tokens at
positions 16k+15; each output is the plain mean of every original token chained into it.
"""

from __future__ import annotations

import torch


def pixel_shuffle_v2(x: torch.Tensor, scale: float = 0.5) -> torch.Tensor:
    """[n, w, h, c] -> [n, w·scale, h·scale, c/scale²] ("v2": height and width swapped back).

    Output token (r, c) holds the channels of input patches (2r, 2c), (2r, 2c+1), (2r+1, 2c), (2r+1, 2c+1)
    in that order (for scale 0.5).
    """
    n, w, h, c = x.shape
    if (w * scale) % 1 or (h * scale) % 1:
        raise ValueError(f"grid {w}x{h} is not divisible by the pixel-shuffle scale {scale}")
    x = x.reshape(n, w, int(h * scale), int(c / scale))  # [n, w, h·s, c/s]
    x = x.permute(0, 2, 1, 3).contiguous()  # [n, h·s, w, c/s]
    x = x.reshape(n, int(h * scale), int(w * scale), int(c / (scale * scale)))  # [n, h·s, w·s, c/s²]
    return x.permute(0, 2, 1, 3).contiguous()  # [n, w·s, h·s, c/s²]


def merge_schedule(num_tokens: int, target: int) -> list[int]:
    """How many tokens each ToMe step removes to go from `num_tokens` to `target` (at most half per step)."""
    if num_tokens <= target:
        raise ValueError(f"cannot merge {num_tokens} tokens down to {target}")
    schedule: list[int] = []
    p = num_tokens
    while p != target:
        if p - target <= p // 2:
            schedule.append(p - target)
            break
        schedule.append(p // 2)
        p -= p // 2
    return schedule


def _merge_indices(metric: torch.Tensor, r: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Bipartite soft matching on metric [b, t, d]: (unmerged A idx [b, a-r, 1], merged A idx [b, r, 1],
    their B destinations [b, r, 1])."""
    metric = metric / metric.norm(dim=-1, keepdim=True)
    a, b = metric[..., ::2, :], metric[..., 1::2, :]  # [b, ceil(t/2), d], [b, floor(t/2), d]
    scores = a @ b.transpose(-1, -2)  # [b, |A|, |B|] cosine similarity
    node_max, node_idx = scores.max(dim=-1)  # best B match of every A token
    edge_idx = node_max.argsort(dim=-1, descending=True)[..., None]  # [b, |A|, 1]
    unm_idx = edge_idx[..., r:, :]
    src_idx = edge_idx[..., :r, :]
    dst_idx = node_idx[..., None].gather(dim=-2, index=src_idx)
    return unm_idx, src_idx, dst_idx


def _apply_merge(
    x: torch.Tensor, unm_idx: torch.Tensor, src_idx: torch.Tensor, dst_idx: torch.Tensor
) -> torch.Tensor:
    """Sum the selected A tokens of x [b, t, c] into their B tokens -> [b, t - r, c] = [unmerged A, B]."""
    src, dst = x[..., ::2, :], x[..., 1::2, :]
    n, t1, c = src.shape
    r = src_idx.shape[1]
    unm = src.gather(dim=-2, index=unm_idx.expand(n, t1 - r, c))
    src = src.gather(dim=-2, index=src_idx.expand(n, r, c))
    dst = dst.scatter_add(-2, dst_idx.expand(n, r, c), src)
    return torch.cat([unm, dst], dim=1)


def merge_tokens(
    x: torch.Tensor, target: int, num_heads: int, track: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """HiCo merge of x [b, p, c] down to [b, target, c].

    Returns (merged x [b, target, c], sizes [b, target, 1], tracked [b, target, k] or None). `track`
    [b, p, k] is optional bookkeeping summed along the same merges (e.g. a one-hot of original positions,
    to see which tokens went where); it does not influence the result.
    """
    b, p, c = x.shape
    if c % num_heads:
        raise ValueError(f"feature width {c} is not divisible by {num_heads} heads")
    size = torch.ones_like(x[..., :1])  # [b, p, 1]
    for r in merge_schedule(p, target):
        t = x.shape[1]
        r = min(r, t // 2)
        if r <= 0:
            raise ValueError("nothing left to merge")
        metric = x.reshape(b, t, num_heads, c // num_heads).mean(2)  # [b, t, c/heads]
        with torch.no_grad():
            idx = _merge_indices(metric, r)
        x = _apply_merge(x * size, *idx)  # size-weighted sums
        size = _apply_merge(size, *idx)
        x = x / size  # size-weighted mean
        if track is not None:
            track = _apply_merge(track, *idx)
    return x, size, track


def hico_compress(
    features: torch.Tensor, local_num_frames: int, num_tome_tokens: int, num_heads: int
) -> torch.Tensor:
    """Per-frame features [N, T, C] -> [N, num_tome_tokens / local_num_frames, C], merging per frame group.

    N must be a multiple of `local_num_frames`; frames are grouped in order (0-3, 4-7, ...).
    """
    n, t, c = features.shape
    if n % local_num_frames:
        raise ValueError(f"{n} frames are not a multiple of {local_num_frames}")
    groups = features.reshape(n // local_num_frames, local_num_frames * t, c)  # [N/4, 4·T, C]
    merged, _, _ = merge_tokens(groups, num_tome_tokens, num_heads)  # [N/4, 64, C]
    return merged.reshape(n, num_tome_tokens // local_num_frames, c)  # [N, 16, C]
