"""The GPU memory planner (engine/planner.py): a table of cards and the CPU, and the worker and the CLI
taking its choice when no precision or frame count is given."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from types import SimpleNamespace

import pytest

from engine.errors import ModelError
from engine.jobs import Job, Progress
from engine.models.catalog import CATALOG
from engine.models.internvideo.precision import GIB, required_bytes
from engine.planner import EIGHT_B, MAX_FRAMES, Device, plan_for, sam2_bytes
from engine.worker import state
from engine.worker.state import Handles, Models, Settings
from tests.conftest import REPO_ROOT
from tests.fixtures import internvideo_fixture

ALL_SAM2 = tuple(v for v in CATALOG if v.family == "sam2")


def card(gb: int, free_gib: float | None = None) -> Device:
    """A card of `gb` GB, with what such a card typically reports free (96 %) unless `free_gib` is given.
    A card's GB are GiB: an 8 GB card reports 8192 MiB in all."""
    free = int(free_gib * GIB) if free_gib is not None else int(gb * GIB * 0.96)
    return Device("cuda", f"GPU {gb} GB", free, gb * GIB)


@pytest.mark.parametrize(
    ("gb", "precision", "frames", "sam2", "together"),
    [
        # cards in GiB (they were counted in 1e9 bytes: 7 % too small, and 8 GB got no plan)
        (8, "nf4", 220, "sam2.1-large", False),
        (12, "int8", 160, "sam2.1-base-plus", True),
        (16, "int8", 512, "sam2.1-large", True),
        (24, "bf16", 512, "sam2.1-large", True),
        (48, "bf16", 512, "sam2.1-large", True),
        (80, "bf16", 512, "sam2.1-large", True),
    ],
)
def test_the_plan_for_each_card(gb: int, precision: str, frames: int, sam2: str, together: bool) -> None:
    plan = plan_for(card(gb), sam2_choices=ALL_SAM2)
    assert (plan.precision, plan.frames, plan.sam2, plan.together) == (precision, frames, sam2, together)
    assert plan.vision_chunk == 32  # room for the largest vision pass on every card of the table
    free = card(gb).free_bytes
    used = plan.llm_bytes + (plan.sam2_bytes if together else 0)
    assert plan.llm_bytes == required_bytes(EIGHT_B, precision, frames, 32) and used <= free
    if frames < MAX_FRAMES:  # the budget is the most that fits: 4 more frames would not
        assert required_bytes(EIGHT_B, precision, frames + 4, 8) + (plan.sam2_bytes if together else 0) > free
    line = plan.explanation
    assert "\n" not in line and f"{precision} LLM with {frames} frames" in line
    assert ("loaded together" in line) == together and ("taking turns" in line) == (not together)
    assert json.loads(json.dumps(plan.to_dict()))["device"]["name"] == f"GPU {gb} GB"


def test_sam2_is_the_largest_that_fits_and_by_default_the_one_the_tracker_loads() -> None:
    assert plan_for(card(80)).sam2 == "sam2.1-tiny"  # what the tracker loads when no SAM model is named
    small = next(v for v in ALL_SAM2 if v.name == "sam2.1-small")
    tiny = next(v for v in ALL_SAM2 if v.name == "sam2.1-tiny")
    assert sam2_bytes(tiny) < sam2_bytes(small)
    assert plan_for(card(80), sam2_choices=(tiny, small)).sam2 == "sam2.1-small"


def test_a_card_short_of_memory_encodes_in_smaller_vision_passes() -> None:
    # an 8 GB card that drives a desktop too: 7.25 GiB free; NF4 at 128 frames needs 7.33 GiB in passes
    # of 32 frames (the pass, 0.94 GiB, is the peak), 7.16 in passes of 16 (then the prefill is)
    short = card(8, free_gib=7.25)
    assert required_bytes(EIGHT_B, "nf4", 128, 32) > short.free_bytes
    plan = plan_for(short)
    assert (plan.precision, plan.vision_chunk) == ("nf4", 16) and plan.frames >= 128
    assert plan.llm_bytes == required_bytes(EIGHT_B, "nf4", plan.frames, 16) <= short.free_bytes
    assert required_bytes(EIGHT_B, "nf4", plan.frames, 32) > short.free_bytes  # 32 would not fit
    assert "the vision tower 16 frames a pass to fit" in plan.explanation
    assert "a pass" not in plan_for(card(8)).explanation  # said only when it is below 32
    assert plan_for(Device("cpu", "CPU", 64 * GIB, 64 * GIB)).vision_chunk == 8


@pytest.mark.parametrize("free_gib", [5.4, 7.1])  # 7.1: NF4 at 128 frames needs 7.16 GiB in passes of 16
def test_a_card_too_small_gets_no_llm_and_a_message_saying_what_to_do(free_gib: float) -> None:
    plan = plan_for(card(8, free_gib=free_gib))
    assert plan.precision is None
    with pytest.raises(
        ModelError, match=r"too little for InternVideo2.5 even with a 4-bit LLM .*--device cpu"
    ):
        plan.require_llm()


