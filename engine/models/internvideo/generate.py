"""Greedy generation with streaming, cancellation and multi-turn KV-cache reuse.

Decoding is greedy (the published settings: do_sample=False, num_beams=1), stops at the template's turn end
`<|im_end|>` (not the eos of generation_config.json) or after `max_new_tokens`, and can be cancelled
between tokens. The final answer is post-processed like the reference `chat()`: decode without special
tokens, cut at "<|im_end|>", strip.

A `ChatSession` keeps the KV cache of everything the model has seen (prompt + answer). A follow-up turn
renders the whole conversation again, as the reference does, tokenizes it, and only prefills the tokens
after the longest common prefix with the cached ones; the cache is cropped to that prefix first. This is
exactly a full re-prefill with the prefix's keys/values reused, so it yields the same tokens.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field

import torch
from transformers.cache_utils import DynamicCache

from .model import InternVideoModel
from .prompt import ChatTemplate, build_prompt, postprocess_answer
from .tokenizer import InternLM2Tokenizer

CancelCheck = threading.Event | Callable[[], bool] | None
TokenCallback = Callable[[int | None, str], None]

# `clean_up_tokenization` rewrites these; a streamed suffix that may still become one is held back.
_CLEANUP_PATTERNS = (" .", " ?", " !", " ,", " ' ", " n't", " 'm", " 's", " 've", " 're")


def is_cancelled(cancel: CancelCheck) -> bool:
    """True when a threading.Event is set or a callable returns True."""
    if cancel is None:
        return False
    if isinstance(cancel, threading.Event):
        return cancel.is_set()
    return bool(cancel())


class IncrementalDecoder:
    """Turns generated ids into text deltas that never need to be taken back (best effort).

    Text that ends in an incomplete UTF-8 sequence (U+FFFD) or could still be rewritten by the clean-up
    rules (" ." -> ".") is held until the next token settles it.
    """

    def __init__(self, tokenizer: InternLM2Tokenizer) -> None:
        self._tokenizer = tokenizer
        self._ids: list[int] = []
        self._sent = 0  # characters of the decoded text already handed out

    def push(self, token_id: int) -> str:
        """Add a token; return the newly settled text."""
        self._ids.append(token_id)
        text = self._tokenizer.decode(self._ids)
        if text.endswith("\ufffd"):
            return ""
        hold = max(
            (k for pat in _CLEANUP_PATTERNS for k in range(1, len(pat)) if text.endswith(pat[:k])), default=0
        )
        settled = len(text) - hold
        if settled <= self._sent:
            return ""
        delta = text[self._sent : settled]
        self._sent = settled
        return delta

    def flush(self) -> str:
        """Whatever text is still held back (call once generation is over)."""
        text = self._tokenizer.decode(self._ids)
        delta = text[self._sent :]
        self._sent = len(text)
        return delta


@dataclass
class Generation:
    """The outcome of one assistant turn."""

    token_ids: list[int]  # generated ids, including the stop token when one was produced
    text: str  # the answer, post-processed like the reference
    finish_reason: str  # "stop" (turn end), "length" (max_new_tokens) or "cancelled"
    prompt_tokens: int  # length of the full prompt of this turn
    reused_tokens: int  # prompt tokens whose keys/values came from the cache


def common_prefix_length(a: Sequence[int], b: Sequence[int]) -> int:
    """Length of the longest common prefix of two id sequences."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def crop_cache(cache: DynamicCache, keep: int) -> None:
    """Drop every cached position after the first `keep` (transformers 5 crops by a negative count)."""
    remove = cache.get_seq_length() - keep
    if remove > 0:
        cache.crop(-remove)


