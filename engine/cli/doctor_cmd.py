"""`scenescope doctor [--json]`: the machine as the tool sees it (engine/doctor.py), in seconds."""

from __future__ import annotations

import argparse
import json

from engine.cli.models_cmd import copy_state

NAME = "doctor"


def add_parser(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(NAME, parents=parents, help="report Python, torch, GPU, codecs, Qt, models, caches")
    p.add_argument("--json", action="store_true", help="print one JSON object (for bug reports)")


def run(args: argparse.Namespace) -> int:
    from engine.doctor import report

    data = report()
    if args.json:
        print(json.dumps(data, ensure_ascii=False))
        return 0
    torch, qt, video = data["torch"], data["qt"], data["video"]
    packages = data["packages"]
    print(f"system          {data['os']}, Python {data['python']} ({data['executable']})")
    cuda = f", CUDA {torch['cuda']}" if torch.get("cuda") else ", no CUDA build"
    print(f"torch           {torch['version'] or 'not installed'}{cuda if torch['version'] else ''}")
    if torch.get("driver"):
        print(f"driver          NVIDIA {torch['driver']}")
    for gpu in torch.get("gpus") or []:
        free, total = gpu["free_bytes"] / 2**30, gpu["total_bytes"] / 2**30
        print(
            f"gpu             {gpu['name']} (compute {gpu['capability']}), {free:.1f} of {total:.1f} GiB free"
        )
    if torch["version"] and not torch.get("gpus"):
        print("gpu             none usable: models run on the CPU")
    for name in ("transformers", "huggingface_hub", "flash-attn", "bitsandbytes"):
        print(f"{name:<15} {packages[name] or 'not installed'}")
    backends = ", ".join(qt["multimedia_backends"]) or "none found"
    print(f"qt              PySide6 {qt['version'] or 'not installed'}; multimedia backends: {backends}")
    codecs = ", ".join(f"{name} {'yes' if ok else 'NO'}" for name, ok in video["codecs"].items())
    print(f"video           PyAV {video['pyav']} (libavcodec {video['ffmpeg'].get('libavcodec')}): {codecs}")
    for model in data["models"]:
        print(f"model           {model['name']}: {copy_state(model['copy'])}")
    for name, cache in data["caches"].items():
        print(f"cache           {name} {cache['path']}: {cache['bytes'] / 1e9:.2f} GB")
    print(f"plan            {data['plan']['explanation']}")
    return 0
