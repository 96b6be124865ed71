"""The InternLM2 tokenizer of the checkpoint, rebuilt on sentencepiece (no remote code, no `AutoTokenizer`).

It reproduces the reference slow tokenizer (`InternLM2Tokenizer` on transformers' `PreTrainedTokenizer`):

encode: the text is first split on the *added* tokens (`<s>`, `<img>`, `<IMG_CONTEXT>`, ...; leftmost,
    longest match first); each added token maps to its id, every other piece is encoded by sentencepiece on
    its own. Sentencepiece prefixes each piece with its dummy "▁", which is why the reference ids carry a
    lone "▁" after BOS and after every added token. `<|im_start|>`/`<|im_end|>` are sentencepiece
    user-defined pieces, not added tokens. BOS is prepended; no EOS.
decode: special ids (bos/eos/unk/pad and the additional special tokens) are dropped when asked; pieces are
    joined by sentencepiece; added tokens that are not special (or special ones beyond the sentencepiece
    vocabulary, kept when not skipping) stand alone and the parts are joined with spaces; finally the
    classic `clean_up_tokenization` space fixes are applied (the reference calls it unconditionally).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import sentencepiece as spm

from engine.errors import ModelError
from engine.models.hub import DamagedModelFile, read_json, reading


def _clean_up_tokenization(text: str) -> str:
    """transformers' `clean_up_tokenization`: remove the space before punctuation and English contractions."""
    for old, new in (
        (" .", "."),
        (" ?", "?"),
        (" !", "!"),
        (" ,", ","),
        (" ' ", "'"),
        (" n't", "n't"),
        (" 'm", "'m"),
        (" 's", "'s"),
        (" 've", "'ve"),
        (" 're", "'re"),
    ):
        text = text.replace(old, new)
    return text


def _content(token: Any) -> str:
    return token["content"] if isinstance(token, dict) else str(token)


