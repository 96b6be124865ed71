"""Model folders damaged the ways a disk, a cut download or a wrong copy damages them, for the loader
tests and the hostile command-line table.

Each `DAMAGE` entry damages a copy of the tiny InternVideo2.5 checkpoint in place and returns a pattern of
what the loader must say about it. A Hugging Face cache copy links to its blobs: the damage is written
through the link, into the blob, as a failing disk would damage it.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path


def cut_in_half(file: Path) -> None:
    file.write_bytes(file.read_bytes()[: file.stat().st_size // 2])


def garbage(file: Path) -> None:
    file.write_bytes(bytes(range(256)) * 8)


def not_json(file: Path) -> None:
    file.write_bytes(b'{"architectures": ["InternVLChatModel"], ')


def _cut_shard(folder: Path) -> str:
    cut_in_half(folder / "model-00002-of-00004.safetensors")
    return r"model-00002-of-00004\.safetensors.* is damaged \(Error while deserializing header: incomplete"


def _garbage_tokenizer(folder: Path) -> str:
    garbage(folder / "tokenizer.model")
    return r"tokenizer\.model.* is damaged \(.*could not parse ModelProto"


def _config_not_json(folder: Path) -> str:
    not_json(folder / "config.json")
    return r"config\.json.* is damaged \(Expecting"


def _config_incomplete(folder: Path) -> str:
    raw = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    del raw["llm_config"]["hidden_size"]
    (folder / "config.json").write_bytes(json.dumps(raw).encode())
    return r"config\.json.* is incomplete or malformed \(KeyError\('hidden_size'\)\)"


def _index_names_a_missing_shard(folder: Path) -> str:
    (folder / "model-00003-of-00004.safetensors").unlink()
    return r"model-00003-of-00004\.safetensors.* is missing \(model\.safetensors\.index\.json lists it\)"


def _wrong_shapes(folder: Path) -> str:
    import torch
    from safetensors.torch import load_file, save

    shard = folder / "model-00001-of-00004.safetensors"
    tensors = load_file(shard)
    key = sorted(k for k in tensors if tensors[k].ndim == 2)[0]
    tensors[key] = torch.zeros(tensors[key].shape[0] + 2, tensors[key].shape[1])
    shard.write_bytes(save(tensors))
    return r"model-00001-of-00004\.safetensors.* does not fit the model config\.json describes \(.*shape"


DAMAGE: dict[str, Callable[[Path], str]] = {
    "cut_shard": _cut_shard,
    "garbage_tokenizer": _garbage_tokenizer,
    "config_not_json": _config_not_json,
    "config_incomplete": _config_incomplete,
    "index_names_a_missing_shard": _index_names_a_missing_shard,
    "wrong_shapes": _wrong_shapes,
}


def copy_checkpoint(target: Path) -> Path:
    """A writable copy of the tiny InternVideo2.5 checkpoint's data files (not its .py files)."""
    from tests.fixtures import internvideo_fixture

    target.mkdir(parents=True)
    for file in (internvideo_fixture() / "checkpoint").iterdir():
        if file.suffix != ".py":
            shutil.copyfile(file, target / file.name)
    return target
