"""Names of a package that load their module on first use, so light imports stay light.

The model side of the engine imports torch and transformers, which takes seconds; results, spans and
exports need neither. A package lists its model-side names and where they live:

    __getattr__ = lazy_attributes(__name__, {"ground": "engine.grounding.pipeline"})
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any


def lazy_attributes(package: str, names: dict[str, str]) -> Callable[[str], Any]:
    """A module-level `__getattr__` that imports `names[name]` when `name` is first asked for."""

    def __getattr__(name: str) -> Any:
        if name in names:
            value = getattr(importlib.import_module(names[name]), name)
            setattr(sys.modules[package], name, value)  # later lookups skip this function
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
