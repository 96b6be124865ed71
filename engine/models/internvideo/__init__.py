"""InternVideo2.5-Chat-8B on native transformers blocks, without remote code.

Public API:
    load_internvideo(source, device="auto", precision="auto", revision=None, attn_implementation=None,
        job=None) -> InternVideo
    InternVideo.preprocess(frames_uint8 [N, 448, 448, 3]) -> pixel_values [N, 3, 448, 448]
    InternVideo.encode_frames(pixel_values) -> visual tokens [N, 16, D]   (N a multiple of 4)
    InternVideo.start_chat(visual_tokens) -> ChatSession; ChatSession.ask(question, on_token=, cancel=)
    InternVideo.generate(question, visual_tokens, history=()) -> Generation
    InternVideo.identity / .visual_tokens_key: strings for cache keys (weights by content)
    InternVideo.visual_token_layout -> TokenLayout: what encode_frames gives per frame ([16, D], dtype)
    choose_gpu_precision(free_bytes, size, num_frames): the rule behind precision="auto"
    VisualTokenCache(folder=None, max_bytes=None): visual tokens on disk, keyed by TokenCacheKey
        (.load(key, layout, frame_times_s, device) -> CachedTokens | None: None for a miss or a damaged
        entry; .store(key, visual_tokens, frame_times_s))
"""

from __future__ import annotations

from pathlib import Path

import torch

from engine.jobs import Job, job_or_new
from engine.models.hub import model_folder

from .config import load_config
from .generate import ChatSession, Generation
from .load import (
    DEFAULT_REPO,
    DEFAULT_REVISION,
    HUB,
    build_model,
    choose_attention,
    compute_dtype,
    model_identity,
    resolve_device,
    resolve_precision,
)
from .pipeline import InternVideo, preprocess_frames
from .precision import ModelSize, choose_gpu_precision
from .token_cache import CachedTokens, TokenCacheKey, TokenLayout, VisualTokenCache
from .tokenizer import InternLM2Tokenizer

__all__ = [
    "DEFAULT_REPO",
    "DEFAULT_REVISION",
    "CachedTokens",
    "ChatSession",
    "Generation",
    "InternLM2Tokenizer",
    "InternVideo",
    "ModelSize",
    "TokenCacheKey",
    "TokenLayout",
    "VisualTokenCache",
    "choose_gpu_precision",
    "load_internvideo",
    "preprocess_frames",
]


def load_internvideo(
    source: str | Path = DEFAULT_REPO,
    device: str | torch.device = "auto",
    precision: str = "auto",
    revision: str | None = None,
    attn_implementation: str | None = None,
    job: Job | None = None,
) -> InternVideo:
    """Load InternVideo2.5 from a local folder or a Hugging Face id (data files only, pinned revision).

    source: a folder, or a Hub id ("owner/name" or "owner/name@COMMIT"; see `engine.models.hub`), served
        from the local Hugging Face cache when it is there, else downloaded.
    device: "auto" (CUDA if available), "cpu", "cuda", "cuda:1", ...
    precision: "auto" (fp32 on CPU; on CUDA bf16, else an int8 or NF4 LLM, whichever lets 512 frames fit
        the free memory), "fp32", "bf16", "fp16" (CUDA cards without fast bfloat16), "int8" or "nf4".
    attn_implementation: None picks flash_attention_2 when usable, else "sdpa"; "eager" is for checks only.
    job: progress of stage "download" (bytes, file name) when the model is fetched, then "load" (tensors);
        a cancelled job raises `Cancelled`.
    Raises `ModelError` with an actionable message for a missing, damaged or incompatible checkpoint.
    """
    job = job_or_new(job)
    files = model_folder(source, HUB, revision, job)
    folder = files.path
    with files.explain_damage():
        config = load_config(folder)
        tokenizer = InternLM2Tokenizer.from_folder(folder)
        dev = resolve_device(device)
        prec = resolve_precision(precision, dev, config)
        attn = attn_implementation or choose_attention(dev, compute_dtype(prec, dev))
        model = build_model(folder, config, dev, prec, attn, job)
        identity = model_identity(folder, files.revision)
    return InternVideo.assemble(model, tokenizer, config, dev, prec, identity, folder)
