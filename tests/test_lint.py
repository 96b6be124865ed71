"""The code base stays lint-clean and formatted (ruff, configured in pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO_ROOT

FOLDERS = ["app", "engine", "tests", "bench"]


def test_ruff_check():
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", *FOLDERS], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format():
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", *FOLDERS],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_engine_never_imports_qt_and_app_never_imports_torch():
    for folder, banned in (("engine", ("PySide6", "PyQt")), ("app", ("torch", "transformers"))):
        for path in (REPO_ROOT / folder).rglob("*.py"):
            for line in path.read_text(encoding="utf-8").splitlines():
                words = line.split()
                if words[:1] in (["import"], ["from"]) and words[1].split(".")[0].startswith(banned):
                    raise AssertionError(f"{path.relative_to(REPO_ROOT)} imports {words[1]}")
