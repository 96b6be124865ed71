"""The parts of bench/planner_costs.py a test can afford: its counter of live tensor storages, its fit, and
that the planner's costs reproduce what the bench measured at the 8B's dimensions (the measured numbers are
recorded in docs/benchmarks.md, "Planner costs")."""

from __future__ import annotations

import sys

import pytest
import torch

from engine.models.internvideo.precision import (
    PREFILL_ACTIVATION_WIDTHS,
    VISION_ACTIVATION_WIDTHS,
    kv_bytes,
    prefill_bytes,
    vision_chunk_bytes,
)
from engine.planner import EIGHT_B
from tests.conftest import REPO_ROOT


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(REPO_ROOT / "bench"))
    try:
        import planner_costs

        yield planner_costs
    finally:
        sys.path.remove(str(REPO_ROOT / "bench"))


def test_live_tensors_counts_storages_once_and_frees_them_with_their_last_tensor(bench) -> None:
    before = torch.ones(1000)  # from before the mode: its views are not allocations
    with bench.LiveTensors() as live:
        a = torch.empty(1000)  # 4,000 bytes
        view = a.detach()  # the same storage, without holding `a` (a slice would, as its _base)
        a.add_(1)  # in place
        assert live.live == 4000
        b = a * 2
        assert live.live == live.peak == 8000
        weight_view = before.t()
        del a
        assert live.live == 8000  # the view keeps the storage alive
        del view
        assert live.live == 4000 and live.peak == 8000
        live.reset_peak()
        del b
        assert live.live == 0 and live.peak == 4000
        assert weight_view.shape == (1000,)


def test_the_fit_is_least_squares(bench) -> None:
    fixed, slope, worst = bench.fit([1, 2, 4], [12, 14, 18])
    assert (fixed, slope, worst) == pytest.approx((10.0, 2.0, 0.0))
    assert bench.fit([1, 2, 3], [10, 13, 14])[2] > 0


# What bench/planner_costs.py measured on 2026-12-02 (bf16, the 8B's dimensions): the 32-layer prefill's
# peak for 16 and 128 frames, and the vision tower's pass (its second layer, the steady state) for 32.
MEASURED_PREFILL = {16: 158_331_776, 128: 817_980_416}
MEASURED_VISION_PASS_32 = 988_872_704


def test_the_planner_reproduces_the_measured_prefill_and_vision_pass() -> None:
    for frames, measured in MEASURED_PREFILL.items():
        assert prefill_bytes(EIGHT_B, frames) == pytest.approx(measured, rel=0.03)
    assert kv_bytes(EIGHT_B, 1) - kv_bytes(EIGHT_B, 0) == 23 * 128 * 1024  # 32 layers x 4 KiB a token
    visual = 32 * 16 * 4096 * 2
    assert vision_chunk_bytes(EIGHT_B, 32) - visual == pytest.approx(MEASURED_VISION_PASS_32, rel=0.01)
    assert 3 < PREFILL_ACTIVATION_WIDTHS < 4 and 2 < VISION_ACTIVATION_WIDTHS < 4