def test_the_cpu_plan() -> None:
    roomy = plan_for(Device("cpu", "CPU", 64 * GIB, 64 * GIB))
    assert (roomy.precision, roomy.frames, roomy.sam2, roomy.together) == ("fp32", 128, "sam2.1-tiny", True)
    cramped = plan_for(Device("cpu", "CPU", 16 * GIB, 16 * GIB))
    assert cramped.precision == "fp32" and not cramped.together
    assert "will not fit: use a GPU" in cramped.explanation


# ----- taken when nothing is given --------------------------------------------------------------------------
def test_the_cli_takes_the_planned_frames_when_none_are_given(monkeypatch) -> None:
    from engine import planner
    from engine.cli.model_args import model_sampling

    monkeypatch.setattr(planner, "detect_device", lambda device: card(12))
    args = argparse.Namespace(
        frames=None, auto=False, fps=None, budget=512, start=None, end=None, device="auto"
    )
    assert model_sampling(args).value == 188 and args.plan.precision == "int8"  # with SAM 2.1 tiny beside
    given = argparse.Namespace(
        frames=32, auto=False, fps=None, budget=512, start=None, end=None, device="auto"
    )
    assert model_sampling(given).value == 32


def test_the_worker_and_the_cli_give_the_planned_vision_chunk_to_the_assistant(monkeypatch, media) -> None:
    from engine import planner
    from engine.assistant import VideoAssistant
    from engine.cli.model_args import load_model_for

    chunks: list[int | None] = []
    monkeypatch.setattr(VideoAssistant, "load", lambda *a, **kw: chunks.append(kw["chunk_frames"]))
    short = card(8, free_gib=7.25)  # NF4 in passes of 16 (the test above)
    models = Models(Settings(device="cuda"), Handles())
    models._plan = plan_for(short)
    with models.using("internvideo", Job()):
        pass
    monkeypatch.setattr(planner, "detect_device", lambda device: short)
    video = media("chunk.mp4", frames=8, fps=25, width=64, height=64)
    load_model_for(argparse.Namespace(video=video, model=None, device="auto", precision="auto"))
    assert chunks == [16, 16]


def test_ask_json_reports_the_plan_it_followed(media, env) -> None:
    video = media("plan.mp4", frames=200, fps=25, width=96, height=64, gop=25)
    checkpoint = internvideo_fixture() / "checkpoint"
    result = subprocess.run(
        [sys.executable, "-m", "engine", "ask", str(video), "What?", "--model", str(checkpoint),
         "--device", "cpu", "--max-new-tokens", "2", "--json"],
        env={**env, "OMP_NUM_THREADS": "1"}, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["plan"]["device"]["kind"] == "cpu" and answer["plan"]["precision"] == "fp32"
    assert len(answer["frames"]) == answer["plan"]["frames"] == 128


def test_the_worker_takes_turns_when_the_plan_says_so(monkeypatch) -> None:
    loads: list[str] = []
    monkeypatch.setattr(
        state,
        "LOADERS",
        {name: lambda s, p, j, n=name: loads.append(n) or SimpleNamespace() for name in state.MODEL_NAMES},
    )
    monkeypatch.setattr(state, "_free_device_memory", lambda: None)
    models = Models(Settings(device="cuda"), Handles())
    models._plan = plan_for(card(8))  # what `plan()` computes on an 8 GB card: taking turns
    seen: list[Progress] = []
    for name in ("sam2", "internvideo", "sam2"):
        with models.using(name, Job(on_progress=seen.append)):
            pass
    assert loads == ["sam2", "internvideo", "sam2"]
    assert [p.message for p in seen].count("unloading SAM 2.1: they take turns on this GPU") == 1
    assert set(models._loaded) == {"sam2"}

    models._plan = plan_for(card(24))  # together: nothing is unloaded
    with models.using("internvideo", Job(on_progress=seen.append)):
        pass
    assert set(models._loaded) == {"sam2", "internvideo"}


def test_the_worker_plans_before_its_first_load_unless_told_cpu(monkeypatch) -> None:
    monkeypatch.setattr(
        state, "LOADERS", {name: lambda s, p, j: SimpleNamespace() for name in state.MODEL_NAMES}
    )
    automatic = Models(Settings(device="auto"), Handles())
    assert automatic.known_plan() is None  # status never computes it
    with automatic.using("sam2", Job()):
        pass
    assert automatic.known_plan().device.kind == "cpu"  # this machine: "auto" is the CPU
    told = Models(Settings(device="cpu"), Handles())
    with told.using("sam2", Job()):
        pass
    assert told.known_plan() is None  # on the CPU both models stay; nothing to plan before a load
    missing = Models(Settings(device="cuda"), Handles())  # no CUDA here: the load itself says so
    with missing.using("sam2", Job()):
        pass
    assert missing.known_plan() is None
