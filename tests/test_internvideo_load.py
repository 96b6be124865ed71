"""Loader and key-conversion tests on synthetic checkpoints in the published layout.

The checkpoints are written here (tiny dimensions, random tensors, original key names), so these tests do
not need the shared fixture. `original_tensors` lists every key the published checkpoint has for a
config, with the original shapes.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import save_file

from engine.errors import ModelError
from engine.models.internvideo import DEFAULT_REPO, DEFAULT_REVISION, load_internvideo
from engine.models.internvideo.config import parse_config
from engine.models.internvideo.convert import LlmHeads, convert_tensor, split_grouped_wqkv
from engine.models.internvideo.load import build_model, model_identity
from engine.models.internvideo.model import InternVideoModel
from tests.damaged_models import DAMAGE, copy_checkpoint

TINY_RAW_CONFIG: dict[str, Any] = {
    "architectures": ["InternVLChatModel"],
    "model_type": "internvl_chat",
    "downsample_ratio": 0.5,
    "force_image_size": 140,
    "ps_version": "v2",
    "select_layer": -1,
    "template": "internvl2_5",
    "vision_config": {
        "architectures": ["InternVisionModel"],
        "hidden_size": 16,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "intermediate_size": 32,
        "hidden_act": "gelu",
        "image_size": 140,
        "patch_size": 14,
        "qkv_bias": True,
        "qk_normalization": False,
        "norm_type": "layer_norm",
        "layer_norm_eps": 1e-6,
    },
    "llm_config": {
        "architectures": ["InternLM2ForCausalLM"],
        "hidden_size": 64,  # bitsandbytes' CPU 4-bit kernel needs out_features % 32 == 0
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "vocab_size": 50,
        "rms_norm_eps": 1e-5,
        "rope_theta": 1000000,
        "rope_scaling": {"type": "dynamic", "factor": 2.0},
        "max_position_embeddings": 32768,
        "bias": False,
        "tie_word_embeddings": False,
    },
}


def tiny_raw_config(**overrides: Any) -> dict[str, Any]:
    """A deep copy of `TINY_RAW_CONFIG` with top-level overrides."""
    raw = copy.deepcopy(TINY_RAW_CONFIG)
    raw.update(overrides)
    return raw


def original_tensors(raw: dict[str, Any], seed: int = 0, extra: bool = True) -> dict[str, torch.Tensor]:
    """Random tensors under every original key (and, with `extra`, a few unused task-head tensors)."""
    g = torch.Generator().manual_seed(seed)

    def rnd(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=g)

    vc, lc = raw["vision_config"], raw["llm_config"]
    c, i, p = vc["hidden_size"], vc["intermediate_size"], vc["patch_size"]
    patches = (vc["image_size"] // p) ** 2
    t: dict[str, torch.Tensor] = {
        "vision_model.embeddings.class_embedding": rnd(1, 1, c),
        "vision_model.embeddings.position_embedding": rnd(1, patches + 1, c),
        "vision_model.embeddings.patch_embedding.weight": rnd(c, 3, p, p),
        "vision_model.embeddings.patch_embedding.bias": rnd(c),
    }
    for n in range(vc["num_hidden_layers"]):
        pre = f"vision_model.encoder.layers.{n}."
        t |= {
            pre + "attn.qkv.weight": rnd(3 * c, c),
            pre + "attn.qkv.bias": rnd(3 * c),
            pre + "attn.proj.weight": rnd(c, c),
            pre + "attn.proj.bias": rnd(c),
            pre + "norm1.weight": rnd(c),
            pre + "norm1.bias": rnd(c),
            pre + "norm2.weight": rnd(c),
            pre + "norm2.bias": rnd(c),
            pre + "ls1": rnd(c),
            pre + "ls2": rnd(c),
            pre + "mlp.fc1.weight": rnd(i, c),
            pre + "mlp.fc1.bias": rnd(i),
            pre + "mlp.fc2.weight": rnd(c, i),
            pre + "mlp.fc2.bias": rnd(c),
        }
    wide = c * round(1 / raw["downsample_ratio"]) ** 2
    d, li, v = lc["hidden_size"], lc["intermediate_size"], lc["vocab_size"]
    h, kv = lc["num_attention_heads"], lc["num_key_value_heads"]
    hd = d // h
    t |= {
        "mlp1.0.weight": rnd(wide),
        "mlp1.0.bias": rnd(wide),
        "mlp1.1.weight": rnd(d, wide),
        "mlp1.1.bias": rnd(d),
        "mlp1.3.weight": rnd(d, d),
        "mlp1.3.bias": rnd(d),
        "language_model.model.tok_embeddings.weight": rnd(v, d),
        "language_model.model.norm.weight": rnd(d),
        "language_model.output.weight": rnd(v, d),
    }
    for n in range(lc["num_hidden_layers"]):
        pre = f"language_model.model.layers.{n}."
        t |= {
            pre + "attention.wqkv.weight": rnd((h + 2 * kv) * hd, d),
            pre + "attention.wo.weight": rnd(d, h * hd),
            pre + "feed_forward.w1.weight": rnd(li, d),
            pre + "feed_forward.w3.weight": rnd(li, d),
            pre + "feed_forward.w2.weight": rnd(d, li),
            pre + "attention_norm.weight": rnd(d),
            pre + "ffn_norm.weight": rnd(d),
        }
    if extra:
        t |= {
            "sam.image_encoder.trunk.patch_embed.proj.weight": rnd(2, 3),
            "cg_model.input_txt_proj.0.weight": rnd(2, 2),
            "temporal_token": rnd(1, 1, d),
            "track_token": rnd(1, 1, d),
        }
    return t


def write_checkpoint(
    folder: Path,
    raw: dict[str, Any] | None = None,
    tensors: dict[str, torch.Tensor] | None = None,
    num_shards: int = 2,
) -> Path:
    """Write config.json, sharded safetensors and their index in the published layout; returns `folder`."""
    raw = raw if raw is not None else tiny_raw_config()
    tensors = tensors if tensors is not None else original_tensors(raw)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(raw), encoding="utf-8")
    keys = sorted(tensors)
    weight_map: dict[str, str] = {}
    for s in range(num_shards):
        name = f"model-{s + 1:05d}-of-{num_shards:05d}.safetensors"
        part = {k: tensors[k].contiguous() for k in keys[s::num_shards]}
        save_file(part, str(folder / name))
        weight_map |= dict.fromkeys(part, name)
    index = {"metadata": {"total_size": 0}, "weight_map": weight_map}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index), encoding="utf-8")
    return folder


CPU = torch.device("cpu")


def _heads(raw: dict[str, Any]) -> LlmHeads:
    lc = raw["llm_config"]
    return LlmHeads(
        lc["num_attention_heads"], lc["num_key_value_heads"], lc["hidden_size"] // lc["num_attention_heads"]
    )


def test_key_table_maps_every_original_tensor_onto_every_parameter() -> None:
    raw = tiny_raw_config()
    model = InternVideoModel(parse_config(raw))
    params = dict(model.named_parameters())
    converted: dict[str, torch.Tensor] = {}
    for key, tensor in original_tensors(raw, extra=False).items():
        for name, piece in convert_tensor(key, tensor, _heads(raw)) or ():
            assert name not in converted, name
            converted[name] = piece
    assert set(converted) == set(params)
    for name, piece in converted.items():
        assert tuple(piece.shape) == tuple(params[name].shape), name


def test_build_model_fills_every_tensor_and_logs_the_skipped_heads(tmp_path: Path, caplog) -> None:
    raw = tiny_raw_config()
    tensors = original_tensors(raw)
    folder = write_checkpoint(tmp_path / "ckpt", raw, tensors)
    with caplog.at_level(logging.INFO, logger="engine.models.internvideo"):
        model = build_model(folder, parse_config(raw), CPU, "fp32", "sdpa")
    skip_lines = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert len(skip_lines) == 1 and skip_lines[0].startswith("skipped 4 task-head tensors")
    assert all(p.device.type == "cpu" for p in model.parameters())
    lm = model.language_model
    assert torch.equal(lm.lm_head.weight, tensors["language_model.output.weight"])
    assert torch.equal(lm.model.embed_tokens.weight, tensors["language_model.model.tok_embeddings.weight"])
    assert lm.lm_head.weight.data_ptr() != lm.model.embed_tokens.weight.data_ptr()
    q, k, v = split_grouped_wqkv(tensors["language_model.model.layers.1.attention.wqkv.weight"], _heads(raw))
    attn = lm.model.layers[1].self_attn
    assert torch.equal(attn.q_proj.weight, q) and torch.equal(attn.k_proj.weight, k)
    assert torch.equal(attn.v_proj.weight, v)
    vit = model.vision_tower.encoder.layer[0]
    qkv_b = tensors["vision_model.encoder.layers.0.attn.qkv.bias"]
    assert torch.equal(
        torch.cat([vit.attention.q_proj.bias, vit.attention.k_proj.bias, vit.attention.v_proj.bias]), qkv_b
    )
    assert torch.equal(vit.lambda_1, tensors["vision_model.encoder.layers.0.ls1"])
    assert torch.equal(model.multi_modal_projector.linear_2.weight, tensors["mlp1.3.weight"])
    # a forward pass runs end to end
    pixels = torch.randn(4, 3, 140, 140)
    assert model.encode_frames(pixels).shape == (4, 16, raw["llm_config"]["hidden_size"])


def test_unknown_tensor_is_an_error(tmp_path: Path) -> None:
    raw = tiny_raw_config()
    tensors = original_tensors(raw) | {"vision_model.encoder.layers.0.attn.q_norm.weight": torch.ones(16)}
    folder = write_checkpoint(tmp_path / "ckpt", raw, tensors)
    with pytest.raises(ModelError, match=r"unknown tensor 'vision_model\.encoder\.layers\.0\.attn\.q_norm"):
        build_model(folder, parse_config(raw), CPU, "fp32", "sdpa")


def test_missing_tensor_is_an_error(tmp_path: Path) -> None:
    raw = tiny_raw_config()
    tensors = original_tensors(raw)
    del tensors["language_model.output.weight"]
    folder = write_checkpoint(tmp_path / "ckpt", raw, tensors)
    with pytest.raises(ModelError, match=r"lacks tensors language_model\.lm_head\.weight"):
        build_model(folder, parse_config(raw), CPU, "fp32", "sdpa")


def test_shape_mismatch_is_an_error(tmp_path: Path) -> None:
    raw = tiny_raw_config()
    tensors = original_tensors(raw)
    raw["llm_config"]["vocab_size"] = 60  # the tensors have 50 rows
    folder = write_checkpoint(tmp_path / "ckpt", raw, tensors)
    with pytest.raises(ModelError, match="checkpoint shape"):
        build_model(folder, parse_config(raw), CPU, "fp32", "sdpa")


def test_quantized_llm_loads_on_cpu(tmp_path: Path) -> None:
    pytest.importorskip("bitsandbytes")
    import bitsandbytes as bnb

    raw = tiny_raw_config()
    folder = write_checkpoint(tmp_path / "ckpt", raw)
    for precision, cls in (("nf4", bnb.nn.Linear4bit), ("int8", bnb.nn.Linear8bitLt)):
        model = build_model(folder, parse_config(raw), CPU, precision, "sdpa")
        layer = model.language_model.model.layers[0]
        assert isinstance(layer.self_attn.q_proj, cls) and isinstance(layer.mlp.down_proj, cls)
        assert type(model.language_model.lm_head) is torch.nn.Linear  # lm_head stays full precision
        assert model.vision_tower.embeddings.cls_token.dtype == torch.float32
        embeds = model.embed(torch.tensor([[1, 2, 3]]), None)
        logits, _ = model.language_forward(embeds)
        assert logits.shape == (1, 3, raw["llm_config"]["vocab_size"]) and torch.isfinite(logits).all()


# ----- folder and source errors ----------------------------------------------------------------------------
def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        load_internvideo(tmp_path / "nope", device="cpu")


def test_folder_without_config(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match=r"no config\.json"):
        load_internvideo(tmp_path / "empty", device="cpu")


def test_folder_with_missing_shard(tmp_path: Path) -> None:
    folder = write_checkpoint(tmp_path / "ckpt")
    next(folder.glob("model-00002-*.safetensors")).unlink()
    with pytest.raises(
        ModelError, match=r"model-00002-of-00002\.safetensors is missing \(model\.safetensors"
    ):
        build_model(folder, parse_config(tiny_raw_config()), CPU, "fp32", "sdpa")


def test_folder_without_weights(tmp_path: Path) -> None:
    folder = tmp_path / "ckpt"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(tiny_raw_config()), encoding="utf-8")
    with pytest.raises(ModelError, match="no safetensors weights"):
        build_model(folder, parse_config(tiny_raw_config()), CPU, "fp32", "sdpa")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"architectures": ["LlavaForConditionalGeneration"], "model_type": "llava"},
            "not an InternVideo2.5",
        ),
        ({"llm_config": {**TINY_RAW_CONFIG["llm_config"], "architectures": ["Qwen2ForCausalLM"]}}, "Qwen2"),
        ({"ps_version": "v1"}, "pixel-shuffle"),
        ({"template": "vicuna"}, "unknown chat template"),
        ({"select_layer": -4}, "select_layer"),
    ],
)
def test_wrong_architecture_is_refused(tmp_path: Path, change: dict[str, Any], message: str) -> None:
    folder = tmp_path / "ckpt"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(tiny_raw_config(**change)), encoding="utf-8")
    with pytest.raises(ModelError, match=message):
        load_internvideo(folder, device="cpu")


def test_identity_is_stable_and_tracks_the_files(tmp_path: Path) -> None:
    folder = write_checkpoint(tmp_path / "ckpt")
    first = model_identity(folder)
    assert first == model_identity(folder) and first.startswith("internvideo2_5-")
    assert model_identity(folder, commit="b" * 40).endswith("@" + "b" * 12)
    (folder / "config.json").write_text(
        json.dumps(tiny_raw_config(template="internlm2-chat")), encoding="utf-8"
    )
    assert model_identity(folder) != first


# ----- damaged files: which file, and how to get it again ---------------------------------------------------
@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_folder_names_the_file_and_says_copy_it_again(tmp_path: Path, damage: str) -> None:
    folder = copy_checkpoint(tmp_path / "ckpt")
    problem = DAMAGE[damage](folder)
    with pytest.raises(ModelError) as caught:
        load_internvideo(folder, device="cpu")
    message = str(caught.value)
    assert re.search(problem, message), message
    assert message.endswith(f"; copy the model folder {folder} again from where it came from")
    assert str(folder) in message.split(" ")[0] and "\n" not in message


@pytest.mark.parametrize("damage", [d for d in DAMAGE if d != "index_names_a_missing_shard"])
def test_a_damaged_hub_copy_gives_the_command_that_fetches_the_file_again(
    tmp_path: Path, damage: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.fake_hub import FakeHub, point_at

    published = copy_checkpoint(tmp_path / "published")
    cache = tmp_path / "hf"
    with FakeHub({(DEFAULT_REPO, DEFAULT_REVISION): published}) as hub:
        point_at(hub.url, cache, monkeypatch)
        snapshot = load_internvideo(device="cpu").folder  # downloaded: links into the cache's blobs
        problem = DAMAGE[damage](snapshot)
        with pytest.raises(ModelError) as caught:
            load_internvideo(device="cpu")
        message = str(caught.value)
        assert re.search(problem, message), message
        assert f" of {DEFAULT_REPO}@{DEFAULT_REVISION[:12]} (Hugging Face cache) " in message
        command = message.split("; fetch it again: ")[1]
        damaged_file = re.search(r"(\S+) of " + re.escape(DEFAULT_REPO), message).group(1)
        assert (
            command
            == f"hf download {DEFAULT_REPO} {damaged_file} --revision {DEFAULT_REVISION} --force-download"
        )
        if damage == "cut_shard":  # the command works: run it as the message says, and the model loads
            env = {**os.environ, "HF_ENDPOINT": hub.url, "HF_HUB_CACHE": str(cache)}
            hf = Path(sys.executable).with_name("hf")
            subprocess.run(
                [str(hf), *command.split()[1:]], env=env, check=True, capture_output=True, timeout=120
            )
            assert load_internvideo(device="cpu").folder == snapshot


def test_a_file_missing_from_a_hub_copy_is_fetched_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.fake_hub import FakeHub, point_at

    with FakeHub({(DEFAULT_REPO, DEFAULT_REVISION): copy_checkpoint(tmp_path / "published")}) as hub:
        point_at(hub.url, tmp_path / "hf", monkeypatch)
        snapshot = load_internvideo(device="cpu").folder
        DAMAGE["index_names_a_missing_shard"](snapshot)
        hub.requests.clear()
        load_internvideo(device="cpu")  # the cache's file list shows the copy incomplete: the rest is fetched
    assert (snapshot / "model-00003-of-00004.safetensors").is_file()
    fetched = {path.rsplit("/", 1)[-1] for _, path in hub.requests if "/resolve/" in path}
    assert fetched <= {"model-00003-of-00004.safetensors"}  # (its blob was still there: no transfer at all)


def test_a_cancelled_load_stops_between_tensors(tmp_path: Path) -> None:
    from engine.jobs import Cancelled, Job, Progress

    folder = write_checkpoint(tmp_path / "ckpt")
    seen: list[Progress] = []

    def cancel_at_the_third(progress: Progress) -> None:
        seen.append(progress)
        if progress.done == 3:
            job.cancel()

    job = Job(on_progress=cancel_at_the_third)
    with pytest.raises(Cancelled):
        build_model(folder, parse_config(tiny_raw_config()), CPU, "fp32", "sdpa", job)
    assert [p.done for p in seen] == [1, 2, 3] and seen[0].stage == "load"
    assert seen[0].total == len(original_tensors(tiny_raw_config()))


def test_an_index_naming_files_outside_the_folder_is_refused(tmp_path: Path) -> None:
    folder = write_checkpoint(tmp_path / "ckpt")
    (tmp_path / "elsewhere.safetensors").write_bytes(
        (folder / "model-00001-of-00002.safetensors").read_bytes()
    )
    index = json.loads((folder / "model.safetensors.index.json").read_text(encoding="utf-8"))
    index["weight_map"] = dict.fromkeys(index["weight_map"], "../elsewhere.safetensors")
    (folder / "model.safetensors.index.json").write_text(json.dumps(index), encoding="utf-8")
    with pytest.raises(
        ModelError, match=r"index\.json is damaged \(it names files outside the model folder\)"
    ):
        build_model(folder, parse_config(tiny_raw_config()), CPU, "fp32", "sdpa")
