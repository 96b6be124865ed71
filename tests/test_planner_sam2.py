"""The plan's SAM2 is the one loaded: with no SAM2 named, the planner picks the largest SAM 2.1 on disk that
fits, and the worker and `scenescope track` load that copy; a named model always wins. The store holds the
tiny SAM2 of tests/tiny_models.py twice, as if it were SAM 2.1 tiny and large (fetched from the fake Hub
into the Hugging Face cache layout, then the Hub is gone); the card is a fake one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine import planner
from engine.cli import main
from engine.jobs import Job
from engine.models import store
from engine.models.catalog import variant
from engine.planner import plan_for, sam2_choices
from engine.worker import handlers
from engine.worker.context import Context, State
from engine.worker.protocol import Args
from engine.worker.state import Handles, Models, Settings
from tests.fake_hub import FakeHub, point_at
from tests.test_models_hub import closed_port_url
from tests.test_planner import card

TINY, LARGE = variant("sam2.1-tiny"), variant("sam2.1-large")


@pytest.fixture
def two_sizes(sam2_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The store with the tiny test model as SAM 2.1 tiny and as SAM 2.1 large, each at its pin."""
    cache = tmp_path / "hf-cache"
    with FakeHub(
        {(TINY.repo_id, TINY.revision): sam2_folder, (LARGE.repo_id, LARGE.revision): sam2_folder}
    ) as hub:
        point_at(hub.url, cache, monkeypatch)
        for entry in (TINY, LARGE):
            store.download(entry)
    point_at(closed_port_url(), cache, monkeypatch)  # from here on only what is on disk
    return cache


@pytest.fixture
def loaded_on_the_cpu(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """SAM2 loads really happen, on the CPU whatever device was asked for (the card is fake); the sources
    they were given are recorded."""
    import engine.tracking

    real = engine.tracking.load_sam2
    sources: list[str] = []

    def load_sam2(source, *, device, job=None):
        sources.append(str(source))
        return real(source, device="cpu", job=job)

    monkeypatch.setattr(engine.tracking, "load_sam2", load_sam2)
    return sources


def test_the_choices_are_the_named_model_else_the_sizes_on_disk(
    two_sizes: Path, sam2_folder: Path, tmp_path: Path, monkeypatch
) -> None:
    assert sam2_choices(None) == (TINY, LARGE)
    assert sam2_choices("sam2.1-small") == (variant("sam2.1-small"),)
    assert sam2_choices(f"{LARGE.repo_id}@{LARGE.revision}") == (LARGE,)
    assert sam2_choices(str(sam2_folder)) == (TINY,)  # a folder of unknown origin: counted as the smallest
    point_at(closed_port_url(), tmp_path / "empty-cache", monkeypatch)
    assert sam2_choices(None) == (TINY,)  # nothing on disk: tiny, which the first track downloads


@pytest.mark.parametrize(
    ("gb", "expected"),
    [(16, LARGE), (12, TINY)],  # 12 GB: only tiny fits beside the int8 LLM (they stay loaded together)
)
def test_the_worker_loads_the_largest_sam2_on_disk_that_fits(
    two_sizes, loaded_on_the_cpu, monkeypatch, gb: int, expected
) -> None:
    monkeypatch.setattr(planner, "detect_device", lambda device: card(gb))
    models = Models(Settings(device="cuda"), Handles())
    with models.using("sam2", Job()) as sam2:
        assert sam2.name == expected.repo_id
    plan = models.known_plan()
    assert plan.sam2 == expected.name and plan.together
    assert f"{expected.name} (" in plan.explanation
    assert loaded_on_the_cpu == [expected.repo_id]


def test_a_named_sam2_always_wins(two_sizes, loaded_on_the_cpu, sam2_folder: Path, monkeypatch) -> None:
    monkeypatch.setattr(planner, "detect_device", lambda device: card(16))
    models = Models(Settings(device="cuda", sam2=str(sam2_folder)), Handles())
    with models.using("sam2", Job()) as sam2:
        assert sam2.name == str(sam2_folder)
    assert models.known_plan().sam2 == TINY.name  # what the plan counted for it
    models.configure(Settings(device="cuda"))  # the setting cleared: planned and loaded from the disk again
    with models.using("sam2", Job()) as sam2:
        assert sam2.name == LARGE.repo_id


def test_a_download_through_the_worker_makes_the_plan_again(
    sam2_folder: Path, tmp_path: Path, loaded_on_the_cpu, monkeypatch
) -> None:
    monkeypatch.setattr(planner, "detect_device", lambda device: card(16))
    models = Models(Settings(device="cuda"), Handles())
    state = State(Handles(), models, lambda: [])
    with FakeHub(
        {(TINY.repo_id, TINY.revision): sam2_folder, (LARGE.repo_id, LARGE.revision): sam2_folder}
    ) as hub:
        point_at(hub.url, tmp_path / "hf-cache", monkeypatch)
        handlers.models_download(Context(Args({"name": TINY.name}, "a test"), state, Job()))
        with models.using("sam2", Job()) as sam2:
            assert sam2.name == TINY.repo_id  # all there is on disk
        handlers.models_download(Context(Args({"name": LARGE.name}, "a test"), state, Job()))
    models.unload("sam2")
    with models.using("sam2", Job()) as sam2:
        assert sam2.name == LARGE.repo_id and models.known_plan().sam2 == LARGE.name


def test_track_loads_the_plans_sam2(
    two_sizes, loaded_on_the_cpu, media, tmp_path: Path, monkeypatch, capsys
) -> None:
    video = media("plan_track.mp4", frames=8, fps=20, width=96, height=64, gop=4)
    for gb, expected in ((16, LARGE), (8, LARGE), (12, TINY)):
        monkeypatch.setattr(planner, "detect_device", lambda device, gb=gb: card(gb))
        out = tmp_path / f"out-{gb}"
        code = main(
            [
                "track",
                str(video),
                "--at",
                "0.1",
                "--point",
                "40,30",
                "--device",
                "cuda",
                "--out",
                str(out),
                "--json",
            ]
        )
        summary = json.loads(capsys.readouterr().out)
        assert code == 0 and summary["model"] == expected.repo_id
        assert summary["plan"]["sam2"] == expected.name
    assert loaded_on_the_cpu == [LARGE.repo_id, LARGE.repo_id, TINY.repo_id]
    assert plan_for(card(8), sam2_choices=(TINY, LARGE)).together is False  # 8 GB: they take turns
