"""`InternVideo`: the loaded model with its tokenizer and template, and the calls the app makes.

frames uint8 [N, 448, 448, 3] --preprocess--> pixel_values [N, 3, 448, 448]
    --encode_frames--> visual tokens [N, 16, D]     (what the visual-token cache stores)
    --start_chat(visual tokens).ask(question)--> answer, streamed token by token
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from engine.errors import ModelError
from engine.jobs import Job

from .config import InternVideoConfig
from .generate import CancelCheck, ChatSession, Generation, TokenCallback
from .model import InternVideoModel
from .precision import VISION_CHUNK_FRAMES, max_frames
from .prompt import ChatTemplate, build_prompt, get_template
from .token_cache import TokenLayout
from .tokenizer import InternLM2Tokenizer

logger = logging.getLogger("engine.models.internvideo")

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# Bump when a code change alters encode_frames' output for the same weights (it is part of cache keys).
ENCODER_VERSION = "1"


def preprocess_frames(frames: np.ndarray | torch.Tensor, image_size: int) -> torch.Tensor:
    """uint8 RGB frames [N, S, S, 3] (already resized to S = image_size) -> float32 [N, 3, S, S].

    x / 255, then ImageNet mean/std, as the reference transform (ToTensor + Normalize) does. Runs on the
    frames' device, so uint8 frames moved to the GPU first cross the bus at a quarter of the float size.
    """
    t = torch.as_tensor(frames)
    if t.dtype != torch.uint8 or t.ndim != 4 or t.shape[-1] != 3:
        raise ModelError(f"frames must be uint8 RGB [N, H, W, 3]; got {t.dtype} {tuple(t.shape)}")
    if tuple(t.shape[1:3]) != (image_size, image_size):
        raise ModelError(
            f"frames must be resized to {image_size}x{image_size} first; got {tuple(t.shape[1:3])}"
        )
    x = t.permute(0, 3, 1, 2).to(torch.float32).div(255)  # [N, 3, S, S]
    mean = torch.tensor(IMAGENET_MEAN, dtype=torch.float32, device=t.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=torch.float32, device=t.device).view(1, 3, 1, 1)
    return (x - mean) / std


@dataclass
class InternVideo:
    """A loaded InternVideo2.5 chat model. Create it with `load_internvideo`."""

    model: InternVideoModel
    tokenizer: InternLM2Tokenizer
    config: InternVideoConfig
    template: ChatTemplate
    device: torch.device
    precision: str  # "fp32", "bf16", "fp16", "int8" or "nf4"
    identity: str  # weights id: hash of config, index, tokenizer and every shard's content (+ Hub commit)
    folder: Path

    @classmethod
    def assemble(
        cls,
        model: InternVideoModel,
        tokenizer: InternLM2Tokenizer,
        config: InternVideoConfig,
        device: torch.device,
        precision: str,
        identity: str,
        folder: Path,
    ) -> InternVideo:
        """Tie model and tokenizer together (image-context id, vocabulary check)."""
        spec = config.spec
        model.img_context_token_id = tokenizer.token_to_id(spec.img_context_token)
        for tok in (spec.img_start_token, spec.img_end_token):
            tokenizer.token_to_id(tok)
        if tokenizer.vocab_size > config.text.vocab_size:
            logger.warning(
                "the tokenizer has %d ids but the language model embeds only %d; prompts using the extra "
                "tokens will be refused",
                tokenizer.vocab_size,
                config.text.vocab_size,
            )
        template = get_template(spec.template)
        tokenizer.token_to_id(template.stop_token)
        return cls(model, tokenizer, config, template, device, precision, identity, folder)

    # ----- facts --------------------------------------------------------------------------------------------
    @property
    def tokens_per_frame(self) -> int:
        """Visual tokens per frame (16)."""
        return self.config.spec.tokens_per_frame

    @property
    def frame_group(self) -> int:
        """Frame counts must be multiples of this (4)."""
        return self.config.spec.local_num_frames

    @property
    def context_window(self) -> int:
        """Tokens the language model attends over (its max_position_embeddings: 32768 for the 8B)."""
        return int(self.config.text.max_position_embeddings)

    @property
    def max_frames(self) -> int:
        """The most frames one prompt can show within `context_window`: 1412 for the 8B."""
        return max_frames(self.context_window, self.tokens_per_frame, self.frame_group)

    @property
    def image_size(self) -> int:
        """Side of the square frames the model takes (448)."""
        return self.config.spec.image_size

    @property
    def encode_chunk_frames(self) -> int:
        """Frames per vision-tower pass when no caller chose (the memory planner's `Plan.vision_chunk` is
        what the worker and the CLI pass): 32 on a GPU (0.92 GiB of activations for the 8B in bf16,
        bench/planner_costs.py), 8 on the CPU (large passes gain nothing there)."""
        return VISION_CHUNK_FRAMES if self.device.type == "cuda" else 8

    @property
    def visual_token_layout(self) -> TokenLayout:
        """What `encode_frames` gives per frame: [16, D] in the vision tower's dtype."""
        dtype = self.model.multi_modal_projector.linear_1.weight.dtype
        return TokenLayout(self.tokens_per_frame, self.config.text.hidden_size, dtype)

    @property
    def visual_tokens_key(self) -> str:
        """Identity of `encode_frames` outputs (weights, vision dtype, encoder code version) for caches."""
        dtype = str(self.visual_token_layout.dtype).removeprefix("torch.")
        return f"{self.identity}/vision-{dtype}/enc{ENCODER_VERSION}"

    # ----- vision -------------------------------------------------------------------------------------------
    def preprocess(self, frames: np.ndarray | torch.Tensor) -> torch.Tensor:
        """uint8 frames [N, 448, 448, 3] -> normalized pixel_values [N, 3, 448, 448] (float32, same device)"""
        return preprocess_frames(frames, self.image_size)

    def encode_frames(
        self,
        pixel_values: torch.Tensor,
        chunk_frames: int | None = None,
        job: Job | None = None,
    ) -> torch.Tensor:
        """pixel_values [N, 3, 448, 448] (N a multiple of 4) -> visual tokens [N, 16, D] on the device."""
        chunk = chunk_frames or self.encode_chunk_frames
        return self.model.encode_frames(pixel_values, chunk, job)

    # ----- language -----------------------------------------------------------------------------------------
    def build_prompt(self, question: str, num_frames: int, history: Sequence[tuple[str, str]] = ()) -> str:
        """Full prompt text of a turn (template, video prefix on the first turn, image tokens expanded)."""
        return build_prompt(self.template, question, num_frames, self.tokens_per_frame, history)

    def tokenize(self, text: str) -> list[int]:
        """Token ids of a prompt, BOS first."""
        return self.tokenizer.encode(text)

    def logits(
        self, input_ids: Sequence[int] | torch.Tensor, visual_tokens: torch.Tensor | None
    ) -> torch.Tensor:
        """Logits [1, L, V] (float32) of every prompt position, for checks and scoring."""
        ids = torch.as_tensor(input_ids, dtype=torch.long).reshape(1, -1)
        return self.model(ids.to(self.device), visual_tokens)

    def start_chat(
        self,
        visual_tokens: torch.Tensor | None,
        history: Sequence[tuple[str, str]] = (),
        system_message: str | None = None,
    ) -> ChatSession:
        """A conversation about one video's visual tokens [N, 16, D] (e.g. from a cache), with KV reuse."""
        if visual_tokens is not None:
            if visual_tokens.ndim != 3 or visual_tokens.shape[1] != self.tokens_per_frame:
                raise ModelError(
                    f"visual tokens must be [N, {self.tokens_per_frame}, D]; got {tuple(visual_tokens.shape)}"
                )
            visual_tokens = visual_tokens.to(self.device)
        return ChatSession(
            model=self.model,
            tokenizer=self.tokenizer,
            template=self.template,
            visual_tokens=visual_tokens,
            tokens_per_frame=self.tokens_per_frame,
            history=list(history),
            system_message=system_message,
        )

    def generate(
        self,
        question: str,
        visual_tokens: torch.Tensor | None,
        history: Sequence[tuple[str, str]] = (),
        max_new_tokens: int = 1024,
        on_token: TokenCallback | None = None,
        cancel: CancelCheck = None,
    ) -> Generation:
        """One answer to `question` about precomputed visual tokens, after an optional history."""
        session = self.start_chat(visual_tokens, history)
        return session.ask(question, max_new_tokens=max_new_tokens, on_token=on_token, cancel=cancel)
