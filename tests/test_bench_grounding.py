"""bench/grounding.py on a few frames: every variant it times computes the same curve as the reference."""

from __future__ import annotations

from bench.grounding import measure
from engine.models.internvideo import load_internvideo
from tests.fixtures import internvideo_fixture


def test_every_timed_variant_gives_the_reference_scores() -> None:
    model = load_internvideo(internvideo_fixture() / "checkpoint", device="cpu", precision="fp32")
    result = measure(model, frames=16, batches=[2], repeat=1)
    assert result["windows"] == 3 and result["prefix_tokens"] < result["prompt_tokens"]
    variants = [row["variant"] for row in result["rows"]]
    assert variants == [
        "per window, whole prompt",
        "per window, shared prefix",
        "batched 2, shared prefix",
    ]
    for row in result["rows"]:
        assert row["max_abs_diff"] < 1e-5 and row["seconds"] > 0 and row["windows_per_s"] > 0