class InternLM2Tokenizer:
    """Token ids identical to the reference tokenizer; see the module docstring for the rules."""

    def __init__(
        self,
        model_file: Path,
        added_tokens: dict[str, int],
        special_tokens: set[str],
        bos_token: str = "<s>",
        eos_token: str = "</s>",
        add_bos_token: bool = True,
    ) -> None:
        with reading(model_file):  # a garbage file is a RuntimeError of sentencepiece's parser
            self._sp = spm.SentencePieceProcessor(model_file=str(model_file))
        self.added_tokens: dict[str, int] = dict(added_tokens)
        self._added_by_id: dict[int, str] = {i: t for t, i in self.added_tokens.items()}
        self.special_tokens: frozenset[str] = frozenset(special_tokens)
        self.special_ids: frozenset[int] = frozenset(self.token_to_id(t) for t in special_tokens)
        self.bos_token, self.eos_token = bos_token, eos_token
        self.add_bos_token = add_bos_token
        # leftmost-longest split on added tokens
        ordered = sorted(self.added_tokens, key=len, reverse=True)
        self._split_re = re.compile("|".join(re.escape(t) for t in ordered)) if ordered else None
        # added tokens that decode as separate words (transformers' "legacy added tokens")
        self._standalone = {t for t in self.added_tokens if t not in self.special_tokens} | {
            t for t in self.special_tokens if self.token_to_id(t) >= self.sp_vocab_size
        }

    # ----- construction -------------------------------------------------------------------------------------
    @classmethod
    def from_folder(cls, folder: Path) -> InternLM2Tokenizer:
        """Read `tokenizer.model`, `tokenizer_config.json`, `added_tokens.json`, `special_tokens_map.json`."""
        folder = Path(folder)
        model_file = folder / "tokenizer.model"
        if not model_file.is_file():
            raise DamagedModelFile(model_file, "is missing")
        cfg = _read_json(folder / "tokenizer_config.json")
        smap = _read_json(folder / "special_tokens_map.json")
        added: dict[str, int] = {}
        for idx, tok in (cfg.get("added_tokens_decoder") or {}).items():
            added[_content(tok)] = int(idx)
        for tok, idx in _read_json(folder / "added_tokens.json").items():
            if tok in added and added[tok] != int(idx):
                raise ModelError(f"tokenizer files disagree on the id of {tok!r}: {added[tok]} vs {idx}")
            added[tok] = int(idx)
        names = {k: _content(cfg.get(k) or smap.get(k) or d) for k, d in _DEFAULT_SPECIALS.items()}
        extra = cfg.get("additional_special_tokens") or smap.get("additional_special_tokens") or []
        special = set(names.values()) | {_content(t) for t in extra}
        return cls(
            model_file,
            added,
            special,
            bos_token=names["bos_token"],
            eos_token=names["eos_token"],
            add_bos_token=bool(cfg.get("add_bos_token", True)),
        )

    # ----- vocabulary ---------------------------------------------------------------------------------------
    @property
    def sp_vocab_size(self) -> int:
        """Number of sentencepiece pieces (added tokens may lie beyond it)."""
        return int(self._sp.get_piece_size())

    @property
    def vocab_size(self) -> int:
        """Largest id + 1 over sentencepiece pieces and added tokens."""
        return max([self.sp_vocab_size - 1, *self.added_tokens.values()]) + 1

    def token_to_id(self, token: str) -> int:
        """Id of an added token or a sentencepiece piece; `ModelError` if the piece does not exist."""
        if token in self.added_tokens:
            return self.added_tokens[token]
        idx = int(self._sp.piece_to_id(token))
        if idx == self._sp.unk_id() and token != self._sp.id_to_piece(idx):
            raise ModelError(f"token {token!r} is not in the tokenizer vocabulary")
        return idx

    def id_to_token(self, idx: int) -> str:
        """Added token text or sentencepiece piece of an id."""
        return self._added_by_id.get(idx) or self._sp.id_to_piece(int(idx))

    @property
    def bos_id(self) -> int:
        return self.token_to_id(self.bos_token)

    @property
    def eos_id(self) -> int:
        return self.token_to_id(self.eos_token)

    # ----- encode / decode ----------------------------------------------------------------------------------
    def split_added(self, text: str) -> list[str]:
        """Split text into added tokens and the (non-empty) plain pieces between them."""
        if self._split_re is None:
            return [text] if text else []
        parts: list[str] = []
        pos = 0
        for m in self._split_re.finditer(text):
            if m.start() > pos:
                parts.append(text[pos : m.start()])
            parts.append(m.group(0))
            pos = m.end()
        if pos < len(text):
            parts.append(text[pos:])
        return parts

    def encode(self, text: str, add_bos: bool | None = None) -> list[int]:
        """Token ids of `text`, with BOS first when `add_bos` (default: the folder's `add_bos_token`)."""
        ids: list[int] = [self.bos_id] if (self.add_bos_token if add_bos is None else add_bos) else []
        for part in self.split_added(text):
            if part in self.added_tokens:
                ids.append(self.added_tokens[part])
            else:
                ids.extend(int(i) for i in self._sp.encode(part))
        return ids

    def _pieces_to_string(self, tokens: list[str]) -> str:
        out, current, prev_special = "", [], False
        for tok in tokens:
            if tok in self.special_tokens:
                if not prev_special:
                    out += " "
                out += self._sp.decode_pieces(current) + tok
                prev_special, current = True, []
            else:
                current.append(tok)
                prev_special = False
        out += self._sp.decode_pieces(current)
        return _clean_up_tokenization(out)

    def decode(self, ids: list[int], skip_special_tokens: bool = True) -> str:
        """Text of `ids`, as the reference `tokenizer.decode(ids, skip_special_tokens=...)` returns it."""
        parts: list[str] = []
        current: list[str] = []
        for idx in ids:
            idx = int(idx)
            if skip_special_tokens and idx in self.special_ids:
                continue
            tok = self.id_to_token(idx)
            if tok in self._standalone:
                if current:
                    text = self._pieces_to_string(current)
                    if text:
                        parts.append(text)
                    current = []
                parts.append(tok)
            else:
                current.append(tok)
        if current:
            parts.append(self._pieces_to_string(current))
        return " ".join(parts)


_DEFAULT_SPECIALS = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "</s>"}


def _read_json(path: Path) -> dict[str, Any]:
    """An optional tokenizer file: {} when absent."""
    return read_json(path) if path.is_file() else {}
