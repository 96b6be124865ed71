"""What may be asked of the video LLM: limits on questions, grounding queries and answers (no torch here,
so the command line refuses an impossible request before it imports or loads a model)."""

from __future__ import annotations

from engine.errors import ScenescopeError

DEFAULT_MAX_NEW_TOKENS = 1024  # the published generation settings
MAX_NEW_TOKENS = 8192  # longest answer one may ask for (a random or looping model would go on for hours)
# A page of text. Prefill time grows with the square of the prompt: 100,000 characters kept the tiny test
# model busy for over a minute before its first token, and on the 8B they would crowd out the video.
MAX_QUESTION_CHARS = 4000
# A query names one kind of moment; every window of the relevance scan repeats it, so it costs once per
# window, not once.
MAX_QUERY_CHARS = 300


def check_question(text: str, what: str = "question", limit: int = MAX_QUESTION_CHARS) -> str:
    """`text` if it is neither empty nor longer than `limit` characters; else `ScenescopeError`."""
    if not text.strip():
        raise ScenescopeError(f"The {what} is empty: write what you want to know about the video.")
    if len(text) > limit:
        raise ScenescopeError(
            f"The {what} is {len(text):,} characters long; the limit is {limit:,}. Shorten it."
        )
    return text


def check_max_new_tokens(count: int) -> int:
    """`count` if it is a possible answer length (1 to `MAX_NEW_TOKENS`); else `ScenescopeError`."""
    if not 1 <= count <= MAX_NEW_TOKENS:
        raise ScenescopeError(
            f"--max-new-tokens must be from 1 to {MAX_NEW_TOKENS}, not {count}: give a length in that range."
        )
    return count
