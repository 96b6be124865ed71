"""Bad model input through the real `scenescope` command: damaged folders, damaged cache copies, folders
that do not exist, ids that cannot be served. Every case: exit 2, one line on stderr that says what to do,
no traceback, done well within its timeout, the model files left as they were, nothing written.

The Hub is a closed local port and the Hugging Face cache a fresh folder (conftest's `env`), so no case can
reach the network.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from engine.models.internvideo import DEFAULT_REPO, DEFAULT_REVISION
from tests.damaged_models import DAMAGE, copy_checkpoint, cut_in_half, not_json
from tests.test_cli_ask import scenescope

TIMEOUT_S = 60


def _damaged(name: str) -> Callable[[Path], Path]:
    def make(root: Path) -> Path:
        folder = copy_checkpoint(root / name)
        DAMAGE[name](folder)
        return folder

    return make


def _damaged_sam2(damage: Callable[[Path], None], file: str) -> Callable[[Path], Path]:
    def make(root: Path) -> Path:
        from tests.tiny_models import write_sam2

        folder = write_sam2(root / "sam2")
        damage(folder / file)
        return folder

    return make


def _cached_default_with_a_cut_shard(root: Path) -> Path:
    """The Hugging Face cache holding the default model at its pinned commit, one shard cut in half."""
    snapshot = root / "hf" / f"models--{DEFAULT_REPO.replace('/', '--')}" / "snapshots" / DEFAULT_REVISION
    copy_checkpoint(snapshot)
    cut_in_half(snapshot / "model-00004-of-00004.safetensors")
    return root / "hf"


# (id, what to prepare (given a root folder: the path substituted for {model}), argv, env changes, what
# stderr must say)
ASK = ["ask", "{video}", "what happens?", "--frames", "8"]
TRACK = ["track", "{video}", "--at", "0.2", "--point", "10,10", "--out", "{out}"]
CASES = [
    *[
        (f"ask_{name}", _damaged(name), [*ASK, "--model", "{model}"], {},
         r"(is (damaged|missing|incomplete)|does not fit) .*; copy the model folder .* again from where")
        for name in DAMAGE
    ],
    ("ground_garbage_tokenizer", _damaged("garbage_tokenizer"),
     ["ground", "{video}", "a bike", "--model", "{model}"], {},
     r"tokenizer\.model is damaged .*; copy the model folder"),
    ("ask_cached_default_cut_shard", _cached_default_with_a_cut_shard, ASK, {"HF_HUB_CACHE": "{model}"},
     rf"model-00004-of-00004\.safetensors of {DEFAULT_REPO}@.* is damaged .*; fetch it again: hf download "
     rf"{DEFAULT_REPO} model-00004-of-00004\.safetensors --revision {DEFAULT_REVISION} --force-download"),
    ("ask_missing_folder", None, [*ASK, "--model", "/nowhere/internvideo"], {},
     r"model folder /nowhere/internvideo does not exist .*; give the folder that holds"),
    ("ask_missing_relative_folder", None, [*ASK, "--model", "tests/nosuch"], {},
     r"model folder tests/nosuch does not exist"),
    ("ask_missing_dot_folder", None, [*ASK, "--model", "./models/nosuch"], {}, r"does not exist"),
    ("ask_unpinned_id", None, [*ASK, "--model", "someone/model"], {},
     r"a Hub id is loaded only at a pinned commit: give someone/model@COMMIT"),
    ("ask_offline_default", None, ASK, {},
     rf"cannot be reached .*hf download {DEFAULT_REPO} --revision {DEFAULT_REVISION}.*pass a folder"),
    ("ask_offline_mode", None, ASK, {"HF_HUB_OFFLINE": "1"}, r"HF_HUB_OFFLINE is set; get it on a machine"),
    ("track_cut_weights", _damaged_sam2(cut_in_half, "model.safetensors"), [*TRACK, "--sam-model", "{model}"],
     {}, r"model\.safetensors is damaged \(Error while deserializing header.*; copy the model folder"),
    ("track_config_not_json", _damaged_sam2(not_json, "config.json"), [*TRACK, "--sam-model", "{model}"],
     {}, r"config\.json is damaged \(Expecting.*; copy the model folder"),
    ("track_missing_relative_folder", None, [*TRACK, "--sam-model", "engine/nosuch"], {},
     r"model folder engine/nosuch does not exist"),
    ("track_offline_default", None, TRACK, {},
     r"SAM2 model facebook/sam2\.1-hiera-tiny@de431c404385 is not in the Hugging Face cache .* cannot be "
     r"reached"),
]  # fmt: skip


def _digest(folder: Path | None) -> str | None:
    if folder is None:
        return None
    h = hashlib.sha256()
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(file.name.encode() + file.read_bytes())
    return h.hexdigest()


@pytest.mark.parametrize(
    ("make", "argv", "env_changes", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_model_input_is_one_line_saying_what_to_do(
    make, argv, env_changes, message, env, media, tmp_path
) -> None:
    video = media("hostile-models.mp4", frames=12, fps=12.0, gop=6)
    model = make(tmp_path) if make else None
    values = {"video": str(video), "model": str(model), "out": str(tmp_path / "out")}
    args = [a.format(**values) for a in argv]
    run_env = {**env, **{k: v.format(**values) for k, v in env_changes.items()}}
    before = _digest(model)
    started = time.perf_counter()
    result = scenescope(args, run_env, timeout=TIMEOUT_S)
    elapsed = time.perf_counter() - started
    lines = result.stderr.splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith("scenescope: "), result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert re.search(message, lines[0]), lines[0]
    assert result.stdout == ""
    assert elapsed < TIMEOUT_S / 2
    assert _digest(model) == before  # the model's files are read, never touched
    assert not (tmp_path / "out").exists()
