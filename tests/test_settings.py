"""Typed settings on QSettings (read back by another process, as QSettings gives them: strings), their
checks, the command line's overrides, and the worker's command line and environment on a real worker."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from app.settings import CACHE_LIMIT_DEFAULT_GB, PRECISIONS, Settings, model_problem
from engine.worker.client import WorkerProcess
from tests.conftest import checkout_env

READ_BACK = """
import json, sys
from dataclasses import asdict
from PySide6.QtCore import QSettings
from app.settings import Settings
store = QSettings(sys.argv[1], QSettings.Format.IniFormat)
settings = Settings.load(store)
raw = {key: store.value(key) for key in ("keys/relink", "keys/mute")}  # what app.keymap's readers see
print(json.dumps({**asdict(settings), "keys": {k: list(v) for k, v in settings.keys.items()}, "raw": raw}))
"""


def ini(tmp_path: Path, name: str = "settings.ini") -> QSettings:
    return QSettings(str(tmp_path / name), QSettings.Format.IniFormat)


def read_in_another_process(path: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", READ_BACK, path],
        env=checkout_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def test_settings_round_trip_through_another_process(tmp_path):
    settings = Settings(
        model=str(tmp_path / "iv"),
        sam_model="facebook/sam2.1-hiera-large",
        device="cpu",
        precision="int4",
        frame_budget=256,
        cache_dir=str(tmp_path / "cache"),
        cache_limit_gb=0.5,
        keys={"mute": ("Ctrl+M",), "play_pause": ("Space", ","), "relink": ()},
    )
    store = ini(tmp_path)
    settings.save(store)
    read = read_in_another_process(store.fileName())
    assert read.pop("raw") == {"keys/relink": "", "keys/mute": "Ctrl+M"}  # "no keys" is not "not set" (None)
    assert read == {
        **asdict(settings),
        "keys": {"mute": ["Ctrl+M"], "play_pause": ["Space", ","], "relink": []},
    }
    assert Settings.load(ini(tmp_path)) == settings


def test_unusable_stored_values_fall_back_to_their_defaults(tmp_path):
    path = tmp_path / "edited.ini"
    path.write_text(
        "[General]\ndevice=gpu\nprecision=fp8\nframe_budget=lots\ncache_limit_gb=-3\nmodel=/x/iv\n"
        "sam_model=a, b\n"
        "[keys]\nmute=M\n"
    )
    settings = Settings.load(QSettings(str(path), QSettings.Format.IniFormat))
    assert settings == Settings(model="/x/iv", keys={"mute": ("M",)})
    path.write_text("[General]\nframe_budget=130\n")
    assert Settings.load(QSettings(str(path), QSettings.Format.IniFormat)).frame_budget == 128


def test_the_command_line_overrides_what_it_names_for_this_run_only(tmp_path):
    stored = Settings(model="/models/iv", sam_model="/models/sam", device="cuda", precision="bf16")
    args = argparse.Namespace(model=None, sam_model="/other/sam", device="cpu", precision=None, video=None)
    run = stored.with_overrides(args)
    assert run == Settings(model="/models/iv", sam_model="/other/sam", device="cpu", precision="bf16")
    assert stored.device == "cuda"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", None),
        ("OpenGVLab/InternVideo2_5_Chat_8B", None),
        (
            "/no/such/folder",
            "the InternVideo2.5 model folder /no/such/folder does not exist: choose the folder",
        ),
        ("./relative/missing", "does not exist"),
        ("~/surely-not-here-3f9a", "does not exist"),
        ("three/part/id", "does not exist"),
    ],
)
def test_model_names_are_checked(text, expected):
    message = model_problem(text, "InternVideo2.5")
    assert message is None if expected is None else expected in message


def test_a_model_folder_must_hold_a_config(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    assert "has no config.json: choose the SAM 2.1 model's folder" in model_problem(str(folder), "SAM 2.1")
    (folder / "config.json").write_text("{}")
    assert model_problem(str(folder), "SAM 2.1") is None
    assert "is a file, not a folder" in model_problem(str(folder / "config.json"), "SAM 2.1")


def test_problems_name_their_field(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    bad = Settings(
        model="/no/iv", frame_budget=130, cache_dir=str(blocker / "cache"), cache_limit_gb=-1, device="tpu"
    )
    fields = {p.field: p.message for p in bad.problems()}
    assert list(fields) == ["model", "device", "frame_budget", "cache_dir", "cache_limit_gb"]
    assert "multiple of 4 from 16 to 512" in fields["frame_budget"] and "not 130" in fields["frame_budget"]
    assert f"{blocker} is a file, not a folder" in fields["cache_dir"]
    assert "must be a full path" in Settings(cache_dir="cache").problems()[0].message
    assert Settings(frame_budget=16).problems() == [] and Settings(frame_budget=512).problems() == []
    assert [p.field for p in Settings(frame_budget=12).problems()] == ["frame_budget"]
    assert [p.field for p in Settings(frame_budget=516).problems()] == ["frame_budget"]


def test_the_worker_starts_with_the_settings_and_uses_their_cache(tmp_path, sam2_folder, media):
    cache = tmp_path / "my cache"
    settings = Settings(
        model=str(tmp_path / "iv-folder"),
        sam_model=str(sam2_folder),
        device="cpu",
        precision="int4",
        cache_dir=str(cache),
    )
    model_args = ["--model", str(tmp_path / "iv-folder"), "--sam-model", str(sam2_folder)]
    assert settings.worker_args() == [*model_args, "--device", "cpu", "--precision", "nf4"]
    env = {**checkout_env(SCENESCOPE_LOG_DIR=str(tmp_path / "log")), **settings.worker_env()}
    with WorkerProcess(settings.worker_args(), env=env) as worker:
        hello = worker.call("hello")
        assert hello["settings"] == {
            "internvideo": str(tmp_path / "iv-folder"),
            "revision": None,
            "sam2": str(sam2_folder),
            "device": "cpu",
            "precision": "nf4",
        }
        worker.call("open_video", path=str(media("settings_clip.mp4", frames=12)))
    assert any((cache / "frame_tables").iterdir()), "the worker did not use the cache folder of the settings"


@pytest.mark.parametrize("precision", PRECISIONS)
def test_every_precision_is_one_the_worker_takes(tmp_path, precision):
    with WorkerProcess(
        Settings(precision=precision).worker_args(), env=checkout_env(SCENESCOPE_LOG_DIR=str(tmp_path))
    ) as worker:
        assert worker.call("hello")["settings"]["precision"] == {"int4": "nf4"}.get(precision, precision)


def test_defaults_leave_the_models_to_the_engine_and_the_cache_limit_reads_back(monkeypatch):
    assert Settings().worker_args() == ["--device", "auto", "--precision", "auto"]
    from engine.models.internvideo.token_cache import DEFAULT_MAX_GB, max_bytes_from_env

    assert CACHE_LIMIT_DEFAULT_GB == DEFAULT_MAX_GB
    for gb in (4.0, 0.5, 12.25, 0.0):
        env = Settings(cache_limit_gb=gb).worker_env()
        assert "SCENESCOPE_CACHE_DIR" not in env
        monkeypatch.setenv("SCENESCOPE_VISUAL_TOKEN_CACHE_GB", env["SCENESCOPE_VISUAL_TOKEN_CACHE_GB"])
        assert max_bytes_from_env() == int(gb * 2**30)


def test_the_session_and_settings_modules_load_no_torch():
    modules = "session session_keeper recent_files relink_dialog settings settings_dialog key_bindings_page"
    code = (
        "import sys\n"
        + "".join(f"import app.{name}\n" for name in modules.split())
        + "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=checkout_env(), capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