@dataclass
class ChatSession:
    """A conversation about one video (its visual tokens [N, 16, D]), keeping the KV cache between turns.

    `history` holds (question, answer) pairs of finished turns, in plain text (no video prefix).
    Not thread-safe: one turn at a time.
    """

    model: InternVideoModel
    tokenizer: InternLM2Tokenizer
    template: ChatTemplate
    visual_tokens: torch.Tensor | None
    tokens_per_frame: int
    history: list[tuple[str, str]] = field(default_factory=list)
    system_message: str | None = None
    reuse_cache: bool = True
    extra_stop_ids: tuple[int, ...] = ()  # besides the template's turn end (the reference stops on that only)
    _cache: DynamicCache | None = field(default=None, repr=False)
    _cached_ids: list[int] = field(default_factory=list, repr=False)
    last: Generation | None = field(default=None, repr=False)  # the outcome of the latest turn

    @property
    def num_frames(self) -> int:
        return 0 if self.visual_tokens is None else int(self.visual_tokens.shape[0])

    def prompt(self, question: str) -> str:
        """The full prompt text of the next turn."""
        return build_prompt(
            self.template, question, self.num_frames, self.tokens_per_frame, self.history, self.system_message
        )

    def reset_cache(self) -> None:
        """Forget the cached keys/values (the history stays)."""
        self._cache, self._cached_ids = None, []

    def stream(
        self, question: str, max_new_tokens: int = 1024, cancel: CancelCheck = None
    ) -> Iterator[tuple[int | None, str]]:
        """Generate an answer token by token, yielding (token_id, text delta); `self.last` holds the result.

        The stop token is not yielded. Text held back to stay stable (an incomplete UTF-8 character) comes
        in one last item with token_id None. The joined deltas are the raw decoded answer; `self.last.text`
        is the post-processed one. The finished turn (unless cancelled) is appended to `history`.
        """
        if max_new_tokens < 1:
            raise ValueError("max_new_tokens must be >= 1")
        stop_ids = {self.tokenizer.token_to_id(self.template.stop_token), *self.extra_stop_ids}
        ids = self.tokenizer.encode(self.prompt(question))
        reused = (
            common_prefix_length(ids, self._cached_ids)
            if (self.reuse_cache and self._cache is not None)
            else 0
        )
        reused = min(reused, len(ids) - 1)  # at least one new token gives the next logits
        if reused == 0 or self._cache is None:
            self._cache, reused = DynamicCache(config=self.model.language_model.config), 0
        else:
            crop_cache(self._cache, reused)
        self._cached_ids = ids[:reused]
        generated: list[int] = []
        self.last = Generation(generated, "", "cancelled", len(ids), reused)
        if is_cancelled(cancel):
            return
        decoder = IncrementalDecoder(self.tokenizer)
        try:
            steps = self._decode(ids, reused, generated, decoder, stop_ids, max_new_tokens, cancel)
            reason = yield from steps
        except GeneratorExit:  # the consumer stopped iterating: the cache still matches _cached_ids
            raise
        except BaseException:
            self.reset_cache()  # a failed step may leave the cache half-written
            raise
        rest = decoder.flush()
        if rest:
            yield None, rest
        text = postprocess_answer(self.tokenizer.decode(generated), self.template.stop_token)
        self.last = Generation(generated, text, reason, len(ids), reused)
        if reason != "cancelled":
            self.history.append((question, text))

    def _decode(
        self,
        ids: list[int],
        reused: int,
        generated: list[int],
        decoder: IncrementalDecoder,
        stop_ids: set[int],
        max_new_tokens: int,
        cancel: CancelCheck,
    ) -> Generator[tuple[int, str], None, str]:
        """Prefill ids[reused:] after the cached prefix, then decode greedily; returns the finish reason."""
        device = self.model.language_model.get_input_embeddings().weight.device
        with torch.no_grad():
            embeds = self.model.embed(torch.tensor([ids], device=device), self.visual_tokens)[:, reused:]
            logits, _ = self.model.language_forward(embeds, self._cache, logits_to_keep=1)
            self._cached_ids = list(ids)
            while True:
                token = int(logits[0, -1].float().argmax())
                generated.append(token)
                if token in stop_ids:
                    return "stop"
                yield token, decoder.push(token)
                if len(generated) >= max_new_tokens:
                    return "length"
                if is_cancelled(cancel):
                    return "cancelled"
                step = self.model.embed(torch.tensor([[token]], device=device), None)
                logits, _ = self.model.language_forward(step, self._cache, logits_to_keep=1)
                self._cached_ids.append(token)

    def ask(
        self,
        question: str,
        max_new_tokens: int = 1024,
        on_token: TokenCallback | None = None,
        cancel: CancelCheck = None,
    ) -> Generation:
        """Generate a whole answer; `on_token(token_id, text_delta)` is called for every streamed token."""
        for token, delta in self.stream(question, max_new_tokens=max_new_tokens, cancel=cancel):
            if on_token is not None:
                on_token(token, delta)
        return self.last
