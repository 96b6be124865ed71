"""The assembled InternVideo2.5 network on native transformers building blocks.

pixel_values [N, 3, 448, 448]
  -> vision_tower (InternVLVisionModel)       [N, 1025, C]      C = 1024 for the 8B
  -> drop CLS, grid                           [N, 32, 32, C]
  -> pixel shuffle v2 (0.5)                   [N, 16, 16, 4C] -> [N, 256, 4C]
  -> HiCo merge per 4 frames                  [N/4, 1024, 4C] -> [N/4, 64, 4C] -> [N, 16, 4C]
  -> multi_modal_projector (LN, Linear, GELU, Linear)  [N, 16, D]   D = LLM hidden size
visual tokens are written into the <IMG_CONTEXT> positions of the prompt embeddings
  -> language_model (LlamaForCausalLM)        logits [1, L, V]
"""

from __future__ import annotations

import copy
import inspect

import torch
from torch import nn
from transformers import InternVLConfig, InternVLVisionModel, LlamaForCausalLM
from transformers.cache_utils import Cache
from transformers.models.internvl.modeling_internvl import InternVLMultiModalProjector

from engine.errors import ModelError
from engine.jobs import Job, job_or_new

from .config import InternVideoConfig
from .hico import hico_compress, pixel_shuffle_v2


def cache_keyword(forward: object) -> str:
    """The keyword a transformers forward takes the KV cache by: `cache` where it exists, which replaced
    `past_key_values` (warned about on every call, and gone in 5.40: a cache passed by that name would
    silently stop working), else `past_key_values` for the releases before it."""
    return "cache" if "cache" in inspect.signature(forward).parameters else "past_key_values"


CACHE_KEYWORD = cache_keyword(LlamaForCausalLM.forward)


