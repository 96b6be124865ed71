"""Shared test set-up: isolated cache, app data and settings folders, offscreen Qt, real media files made
once per run, the environment for command-line subprocesses (this checkout's code, offline), and the tiny
model changed to say yes."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO_ROOT = Path(__file__).resolve().parent.parent


def checkout_env(**extra: str) -> dict[str, str]:
    """The environment for a `scenescope` or `python -m engine` subprocess: this checkout first on the
    path, so it runs the code under test and not the checkout an editable install in a shared venv names."""
    return {**os.environ, "PYTHONPATH": str(REPO_ROOT), **extra}


def library_noise(stderr: str) -> list[str]:
    """The lines of a command's stderr that are not its own: warnings, library logs, their source lines."""
    return [line for line in stderr.splitlines() if "warning" in line.lower() or line.startswith(("[", " "))]


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    os.environ["SCENESCOPE_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))


@pytest.fixture(autouse=True, scope="session")
def _isolated_app_data(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The app's sessions and QSettings in temporary folders, never the user's own."""
    from PySide6.QtCore import QSettings

    os.environ["SCENESCOPE_DATA_DIR"] = str(tmp_path_factory.mktemp("app-data"))
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(
        QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path_factory.mktemp("qsettings"))
    )


@pytest.fixture(autouse=True)
def _event_loops_still_run():
    """Fail the test in which the application was told to exit: from then on every event loop (each
    `qtbot.wait`) returns at once, and the tests after it would fail for no reason of their own."""
    yield
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    if QApplication.instance() is None:
        return
    loop = QEventLoop()
    QTimer.singleShot(0, loop.quit)
    assert loop.exec() == 0, "QApplication.exit was called: later event loops would not run"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh app data folder (sessions, crash markers) for one test."""
    folder = tmp_path / "app-data"
    monkeypatch.setenv("SCENESCOPE_DATA_DIR", str(folder))
    return folder


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """`media(name, **make_video_kwargs)`: a generated video, built once per test session per arguments."""
    from tests.media import make_video

    folder = tmp_path_factory.mktemp("media")
    made: dict[str, Path] = {}

    def build(name: str, **kwargs) -> Path:
        key = f"{name}:{sorted(kwargs.items())}"
        if key not in made:
            subfolder = folder / str(len(made))
            subfolder.mkdir()
            made[key] = make_video(subfolder / name, **kwargs)
        return made[key]

    return build


@pytest.fixture(scope="session")
def sam2_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny random SAM2 video model, written in the published folder layout (tests/tiny_models.py)."""
    from tests.tiny_models import write_sam2

    return write_sam2(tmp_path_factory.mktemp("sam2_tiny"))


@pytest.fixture(scope="session")
def sam2(sam2_folder: Path):
    from engine.tracking import load_sam2

    return load_sam2(sam2_folder, device="cpu")


@pytest.fixture(scope="session")
def sam2_short_memory(tmp_path_factory: pytest.TempPathFactory):
    """The tiny SAM2 with 3 mask memories and 4 object pointers: pruning bites after a few frames."""
    from engine.tracking import load_sam2
    from tests.tiny_models import write_sam2

    folder = write_sam2(tmp_path_factory.mktemp("sam2_short"), num_maskmem=3, max_object_pointers=4)
    return load_sam2(folder, device="cpu")


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models are all overhead: one thread is faster, and fairer to tests running beside them."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def leaning_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model changed to say yes for some frames (`tests.fixtures.leaning_checkpoint`)."""
    from tests.fixtures import leaning_checkpoint

    return leaning_checkpoint(tmp_path_factory.mktemp("leaning") / "checkpoint")


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """`checkout_env` offline: an empty Hugging Face cache and a Hub endpoint where nothing listens."""
    return checkout_env(
        SCENESCOPE_CACHE_DIR=str(tmp_path_factory.mktemp("cli-cache")),
        HF_HUB_CACHE=str(tmp_path_factory.mktemp("empty-hf-cache")),
        HF_ENDPOINT="http://127.0.0.1:9",  # the discard port
        HF_HUB_DISABLE_TELEMETRY="1",
    )
