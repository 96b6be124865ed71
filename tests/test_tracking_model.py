"""Loading SAM2: the published folder layout, Hub ids (data files only), clear errors, no code run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from engine.errors import ModelError
from engine.tracking import load_sam2
from engine.tracking import model as sam2_model

PUBLISHED_FILES = {
    "config.json",
    "model.safetensors",
    "processor_config.json",
    "video_preprocessor_config.json",
}


@pytest.fixture
def folder(sam2_folder, tmp_path) -> Path:
    """A private copy of the tiny model that a test may damage."""
    return Path(shutil.copytree(sam2_folder, tmp_path / "sam2"))


def test_tiny_model_has_the_published_layout(sam2_folder, sam2):
    assert {p.name for p in sam2_folder.iterdir()} == PUBLISHED_FILES
    config = json.loads((sam2_folder / "config.json").read_text())
    assert config["model_type"] == "sam2_video" and config["architectures"] == ["Sam2VideoModel"]
    assert config["num_maskmem"] == 7 and config["max_object_pointers_in_encoder"] == 16
    assert (sam2.image_size, sam2.memory_window, sam2.dtype) == (256, 15, torch.float32)
    assert sam2.mean == (0.485, 0.456, 0.406) and sam2.std == (0.229, 0.224, 0.225)
    assert not sam2.network.training
    assert 1e6 < sum(p.numel() for p in sam2.network.parameters()) < 2e6


def test_builder_runs_as_a_module(tmp_path):
    import subprocess
    import sys

    from tests.conftest import REPO_ROOT

    result = subprocess.run(
        [sys.executable, "-m", "tests.tiny_models", "sam2", str(tmp_path / "m")],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert {p.name for p in (tmp_path / "m").iterdir()} == PUBLISHED_FILES


def test_preprocessing_constants_come_from_the_folder(folder):
    config = json.loads((folder / "video_preprocessor_config.json").read_text())
    config["image_mean"], config["image_std"] = [0.5, 0.5, 0.5], [0.25, 0.25, 0.25]
    (folder / "video_preprocessor_config.json").write_text(json.dumps(config))
    model = load_sam2(folder, device="cpu")
    assert (model.mean, model.std) == ((0.5, 0.5, 0.5), (0.25, 0.25, 0.25))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("no_weights", "no safetensors weights"),
        ("no_config", "has no config.json"),
        ("image_model", "not a SAM2 video model"),
        ("missing_tensor", "incomplete"),
        ("truncated", r"model\.safetensors is damaged \(.*\); copy the model folder .* again"),
        ("wrong_shape", r"model\.safetensors does not fit the model config\.json describes \(mask_decoder"),
        ("config_not_json", r"config\.json is damaged \(Expecting property name"),
    ],
)
def test_broken_folders_are_refused_with_a_fix(folder, damage, message):
    weights = folder / "model.safetensors"
    if damage == "no_weights":
        weights.unlink()
    elif damage == "no_config":
        (folder / "config.json").unlink()
    elif damage == "image_model":
        config = json.loads((folder / "config.json").read_text())
        (folder / "config.json").write_text(json.dumps(config | {"model_type": "sam2"}))
    elif damage == "missing_tensor":
        tensors = load_file(weights)
        tensors.pop(sorted(k for k in tensors if "mask_decoder" in k)[0])
        save_file(tensors, weights)
    elif damage == "truncated":
        weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    elif damage == "wrong_shape":
        tensors = load_file(weights)
        key = sorted(k for k in tensors if "mask_decoder" in k and tensors[k].ndim == 2)[0]
        tensors[key] = torch.zeros(tensors[key].shape[0] + 1, tensors[key].shape[1])
        save_file(tensors, weights)
    elif damage == "config_not_json":
        (folder / "config.json").write_text("{not json")
    with pytest.raises(ModelError, match=message):
        load_sam2(folder, device="cpu")


def test_names_that_are_neither_folder_nor_hub_id(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        load_sam2(tmp_path / "missing" / "folder")
    with pytest.raises(ModelError, match="neither a model folder nor a Hub id"):
        load_sam2("not-a-hub-id")


def test_code_in_a_model_folder_is_never_run(folder, tmp_path):
    marker = tmp_path / "code_ran"
    (folder / "evil.py").write_text(f"open({str(marker)!r}, 'w').write('x')\nclass Evil: pass\n")
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoModel": "evil.Evil", "AutoConfig": "evil.Evil"}
    (folder / "config.json").write_text(json.dumps(config))
    load_sam2(folder, device="cpu")
    assert not marker.exists()


def test_devices_and_precisions_are_checked():
    with pytest.raises(ModelError, match="use auto or one of"):
        sam2_model._resolve_precision("int4", torch.device("cpu"))
    with pytest.raises(ModelError, match="on the CPU use fp32"):
        sam2_model._resolve_precision("bf16", torch.device("cpu"))
    assert sam2_model._resolve_precision("auto", torch.device("cpu")) == torch.float32
    with pytest.raises(ModelError, match="unknown device"):
        sam2_model._resolve_device("tpu:9")
    if not torch.cuda.is_available():
        with pytest.raises(ModelError, match="no CUDA GPU"):
            sam2_model._resolve_device("cuda")
