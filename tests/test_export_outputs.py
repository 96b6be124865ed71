"""`check_outputs`: what a command will write is checked before it starts, and the check changes nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.errors import ExportError
from engine.export import check_outputs


def tree(folder: Path) -> dict[str, bytes | None]:
    """Every path under `folder` with its bytes (None for folders)."""
    return {str(p.relative_to(folder)): None if p.is_dir() else p.read_bytes() for p in folder.rglob("*")}


def test_a_new_folder_passes_and_is_not_created(tmp_path: Path) -> None:
    out = tmp_path / "new" / "deeper"
    check_outputs(out, [out / "a.json"], [out / "masks" / "object_1"], overwrite=False)
    assert tree(tmp_path) == {}  # nothing created, and the write test left no file


@pytest.mark.parametrize("where", ["out", "below out", "the masks folder"])
def test_a_file_where_a_folder_goes_is_refused(tmp_path: Path, where: str) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_bytes(b"keep")
    out = {"out": blocker, "below out": blocker / "sub", "the masks folder": tmp_path}[where]
    masks = blocker / "object_1" if where == "the masks folder" else out / "masks" / "object_1"
    with pytest.raises(ExportError, match=r"blocker is a file, not a folder\. Choose another folder"):
        check_outputs(out, [out / "tracks.json"], [masks], overwrite=True)
    assert tree(tmp_path) == {"blocker": b"keep"}


def test_existing_outputs_are_refused_unless_overwriting(tmp_path: Path) -> None:
    names = ["a.srt", "a.vtt", "a.csv", "a.json", "a_1.mp4"]
    for name in names:
        (tmp_path / name).write_text(name)
    paths = [tmp_path / n for n in names]
    listed = r"a\.srt, a\.vtt, a\.csv and 2 more already exist in .*--overwrite"
    with pytest.raises(ExportError, match=listed):
        check_outputs(tmp_path, paths, overwrite=False)
    check_outputs(tmp_path, paths, overwrite=True)
    assert tree(tmp_path) == {n: n.encode() for n in names}


def test_overwriting_does_not_replace_a_folder_by_a_file_or_back(tmp_path: Path) -> None:
    (tmp_path / "tracks.json").mkdir()
    with pytest.raises(ExportError, match=r"tracks\.json is a folder, where the export writes a file"):
        check_outputs(tmp_path, [tmp_path / "tracks.json"], overwrite=True)
    (tmp_path / "object_1").write_bytes(b"x")
    with pytest.raises(ExportError, match=r"object_1 is a file, where the export writes a folder"):
        check_outputs(tmp_path, folders=[tmp_path / "object_1"], overwrite=True)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
@pytest.mark.parametrize("exists", [True, False])
def test_a_read_only_folder_is_refused(tmp_path: Path, exists: bool) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        out = locked if exists else locked / "new"
        with pytest.raises(ExportError, match=r"is not writable .*Choose a folder you can write to"):
            check_outputs(out, [out / "a.json"], overwrite=False)
    finally:
        locked.chmod(0o755)
