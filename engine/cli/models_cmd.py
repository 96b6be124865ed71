"""`scenescope models list|download|verify|remove|path`: the supported models, what is on disk, getting them.

    scenescope models list [--json]                 every variant, its size, whether it is here and complete
    scenescope models download NAME [--revision C]  fetch what is missing (resumes), verify, print the folder
    scenescope models verify NAME|FOLDER            every file against the checksums the Hub published
    scenescope models remove NAME                   free the space
    scenescope models path NAME|FOLDER              the folder to pass as --model, or to copy elsewhere

Nothing here imports torch: the catalog and the checks are plain files and hashes.
"""

from __future__ import annotations

import argparse
import json

from engine.cli.progress import end_progress_line, terminal_job
from engine.errors import ModelError
from engine.models import store
from engine.models.catalog import variant

NAME = "models"


def add_parser(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(NAME, parents=parents, help="list, download, verify and remove the models")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", parents=parents, help="the supported models and what is on disk")
    listing.add_argument("--json", action="store_true", help="print one JSON object")
    fetch = actions.add_parser("download", parents=parents, help="download or complete a model, verify it")
    fetch.add_argument("name", help="a name from `models list`, e.g. internvideo2.5-8b")
    fetch.add_argument("--revision", metavar="COMMIT", help="a commit other than the pinned one")
    fetch.add_argument("--json", action="store_true", help="print one JSON object")
    check = actions.add_parser("verify", parents=parents, help="check every file against the Hub's checksums")
    check.add_argument("name", help="a name from `models list`, or a model folder")
    check.add_argument("--json", action="store_true", help="print one JSON object")
    drop = actions.add_parser("remove", parents=parents, help="delete a downloaded model")
    drop.add_argument("name", help="a name from `models list`")
    drop.add_argument("--revision", metavar="COMMIT", help="a commit other than the pinned one")
    where = actions.add_parser("path", parents=parents, help="print the folder of a model on disk")
    where.add_argument("name", help="a name from `models list`, or a model folder")


def run(args: argparse.Namespace) -> int:
    return {"list": _list, "download": _download, "verify": _verify, "remove": _remove, "path": _path}[
        args.action
    ](args)


def _list(args: argparse.Namespace) -> int:
    data = store.listing()
    if args.json:
        print(json.dumps(data, ensure_ascii=False))
        return 0
    print(f"cache  {data['cache']}{'  (offline: HF_HUB_OFFLINE is set)' if data['offline'] else ''}")
    for model in data["models"]:
        pin = model["revision"][:12]
        print(f"{model['name']:<18} {_gb(model['size_bytes']):>8}  {pin:<16} {copy_state(model['copy'])}")
        print(f"{'':<18} {model['summary']}")
    return 0


def copy_state(copy: dict | None) -> str:
    """A model's copy on disk (`ModelCopy.to_dict()`), in a few words (also doctor's)."""
    if copy is None:
        return "not downloaded"
    if copy["missing"]:
        return f"incomplete ({len(copy['missing'])} of {copy['files']} files missing)"
    checked = "verified" if copy["verified"] else "not verified (`scenescope models verify`)"
    return f"on disk ({copy['files']} files), {checked}"


def _download(args: argparse.Namespace) -> int:
    entry = variant(args.name)
    try:
        copy = store.download(entry, args.revision, job=terminal_job())
    finally:
        end_progress_line()
    if args.json:
        print(json.dumps({**entry.to_dict(), "copy": copy.to_dict(), "verified": True}, ensure_ascii=False))
    else:
        print(f"{entry.name}: {_gb(copy.size_bytes)} downloaded and verified in {copy.folder}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    copy = _copy(args.name)
    try:
        store.verify(copy, job=terminal_job())
    finally:
        end_progress_line()
    name = copy.variant.name if copy.variant else str(copy.folder)
    if args.json:
        print(json.dumps({"copy": copy.to_dict(), "verified": True}, ensure_ascii=False))
    else:
        count = len(copy.published or {})
        print(f"{name}: all {count} files ({_gb(copy.size_bytes)}) match the published checksums")
    return 0


def _remove(args: argparse.Namespace) -> int:
    entry = variant(args.name)
    freed = store.remove(entry, args.revision)
    print(f"{entry.name}: removed, {_gb(freed)} freed" if freed else f"{entry.name}: nothing on disk")
    return 0


def _path(args: argparse.Namespace) -> int:
    print(_copy(args.name).folder)
    return 0


def _copy(name: str) -> store.ModelCopy:
    copy = store.find_copy(name)
    if copy is None:
        raise ModelError(
            f"{name} is not on disk (cache {store.hub_cache()}); run `scenescope models download {name}`, "
            "or copy its folder here from another machine"
        )
    return copy


def _gb(size: int) -> str:
    return f"{size / 1e9:.2f} GB" if size >= 1e8 else f"{size / 1e6:.1f} MB"
