"""What `scenescope doctor` reports: the machine as the tool sees it, for bug reports and first setups.

Each part imports only what it reports on: torch (its CUDA, the GPUs and their free memory), PyAV (the
codecs FFmpeg has). Versions of the other libraries (transformers, flash-attn, bitsandbytes, PySide6)
come from their package metadata, and Qt's multimedia backends from its plugin folder, without importing
them. Models are checked by size and by the record `scenescope models verify` left (no hashing here).
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
from importlib import metadata, util
from pathlib import Path
from typing import Any

from engine.models import store

PACKAGES = (
    "scenescope",
    "transformers",
    "huggingface_hub",
    "flash-attn",
    "bitsandbytes",
    "pyside6-essentials",
    "av",
)
CODECS = (("h264", "r"), ("hevc", "r"), ("libx264", "w"))  # H.264 and HEVC decode, x264 encode
NVIDIA_DRIVER = Path("/proc/driver/nvidia/version")


def report() -> dict[str, Any]:
    """Everything doctor prints, as plain data."""
    from engine.planner import Device, cpu_device, plan_for, sam2_choices

    torch_part = torch_report()
    gpus = torch_part.get("gpus") or []
    first = gpus[0] if gpus else None
    device = (
        Device("cuda", first["name"], first["free_bytes"], first["total_bytes"]) if first else cpu_device()
    )
    plan = plan_for(device, sam2_choices=sam2_choices(None))  # what track and the window load by default
    return {
        "os": platform.platform(),
        "python": platform.python_version(),
        "executable": sys.executable,
        "packages": {name: package_version(name) for name in PACKAGES},
        "torch": torch_part,
        "qt": qt_report(),
        "video": video_report(),
        "models": store.listing()["models"],
        "caches": cache_report(),
        "plan": plan.to_dict(),
    }


def package_version(name: str) -> str | None:
    """The installed version of a distribution, from its metadata; None when it is not installed."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def torch_report() -> dict[str, Any]:
    """torch's version and CUDA build, the driver, every GPU with its free and total memory."""
    if util.find_spec("torch") is None:
        return {"version": None}
    import torch

    part: dict[str, Any] = {
        "version": torch.__version__,
        "cuda": torch.version.cuda,
        "cuda_available": torch.cuda.is_available(),
        "driver": _nvidia_driver(),
        "gpus": [],
    }
    if part["cuda_available"]:
        for index in range(torch.cuda.device_count()):
            free, total = torch.cuda.mem_get_info(index)
            major, minor = torch.cuda.get_device_capability(index)
            part["gpus"].append(
                {
                    "name": torch.cuda.get_device_name(index),
                    "capability": f"{major}.{minor}",
                    "free_bytes": int(free),
                    "total_bytes": int(total),
                }
            )
    return part


def _nvidia_driver() -> str | None:
    """The NVIDIA kernel driver's version line, read from /proc (no nvidia-smi needed)."""
    try:
        text = NVIDIA_DRIVER.read_text()
    except OSError:
        return None
    words = text.split()
    return next((w for w in words if w[:1].isdigit() and "." in w), text.strip().splitlines()[0])


def qt_report() -> dict[str, Any]:
    """PySide6's version and the multimedia backends its plugin folder holds (the player needs one)."""
    spec = util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return {"version": None, "multimedia_backends": []}
    plugins = Path(next(iter(spec.submodule_search_locations))) / "Qt" / "plugins" / "multimedia"
    backends = sorted(p.name for p in plugins.glob("*") if p.is_file()) if plugins.is_dir() else []
    return {
        "version": package_version("pyside6-essentials"),  # the wheel the app installs; Qt's own version
        "multimedia_backends": backends,
        "QT_MEDIA_BACKEND": os.environ.get("QT_MEDIA_BACKEND"),
        "display": os.environ.get("WAYLAND_DISPLAY") or os.environ.get("DISPLAY"),
    }


def video_report() -> dict[str, Any]:
    """PyAV and its FFmpeg: which of the codecs the tool needs are there, and an ffmpeg program."""
    import av

    codecs = {}
    for name, mode in CODECS:
        try:
            av.codec.Codec(name, mode)
            codecs[f"{name} {'decode' if mode == 'r' else 'encode'}"] = True
        except Exception:  # av raises UnknownCodecError (or ValueError in older releases)
            codecs[f"{name} {'decode' if mode == 'r' else 'encode'}"] = False
    libraries = {lib: ".".join(map(str, v)) for lib, v in av.library_versions.items()}
    return {
        "pyav": av.__version__,
        "ffmpeg": libraries,
        "codecs": codecs,
        "ffmpeg_program": shutil.which("ffmpeg"),
    }


def cache_report() -> dict[str, Any]:
    """The Hugging Face cache and Scenescope's own cache: where, and how much they hold."""
    from engine.cache import cache_root

    folders = {"huggingface": store.hub_cache(), "scenescope": cache_root()}
    return {name: {"path": str(path), "bytes": _bytes_under(path)} for name, path in folders.items()}


def _bytes_under(folder: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            path = Path(root) / name
            if not path.is_symlink():
                total += path.stat().st_size
    return total