class InternVideoModel(nn.Module):
    """Vision tower + pixel shuffle + HiCo + projector + Llama-shaped LLM (names as in `convert.py`)."""

    def __init__(self, config: InternVideoConfig, attn_implementation: str = "sdpa") -> None:
        super().__init__()
        self.config = config
        vision_cfg = copy.deepcopy(config.vision)  # the attention choice is per module, not per parsed config
        text_cfg = copy.deepcopy(config.text)
        vision_cfg._attn_implementation = attn_implementation
        text_cfg._attn_implementation = attn_implementation
        self.vision_tower = InternVLVisionModel(vision_cfg)
        # The native projector: LayerNorm(4C, eps 1e-5) -> Linear(4C, D) -> exact GELU -> Linear(D, D).
        # (built from copies: a composite config resets the attention choice of the sub-configs it holds)
        composite = InternVLConfig(
            vision_config=copy.deepcopy(vision_cfg),
            text_config=copy.deepcopy(text_cfg),
            downsample_ratio=config.spec.downsample_ratio,
            projector_hidden_act="gelu",
            tie_word_embeddings=False,
        )
        self.multi_modal_projector = InternVLMultiModalProjector(composite)
        self.language_model = LlamaForCausalLM(text_cfg)
        for part in (self.vision_tower, self.language_model):
            if part.config._attn_implementation != attn_implementation:
                raise ModelError(
                    f"{type(part).__name__} got attention {part.config._attn_implementation!r}, "
                    f"not {attn_implementation!r}"
                )
        self.img_context_token_id: int | None = None

    # ----- vision -------------------------------------------------------------------------------------------
    def shuffled_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """pixel_values [n, 3, H, W] -> pixel-shuffled patch features [n, 256, 4C] (before HiCo)."""
        tower_dtype = self.vision_tower.embeddings.patch_embeddings.projection.weight.dtype
        hidden = self.vision_tower(pixel_values=pixel_values.to(tower_dtype)).last_hidden_state  # [n, 1+P, C]
        hidden = hidden[:, 1:, :]  # drop CLS: [n, P, C]
        n, p, c = hidden.shape
        side = int(p**0.5)
        grid = hidden.reshape(n, side, side, c)  # [n, 32, 32, C]
        shuffled = pixel_shuffle_v2(grid, self.config.spec.downsample_ratio)  # [n, 16, 16, 4C]
        return shuffled.reshape(n, -1, shuffled.shape[-1])  # [n, 256, 4C]

    def encode_group_chunk(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """A chunk of whole frame groups [n, 3, H, W] (n % 4 == 0) -> visual tokens [n, 16, D]."""
        spec = self.config.spec
        feats = self.shuffled_features(pixel_values)  # [n, 256, 4C]
        merged = hico_compress(
            feats, spec.local_num_frames, spec.num_tome_tokens, self.config.merge_num_heads
        )
        proj_dtype = self.multi_modal_projector.linear_1.weight.dtype
        return self.multi_modal_projector(merged.to(proj_dtype))  # [n, 16, D]

    @torch.no_grad()
    def encode_frames(
        self,
        pixel_values: torch.Tensor,
        chunk_frames: int = 32,
        job: Job | None = None,
    ) -> torch.Tensor:
        """pixel_values [N, 3, H, W] -> visual tokens [N, 16, D], running the vision tower chunk by chunk.

        N must be a positive multiple of 4 (HiCo merges 4 frames at a time). Chunks hold whole frame groups,
        so the result does not depend on `chunk_frames`. Progress: stage "encode", frames encoded, after
        each chunk; a cancelled `job` raises `Cancelled` there.
        """
        spec = self.config.spec
        group = spec.local_num_frames
        if pixel_values.ndim != 4 or pixel_values.shape[1] != 3:
            raise ModelError(f"pixel_values must be [N, 3, H, W]; got {tuple(pixel_values.shape)}")
        n = int(pixel_values.shape[0])
        if n == 0 or n % group:
            raise ModelError(
                f"InternVideo2.5 needs a positive multiple of {group} frames (got {n}): "
                f"HiCo merges the tokens of {group} consecutive frames together"
            )
        if tuple(pixel_values.shape[2:]) != (spec.image_size, spec.image_size):
            raise ModelError(
                f"frames must be {spec.image_size}x{spec.image_size}; got {tuple(pixel_values.shape[2:])}"
            )
        step = max(group, (chunk_frames // group) * group)
        device = self.multi_modal_projector.linear_1.weight.device
        job = job_or_new(job)
        out: list[torch.Tensor] = []
        for start in range(0, n, step):
            chunk = pixel_values[start : start + step].to(device)
            out.append(self.encode_group_chunk(chunk))
            job.progress("encode", min(start + step, n), n)
        return torch.cat(out, dim=0)

    # ----- language -----------------------------------------------------------------------------------------
    def embed(self, input_ids: torch.Tensor, visual_tokens: torch.Tensor | None) -> torch.Tensor:
        """input_ids [1, L] -> embeddings [1, L, D] with visual_tokens [N, 16, D] at the <IMG_CONTEXT> ids.

        visual_tokens [B, N, 16, D] gives a batch [B, L, D] of B prompts with the same text and their own
        visual tokens (relevance scoring of windows of a video, `engine.grounding`).
        """
        embedding = self.language_model.get_input_embeddings()
        if input_ids.numel() and int(input_ids.max()) >= embedding.num_embeddings:
            raise ModelError(
                f"token id {int(input_ids.max())} is outside the language model's "
                f"{embedding.num_embeddings} embeddings"
            )
        embeds = embedding(input_ids.to(embedding.weight.device))  # [1, L, D]
        if visual_tokens is None:
            return embeds
        if self.img_context_token_id is None:
            raise ModelError("img_context_token_id is not set")
        batch = visual_tokens.reshape(-1, *visual_tokens.shape[-3:])  # [B, N, 16, D] (B = 1 for [N, 16, D])
        mask = input_ids[0].to(embeds.device) == self.img_context_token_id  # [L]
        flat = batch.reshape(batch.shape[0], -1, batch.shape[-1])  # [B, N·16, D]
        if int(mask.sum()) != flat.shape[1]:
            raise ModelError(
                f"the prompt has {int(mask.sum())} image-context tokens "
                f"but {flat.shape[1]} visual tokens were given"
            )
        if flat.shape[-1] != embeds.shape[-1]:
            raise ModelError(
                f"visual tokens are {flat.shape[-1]}-wide; the language model expects {embeds.shape[-1]}"
            )
        embeds = embeds.expand(flat.shape[0], -1, -1).clone()  # [B, L, D]
        embeds[:, mask] = flat.to(device=embeds.device, dtype=embeds.dtype)
        return embeds

    def language_forward(
        self,
        inputs_embeds: torch.Tensor,
        cache: Cache | None = None,
        logits_to_keep: int = 0,
    ) -> tuple[torch.Tensor, Cache | None]:
        """One LLM pass over inputs_embeds [B, q, D] after the cached prefix -> (logits [B, k, V], cache).

        A batch of B sequences has no padding: all are q long, after a cached prefix of B rows (or none).

        `logits_to_keep=0` keeps the logits of every position; 1 keeps only the last (what decoding needs).
        """
        out = self.language_model(
            inputs_embeds=inputs_embeds,
            use_cache=cache is not None,
            logits_to_keep=logits_to_keep,
            **{CACHE_KEYWORD: cache},
        )
        return out.logits, cache  # filled in place

    @torch.no_grad()
    def forward(self, input_ids: torch.Tensor, visual_tokens: torch.Tensor | None = None) -> torch.Tensor:
        """Full-prompt logits [1, L, V] (float32) for input_ids [1, L] with visual tokens [N, 16, D]."""
        logits, _ = self.language_forward(self.embed(input_ids, visual_tokens))
        return logits.float()
