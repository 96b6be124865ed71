"""Where the shared reference fixtures live: `../shared/fixtures` beside the checkout, or an override."""

from __future__ import annotations

import json
import os
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
