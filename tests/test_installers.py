"""The Linux installers' desktop parts: the menu entry (checked by desktop-file-validate, Debian package
desktop-file-utils, which .ci/run installs) and uninstall.sh, which keeps models and sessions unless asked.
install.ps1 (Windows) cannot run here: its syntax is checked with tree-sitter's PowerShell grammar, and its
switches against the README; README says what was and was not tested."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from engine.models import store
from engine.models.catalog import variant
from tests.conftest import REPO_ROOT
from tests.fake_hub import FakeHub, point_at

SAM2 = variant("sam2.1-tiny")


def sh(*args: str | Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], env=env, capture_output=True, text=True, timeout=120)


def test_the_desktop_entry_validates_and_opens_videos(tmp_path: Path) -> None:
    validate = shutil.which("desktop-file-validate")
    if validate is None:
        pytest.fail("desktop-file-validate is missing: apt-get install desktop-file-utils (as .ci/run does)")
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "share")}
    program = tmp_path / "my apps" / ".venv" / "bin" / "scenescope"  # a space, as home folders have
    made = sh(REPO_ROOT / "installers" / "desktop_entry.sh", "install", program, env=env)
    assert made.returncode == 0, made.stderr
    entry = tmp_path / "share" / "applications" / "scenescope.desktop"
    assert made.stdout.strip() == str(entry)
    checked = sh(validate, entry, env=env)
    assert checked.returncode == 0 and checked.stdout + checked.stderr == ""
    lines = entry.read_text().splitlines()
    assert f'Exec="{program}" %f' in lines and "Icon=scenescope" in lines
    mime = next(line for line in lines if line.startswith("MimeType="))
    assert {"video/mp4", "video/quicktime", "video/x-matroska"} <= set(
        mime.removeprefix("MimeType=").split(";")
    )
    icon = tmp_path / "share" / "icons" / "hicolor" / "scalable" / "apps" / "scenescope.svg"
    assert icon.read_bytes() == (REPO_ROOT / "assets" / "scenescope.svg").read_bytes()

    removed = sh(REPO_ROOT / "installers" / "desktop_entry.sh", "remove", env=env)
    assert removed.returncode == 0 and not entry.exists() and not icon.exists()


def installed_copy(tmp_path: Path) -> Path:
    """A checkout with its installers and a .venv whose python is this one (engine and app importable)."""
    root = tmp_path / "scenescope"
    for part in ("installers", "assets"):
        shutil.copytree(REPO_ROOT / part, root / part)
    (root / ".venv" / "bin").mkdir(parents=True)
    python = root / ".venv" / "bin" / "python"
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    return root


def test_uninstall_keeps_models_and_sessions_unless_asked(
    sam2_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeHub({(SAM2.repo_id, SAM2.revision): sam2_folder}) as hub:
        point_at(hub.url, tmp_path / "hf", monkeypatch)
        store.download(SAM2)
    sessions, cache = tmp_path / "data", tmp_path / "cache"
    (sessions / "sessions").mkdir(parents=True)
    (sessions / "sessions" / "harbour.scenescope").write_text("{}")
    (cache / "frame_tables").mkdir(parents=True)
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "XDG_DATA_HOME": str(tmp_path / "share"),
        "HF_HUB_CACHE": str(tmp_path / "hf"),
        "HF_HUB_OFFLINE": "1",
        "SCENESCOPE_DATA_DIR": str(sessions),
        "SCENESCOPE_CACHE_DIR": str(cache),
    }
    root = installed_copy(tmp_path)
    entry = tmp_path / "share" / "applications" / "scenescope.desktop"
    assert sh(root / "installers" / "desktop_entry.sh", "install", env=env).returncode == 0

    kept = sh(root / "installers" / "uninstall.sh", "--yes", env=env)
    assert kept.returncode == 0, kept.stderr
    assert not (root / ".venv").exists() and not entry.exists()
    assert store.repo_folder(SAM2.repo_id).is_dir()  # the models stay
    assert (sessions / "sessions" / "harbour.scenescope").is_file() and cache.is_dir()
    assert "kept: models sessions cache" in kept.stdout

    root = installed_copy(tmp_path / "again")
    everything = sh(
        root / "installers" / "uninstall.sh", "--yes", "--models", "--sessions", "--cache", env=env
    )
    assert everything.returncode == 0, everything.stderr
    assert not store.repo_folder(SAM2.repo_id).exists() and not sessions.exists() and not cache.exists()
    assert "sam2.1-tiny: removed" in everything.stdout


def test_uninstall_asks_first(tmp_path: Path) -> None:
    root = installed_copy(tmp_path)
    answered = subprocess.run(
        [str(root / "installers" / "uninstall.sh")], input="n\n", capture_output=True, text=True, timeout=60,
        env={**os.environ, "XDG_DATA_HOME": str(tmp_path / "share")},
    )  # fmt: skip
    assert answered.returncode == 0 and "nothing removed" in answered.stdout
    assert (root / ".venv" / "bin" / "python").exists()


def test_the_windows_installer_parses_as_powershell_and_has_the_switches_the_readme_names() -> None:
    import re

    import tree_sitter
    import tree_sitter_powershell

    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))
    script = (REPO_ROOT / "installers" / "windows" / "install.ps1").read_bytes()
    tree = parser.parse(script)
    broken = []
    nodes = [tree.root_node]
    while nodes:
        node = nodes.pop()
        if node.type == "ERROR" or node.is_missing:
            broken.append(f"line {node.start_point[0] + 1}: {script[node.start_byte : node.end_byte][:60]!r}")
        nodes.extend(node.children)
    assert not tree.root_node.has_error and broken == [], broken
    # (checked: an unmatched brace, a doubled parenthesis and an unclosed `if (` each fail this)
    params = set(re.findall(r"\[(?:switch|string)\]\$(\w+)", script.decode()))
    readme = (REPO_ROOT / "README.md").read_text()
    windows = readme[readme.index("Windows: `powershell") :].split("\n\n")[0]
    named = set(re.findall(r"(?<![\w-])-([A-Z]\w+)", windows)) - {"ExecutionPolicy", "File"}  # powershell's
    assert {"Uninstall", "Models", "Sessions", "Cache", "CudaIndex"} <= named <= params, named - params
