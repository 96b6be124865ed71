"""`load_internvideo`: find or fetch the checkpoint folder, then read config, tokenizer and weights."""

from __future__ import annotations

from pathlib import Path

import torch

from engine.jobs import Job, job_or_new
from engine.models.hub import model_folder

from .config import load_config
from .load import (
    DEFAULT_REPO,
    HUB,
    build_model,
    choose_attention,
    compute_dtype,
    model_identity,
    resolve_device,
    resolve_precision,
)
from .pipeline import InternVideo
from .tokenizer import InternLM2Tokenizer


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
    precision: "auto" (fp32 on CPU; on CUDA what the memory planner picks for the free memory: bf16, else
        an int8 or NF4 LLM), "fp32", "bf16", "fp16" (CUDA cards without fast bfloat16), "int8" or "nf4".
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
