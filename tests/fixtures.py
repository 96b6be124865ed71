"""Where the shared reference fixtures live: `../shared/fixtures` beside the checkout, or an override."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REPO_ROOT


def internvideo_fixture() -> Path:
    """The InternVideo2.5 reference fixture folder; tests skip when it is absent."""
    folder = Path(
        os.environ.get("SCENESCOPE_PARITY_FIXTURE", REPO_ROOT.parent / "shared/fixtures/internvideo2_5_tiny")
    )
    if not (folder / "expected.json").exists():
        pytest.skip(f"reference fixture not found at {folder} (set SCENESCOPE_PARITY_FIXTURE)")
    return folder


def expected_json() -> dict:
    return json.loads((internvideo_fixture() / "expected.json").read_text(encoding="utf-8"))


def fixture_frames() -> dict[str, np.ndarray]:
    with np.load(internvideo_fixture() / "frames.npz") as z:
        return {k: z[k] for k in z.files}


def leaning_checkpoint(folder: Path, scale: float = 3.0) -> Path:
    """A copy of the tiny model (random weights) whose yes/no answers depend strongly on what it sees.

    The random model almost always prefers "no" (P(yes) about 0.02), so grounding would find nothing to
    cut. Here each output row of a yes answer token becomes the row of a no token plus a random direction
    of norm about `scale` x sqrt(width): P(yes) then swings between about 0.5 and 1 with the frames.
    Nothing else changes, so every code path is the real one.
    """
    import torch
    from safetensors.torch import load_file, save_file

    from engine.grounding import answer_tokens
    from engine.models.internvideo import load_internvideo

    source = internvideo_fixture() / "checkpoint"
    folder.mkdir(parents=True, exist_ok=True)
    for file in source.iterdir():
        if file.suffix != ".py":  # a model folder's code is never run, and is not needed
            shutil.copy(file, folder / file.name)
    tokens = answer_tokens(load_internvideo(source, device="cpu", precision="fp32"))
    index = json.loads((source / "model.safetensors.index.json").read_text(encoding="utf-8"))
    name = "language_model.output.weight"
    shard = folder / index["weight_map"][name]
    tensors = load_file(shard)
    weight = tensors[name]
    generator = torch.Generator().manual_seed(0)
    for yes, no in zip(tokens.yes, tokens.no, strict=False):
        weight[yes] = weight[no] + scale * torch.randn(weight.shape[1], generator=generator)
    save_file(tensors, shard, metadata={"format": "pt"})
    return folder
