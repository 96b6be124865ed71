"""The app's settings: typed, kept in QSettings, turned into the worker's command line and environment.

    settings = Settings.load().with_overrides(args)        # `scenescope --device cpu` wins for this run
    WorkerClient(settings.worker_args())                   # --model, --sam-model, --device, --precision
    environment.update(settings.worker_env())              # the cache folder and its size limit

Empty model and cache fields mean the engine's defaults. Key bindings are stored as `keys/<action>` = a
list of QKeySequence strings, only for actions whose keys differ from the keymap's defaults; an empty
string means "no keys". Tests point QSettings at a temporary folder (QSettings.setPath) or pass their own.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings

from engine.cli.model_args import PRECISIONS as WORKER_PRECISIONS
from engine.video.sampling import DEFAULT_FRAMES, GROUP

log = logging.getLogger(__name__)

DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = tuple(WORKER_PRECISIONS)  # the CLI's names: "int4" is the worker's "nf4"
FRAME_BUDGET_RANGE = (16, 512)
CACHE_LIMIT_DEFAULT_GB = 4.0  # the engine's visual-token cache default (token_cache.DEFAULT_MAX_GB)
CACHE_DIR_ENV = "SCENESCOPE_CACHE_DIR"
CACHE_LIMIT_ENV = "SCENESCOPE_VISUAL_TOKEN_CACHE_GB"
KEYS_GROUP = "keys"
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*")


@dataclass(frozen=True)
class Problem:
    """A setting that cannot be used: which field, and a one-line message saying what to do."""

    field: str
    message: str


@dataclass(frozen=True)
class Settings:
    model: str = ""  # InternVideo2.5: Hugging Face id or folder; "" = the engine's default
    sam_model: str = ""  # SAM 2.1: Hugging Face id or folder; "" = the engine's default
    device: str = "auto"
    precision: str = "auto"
    frame_budget: int = DEFAULT_FRAMES  # frames the model sees when asked about the video
    cache_dir: str = ""  # "" = the engine's cache folder (engine.cache.cache_root)
    cache_limit_gb: float = CACHE_LIMIT_DEFAULT_GB
    keys: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # action -> keys, where not default

    # ----- QSettings ----------------------------------------------------------------------------------------
    @classmethod
    def load(cls, store: QSettings | None = None) -> Settings:
        """The stored settings; a stored value that is unusable (edited by hand) falls back to its default."""
        store = store if store is not None else QSettings()
        defaults, values = cls(), {}
        for f in fields(cls):
            if f.name == "keys" or not store.contains(f.name):
                continue
            raw = store.value(f.name)  # a string when read from the file (QSettings keeps no types there)
            try:
                if isinstance(raw, list):  # an unquoted "a, b" in a hand-edited file
                    raise TypeError("a list")
                values[f.name] = type(getattr(defaults, f.name))(raw)
            except (TypeError, ValueError):
                log.warning("setting %s=%r is not usable; using %r", f.name, raw, getattr(defaults, f.name))
        store.beginGroup(KEYS_GROUP)
        keys = {name: tuple(read_list(store, name)) for name in store.childKeys()}
        store.endGroup()
        settings = replace(defaults, **values, keys=keys)
        broken = {p.field for p in settings.problems(check_paths=False)}
        return replace(settings, **{name: getattr(defaults, name) for name in broken if name != "keys"})

    def save(self, store: QSettings | None = None) -> None:
        store = store if store is not None else QSettings()
        for f in fields(self):
            if f.name != "keys":
                store.setValue(f.name, getattr(self, f.name))
        store.remove(KEYS_GROUP)
        for name, keys in self.keys.items():
            store.setValue(f"{KEYS_GROUP}/{name}", list(keys) or "")  # [] would read back as "not set"
        store.sync()

    # ----- checks -------------------------------------------------------------------------------------------
    def problems(self, check_paths: bool = True) -> list[Problem]:
        """What is wrong, one message per field, in the order of the settings dialog."""
        found = []
        if check_paths:
            for name, what in (("model", "InternVideo2.5"), ("sam_model", "SAM 2.1")):
                message = model_problem(getattr(self, name), what)
                if message:
                    found.append(Problem(name, message))
        if self.device not in DEVICES:
            found.append(
                Problem("device", f"unknown device {self.device!r}: choose one of {', '.join(DEVICES)}")
            )
        if self.precision not in PRECISIONS:
            found.append(
                Problem(
                    "precision",
                    f"unknown precision {self.precision!r}: choose one of {', '.join(PRECISIONS)}",
                )
            )
        low, high = FRAME_BUDGET_RANGE
        if not low <= self.frame_budget <= high or self.frame_budget % GROUP:
            found.append(
                Problem(
                    "frame_budget",
                    f"the frame budget must be a multiple of {GROUP} from {low} to {high} "
                    f"(the model merges frames in groups of {GROUP}), not {self.frame_budget}",
                )
            )
        if check_paths and self.cache_dir:
            message = folder_problem(self.cache_dir)
            if message:
                found.append(Problem("cache_dir", message))
        if not math.isfinite(self.cache_limit_gb) or self.cache_limit_gb < 0:
            found.append(
                Problem(
                    "cache_limit_gb", f"the cache limit must be 0 GB or more, not {self.cache_limit_gb:g}"
                )
            )
        return found

    # ----- the worker ---------------------------------------------------------------------------------------
    def with_overrides(self, args: argparse.Namespace) -> Settings:
        """These settings with the command line's --model, --sam-model, --device, --precision where given.

        For this run only: save the settings as loaded, not the result.
        """
        given = {name: getattr(args, name, None) for name in ("model", "sam_model", "device", "precision")}
        return replace(self, **{name: value for name, value in given.items() if value is not None})

    def worker_args(self) -> list[str]:
        """The worker's command line (`python -m engine.worker ...`; engine/worker/__main__.py)."""
        args = []
        if self.model:
            args += ["--model", self.model]
        if self.sam_model:
            args += ["--sam-model", self.sam_model]
        return [*args, "--device", self.device, "--precision", WORKER_PRECISIONS[self.precision]]

    def worker_env(self) -> dict[str, str]:
        """Environment variables to set for the worker (on top of the app's own environment)."""
        env = {CACHE_LIMIT_ENV: f"{self.cache_limit_gb:g}"}
        if self.cache_dir:
            env[CACHE_DIR_ENV] = str(Path(self.cache_dir).expanduser())
        return env

    def key_overrides(self) -> dict[str, list[str]]:
        """The user's key bindings, as app.keymap takes them (`keymap.keys_for`, `apply_overrides`)."""
        return {name: list(keys) for name, keys in self.keys.items()}


