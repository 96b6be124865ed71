"""The relevance curve: how likely the model says "yes, this part shows <query>", along the whole video.

The video's sampled frames are already encoded (visual tokens [N, 16, D], shared with `ask` through the
visual-token cache), so scoring runs only the language model: no vision-tower pass.

Windows: `window_groups` whole HiCo groups of 4 consecutive sampled frames, starting every
`stride_groups` groups. HiCo merged each group's tokens together, so a window never splits a group.
The default, 2 groups wide with a stride of 1, looks at every pair of neighbouring groups: an event
that straddles a group boundary is seen whole by one window, a window holds enough frames to show motion
("stops", "turns"), and the curve still moves in steps of one group. Its edges are blurred by the extra
group; zoom-in refinement (`refine.py`) sharpens them.

Score of a window: the prompt holds only its frames and the yes/no question; the answer's first token
decides, so P(yes) = sum of p over the tokens that start "Yes"/"yes" over that sum plus the same for
"No"/"no" (log-sum-exp over the variants, then a two-way softmax).

Cost: every window's prompt has the same text and length, only its visual tokens differ. The text before
the first frame (BOS, system message, "Frame1: <img>") is run once and its keys/values are shared; the
rest of the windows go through the language model in batches of `batch_windows` equal-length rows, no
padding, keeping the logits of the last position only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from transformers.cache_utils import DynamicCache

from engine.errors import ModelError
from engine.grounding.prompt import relevance_question
from engine.grounding.result import DEFAULT_STRIDE_GROUPS, DEFAULT_WINDOW_GROUPS
from engine.grounding.spans import RelevanceCurve
from engine.jobs import Job, job_or_new
from engine.models.internvideo import InternVideo

YES_WORDS = ("Yes", "yes", "YES")
NO_WORDS = ("No", "no", "NO")


@dataclass(frozen=True)
class AnswerTokens:
    """First tokens of the answers "yes" and "no" (case and leading-space variants), disjoint."""

    yes: tuple[int, ...]
    no: tuple[int, ...]


def answer_tokens(model: InternVideo) -> AnswerTokens:
    """The tokens an answer starting with yes or no begins with, right after the assistant's role.

    Each word is tokenized after the role text ("<|im_start|>assistant\\n"), as it is when the model
    writes it there, with and without a leading space. A token that begins both a yes and a no variant
    (a lone "▁" or a byte of a vocabulary without whole words) says nothing and is left out.
    """
    role = model.template.roles[1]
    context = model.tokenizer.encode(role, add_bos=False)

    def first_tokens(words: Sequence[str]) -> set[int]:
        found = set()
        for word in words:
            for text in (word, " " + word):
                ids = model.tokenizer.encode(role + text, add_bos=False)
                if ids[: len(context)] == context and len(ids) > len(context):
                    found.add(ids[len(context)])
        return found

    yes, no = first_tokens(YES_WORDS), first_tokens(NO_WORDS)
    shared = yes & no
    if not yes - shared or not no - shared:
        raise ModelError(
            "this model's tokenizer cannot tell a yes answer from a no answer by its first token"
        )
    return AnswerTokens(yes=tuple(sorted(yes - shared)), no=tuple(sorted(no - shared)))


def yes_probability(logits: torch.Tensor, tokens: AnswerTokens) -> torch.Tensor:
    """logits [B, V] of the first answer position -> P(yes | yes or no) [B] float64."""
    logits = logits.double()
    yes = torch.logsumexp(logits[:, list(tokens.yes)], dim=-1)
    no = torch.logsumexp(logits[:, list(tokens.no)], dim=-1)
    return torch.sigmoid(yes - no)


def window_starts(num_frames: int, group: int, window_groups: int, stride_groups: int) -> np.ndarray:
    """[W] int64: index of the first sampled frame of each window.

    Windows are `window_groups` groups wide (fewer when the video has fewer groups) and start every
    `stride_groups` groups; the last one always ends at the last frame, so every frame is covered.
    """
    if window_groups < 1 or stride_groups < 1:
        raise ValueError("windows must be at least one group wide and move by at least one group")
    if num_frames < group or num_frames % group:
        raise ModelError(f"InternVideo2.5 takes whole groups of {group} frames; {num_frames} were sampled")
    groups = num_frames // group
    width = min(window_groups, groups)
    starts = list(range(0, groups - width + 1, stride_groups))
    if starts[-1] != groups - width:
        starts.append(groups - width)
    return np.asarray(starts, dtype=np.int64) * group


def window_times(
    frame_times_s: np.ndarray, end_s: float, starts: np.ndarray, width: int
) -> tuple[np.ndarray, np.ndarray]:
    """([W] start, [W] end) of windows of `width` frames: the time of a window's first frame, and the time
    of the sampled frame after its last one (`end_s`, the end of the sampled range, for the last)."""
    times = np.asarray(frame_times_s, dtype=np.float64)
    after = starts + width
    ends = np.where(after < len(times), times[np.minimum(after, len(times) - 1)], end_s)
    return times[starts], ends.astype(np.float64)


def default_batch_windows(model: InternVideo) -> int:
    """Windows per language-model pass: 32 on a GPU (8 frames each: about 6,000 tokens of the 8B), 8 on
    the CPU (larger batches gain nothing there)."""
    return 32 if model.device.type == "cuda" else 8


@torch.no_grad()
def relevance_curve(
    model: InternVideo,
    visual_tokens: torch.Tensor,
    frame_times_s: np.ndarray,
    end_s: float,
    query: str,
    *,
    window_groups: int = DEFAULT_WINDOW_GROUPS,
    stride_groups: int = DEFAULT_STRIDE_GROUPS,
    batch_windows: int | None = None,
    job: Job | None = None,
) -> RelevanceCurve:
    """P(yes) of each window of the sampled frames (visual tokens [N, 16, D], times [N]) for `query`.

    `end_s` is where the sampled range ends (the video's end for a whole-video sampling). Each batch
    of windows is handed out as it is scored, `job.partial("curve", {"starts_s", "ends_s", "scores"})`,
    with progress: stage "scan", windows scored. A cancelled `job` stops between batches (`Cancelled`).
    """
    n = int(visual_tokens.shape[0])
    if len(frame_times_s) != n:
        raise ValueError(f"{len(frame_times_s)} frame times for {n} frames")
    starts = window_starts(n, model.frame_group, window_groups, stride_groups)
    width = min(window_groups, n // model.frame_group) * model.frame_group
    tokens = answer_tokens(model)
    ids = torch.tensor([model.tokenize(model.build_prompt(relevance_question(query), width))])  # [1, L]
    prefix = _prefix_cache(model, ids)
    split = prefix.get_seq_length()
    visual_tokens = visual_tokens.to(model.device)
    batch = batch_windows or default_batch_windows(model)
    starts_s, ends_s = window_times(np.asarray(frame_times_s), end_s, starts, width)
    job = job_or_new(job)
    scores: list[torch.Tensor] = []
    for first in range(0, len(starts), batch):
        job.check()
        chunk = starts[first : first + batch]
        windows = torch.stack([visual_tokens[s : s + width] for s in chunk])  # [B, width, 16, D]
        embeds = model.model.embed(ids, windows)[:, split:]  # [B, L - split, D]
        cache = _repeat_cache(prefix, len(chunk))
        logits, _ = model.model.language_forward(embeds, cache, logits_to_keep=1)  # [B, 1, V]
        scores.append(yes_probability(logits[:, -1], tokens).cpu())
        done = first + len(chunk)
        job.partial(
            "curve",
            {
                "starts_s": starts_s[first:done].tolist(),
                "ends_s": ends_s[first:done].tolist(),
                "scores": scores[-1].tolist(),
            },
        )
        job.progress("scan", done, len(starts))
    return RelevanceCurve(starts_s=starts_s, ends_s=ends_s, scores=torch.cat(scores).numpy())


def _prefix_cache(model: InternVideo, ids: torch.Tensor) -> DynamicCache:
    """Keys/values of the prompt before its first image-context token, computed once for all windows."""
    positions = (ids[0] == model.model.img_context_token_id).nonzero()
    if len(positions) == 0:
        raise ModelError("the relevance prompt holds no frames")
    split = int(positions[0])
    cache = DynamicCache(config=model.model.language_model.config)
    model.model.language_forward(model.model.embed(ids[:, :split], None), cache, logits_to_keep=1)
    return cache


def _repeat_cache(prefix: DynamicCache, rows: int) -> DynamicCache:
    """A cache holding the prefix's keys/values for each of `rows` sequences (the prefix stays as it is)."""
    data = [
        (layer.keys.expand(rows, -1, -1, -1), layer.values.expand(rows, -1, -1, -1))
        for layer in prefix.layers
    ]
    return DynamicCache(ddp_cache_data=data)
