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
    choose_gpu_precision(free_bytes, size, num_frames): best precision that fits (engine/planner.py uses it)
    VisualTokenCache(folder=None, max_bytes=None): visual tokens on disk, keyed by TokenCacheKey
        (.load(key, layout, frame_times_s, device) -> CachedTokens | None: None for a miss or a damaged
        entry; .store(key, visual_tokens, frame_times_s))
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.lazy import lazy_attributes

if TYPE_CHECKING:
    from .entry import load_internvideo
    from .generate import ChatSession, Generation
    from .load import DEFAULT_REPO, DEFAULT_REVISION
    from .pipeline import InternVideo, preprocess_frames
    from .precision import ModelSize, choose_gpu_precision
    from .token_cache import CachedTokens, TokenCacheKey, TokenLayout, VisualTokenCache
    from .tokenizer import InternLM2Tokenizer

# torch and transformers load with the first of these names, not with the package: its pure modules
# (precision.py, the memory rule) stay light for the planner and `scenescope doctor`.
__getattr__ = lazy_attributes(
    __name__,
    {
        "DEFAULT_REPO": "engine.models.internvideo.load",
        "DEFAULT_REVISION": "engine.models.internvideo.load",
        "CachedTokens": "engine.models.internvideo.token_cache",
        "ChatSession": "engine.models.internvideo.generate",
        "Generation": "engine.models.internvideo.generate",
        "InternLM2Tokenizer": "engine.models.internvideo.tokenizer",
        "InternVideo": "engine.models.internvideo.pipeline",
        "ModelSize": "engine.models.internvideo.precision",
        "TokenCacheKey": "engine.models.internvideo.token_cache",
        "TokenLayout": "engine.models.internvideo.token_cache",
        "VisualTokenCache": "engine.models.internvideo.token_cache",
        "choose_gpu_precision": "engine.models.internvideo.precision",
        "load_internvideo": "engine.models.internvideo.entry",
        "preprocess_frames": "engine.models.internvideo.pipeline",
    },
)

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