def model_problem(text: str, what: str) -> str | None:
    """Why `text` cannot name a model: a folder that is not there or holds no config.json. None if fine.

    A Hugging Face id ("owner/name") is fine here: whether the Hub has it is the worker's to find out.
    """
    text = text.strip()
    if not text:
        return None
    path = Path(text).expanduser()
    if _HUB_ID.fullmatch(text) and not path.exists():
        return None
    if not path.exists():
        return (
            f"the {what} model folder {text} does not exist: choose the folder with Browse…, "
            "or enter a Hugging Face id (owner/name)"
        )
    if not path.is_dir():
        return f"{text} is a file, not a folder: choose the {what} model's folder (the one with config.json)"
    if not (path / "config.json").is_file():
        return (
            f"{text} has no config.json: choose the {what} model's folder "
            "(the one with config.json and the .safetensors files)"
        )
    return None


def folder_problem(text: str) -> str | None:
    """Why the cache cannot live in folder `text` (relative, a file, not writable), or None."""
    path = Path(text).expanduser()
    if not path.is_absolute():
        return f"the cache folder must be a full path (such as /data/scenescope-cache), not {text}"
    existing = next(p for p in (path, *path.parents) if p.exists())
    if not existing.is_dir():
        return f"{existing} is a file, not a folder: choose another cache folder"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"the cache folder {existing} is not writable: choose a folder you may write to"
    return None


def read_list(store: QSettings, key: str) -> list[str]:
    """A stored list of strings. QSettings reads a one-item list back as a string and "" as [""]."""
    value: Any = store.value(key)
    if value is None:
        return []
    items = [value] if isinstance(value, str) else list(value)
    return [str(item) for item in items if item]
