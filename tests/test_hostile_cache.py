"""Hostile caches and output folders (issue 15, classes 1, 3, 4), as a table of cases run as real commands.

Each case prepares a folder of its own, runs `scenescope` as a subprocess under a timeout, and checks:
- "refused": exit 2, one line on stderr ("scenescope: ..." with the reason and what to do), no traceback,
  nothing written (the case folder, cache aside, is byte for byte as before: existing files untouched);
- "warned": the command does its job (exit 0, the same output as with a sound cache) and logs exactly one
  warning that names the problem, with no traceback and no stray temporary file; a damaged entry is
  written again, so the next run is quiet (for ask: the same visual-token bytes as a clean run);
- "served": a read-only but sound cache serves its entries without a word.

Read-only folders are made two ways: a read-only bind mount in a mount namespace of the command's own
(works as root, as CI runs; skipped where namespaces are not allowed) and chmod (skipped as root, who
writes anyway). Cases that need no such thing use a regular file where a folder goes, which stops root too.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from engine.export import clip_name
from engine.spans import Span, save_spans
from engine.video import FrameTable
from tests.conftest import REPO_ROOT
from tests.fixtures import internvideo_fixture

TIMEOUT_S = 120
WHAT_TO_DO = ("Choose", "Move it away", "--overwrite", "change its permissions")
RO_MOUNT = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" "$1" && shift && exec "$@"'


@dataclass
class Ctx:
    """One case's world: its folder, the paths a command gets, and what the run needs."""

    dir: Path
    fx: dict[str, Path]
    cache: Path = field(init=False)  # $SCENESCOPE_CACHE_DIR
    out: Path = field(init=False)  # --out / --export
    ro: Path = field(init=False)  # the folder made read-only for a sandboxed case
    overwrite: bool = False
    missing_model: bool = False  # point the model at nothing: a refusal must come before loading it

    def __post_init__(self) -> None:
        self.cache, self.out, self.ro = self.dir / "cache", self.dir / "out", self.dir / "ro"
        self.ro.mkdir(parents=True)

    def argv(self, command: str) -> list[str]:
        video, nothing = str(self.fx["video"]), str(self.dir / "no-such-model")
        model = nothing if self.missing_model else str(self.fx["model"])
        sam = nothing if self.missing_model else str(self.fx["sam2"])
        args = {
            "probe": ["probe", video],
            "sample": ["sample", video, "--frames", "8"],
            "ask": ["ask", video, "what?", "--model", model, "--frames", "4", "--device", "cpu",
                    "--max-new-tokens", "2"],
            "track": ["track", video, "--at", "0.5", "--point", "10,10", "--sam-model", sam,
                      "--device", "cpu", "--out", str(self.out)],
            "export": ["export", video, "--spans", str(self.fx["spans"]), "--out", str(self.out),
                       "--preset", "ultrafast"],
            "ground": ["ground", video, "a red square", "--model", model, "--device", "cpu", "--frames", "8",
                       "--export", str(self.out)],
        }[command]  # fmt: skip
        return args + (["--overwrite"] if self.overwrite else [])


@dataclass(frozen=True)
class Case:
    name: str
    command: str
    prepare: Callable[[Ctx], None]
    expect: str  # "refused", "warned" or "served"
    reason: str  # what the one line (refused) or the one warning (warned) must say
    sandbox: str = ""  # "", "mount" (read-only bind mount of ctx.ro) or "chmod" (ctx.ro made 0555)


# ----- preparations -----------------------------------------------------------------------------------


def file_at(attr: str, below: bool = False) -> Callable[[Ctx], None]:
    """A regular file where the folder `attr` goes (or above it, when `below`)."""

    def prepare(ctx: Ctx) -> None:
        blocker = ctx.dir / "blocker"
        blocker.write_bytes(b"a file, kept as it is")
        setattr(ctx, attr, blocker / "sub" if below else blocker)

    return prepare


def in_read_only(attr: str, exists: bool) -> Callable[[Ctx], None]:
    """The folder `attr` inside the read-only folder: there already (and empty), or to be created."""

    def prepare(ctx: Ctx) -> None:
        target = ctx.ro / "target"
        if exists:
            target.mkdir()
        setattr(ctx, attr, target)

    return prepare


def read_only_golden_cache(ctx: Ctx) -> None:
    shutil.copytree(ctx.fx["golden_cache"], ctx.ro / "cache")
    ctx.cache = ctx.ro / "cache"


def outputs_exist(
    *names: str, overwrite: bool = False, folders: tuple[str, ...] = ()
) -> Callable[[Ctx], None]:
    """Earlier results in --out: files `names` and folders `folders` (with some content each)."""

    def prepare(ctx: Ctx) -> None:
        for name in names:
            (ctx.out / name).parent.mkdir(parents=True, exist_ok=True)
            (ctx.out / name).write_text(f"earlier {name}")
        for name in folders:
            (ctx.out / name).mkdir(parents=True)
            (ctx.out / name / "inside.txt").write_text("keep")
        ctx.overwrite = overwrite
        ctx.missing_model = True

    return prepare


def before_the_model(prepare: Callable[[Ctx], None]) -> Callable[[Ctx], None]:
    """`prepare`, with the model pointing at nothing: the refusal must come before any model is loaded."""

    def both(ctx: Ctx) -> None:
        prepare(ctx)
        ctx.missing_model = True

    return both


SIDECARS = tuple(f"table.spans.{kind}" for kind in ("srt", "vtt", "csv", "json"))
CLIP = clip_name("table", 1, 1, 0.2, 0.8)


def damaged(kind: str, damage: Callable[[Path], None], only_one: bool = True) -> Callable[[Ctx], None]:
    """The sound cache of a clean run, with its `kind` entry (the first one) damaged by `damage`."""

    def prepare(ctx: Ctx) -> None:
        shutil.copytree(ctx.fx["golden_cache"], ctx.cache)
        entries = sorted((ctx.cache / kind).iterdir())
        for entry in entries[:1] if only_one else entries:
            damage(entry)

    return prepare


def cut(fraction: float) -> Callable[[Path], None]:
    return lambda p: p.write_bytes(p.read_bytes()[: int(len(p.read_bytes()) * fraction)])


def garbage(p: Path) -> None:
    p.write_bytes(np.random.default_rng(5).integers(0, 256, max(64, p.stat().st_size), np.uint8).tobytes())


def fifo(p: Path) -> None:
    p.unlink()
    os.mkfifo(p)


def npz_changed(**changes: Callable[[np.ndarray], np.ndarray]) -> Callable[[Path], None]:
    def damage(p: Path) -> None:
        with np.load(io.BytesIO(p.read_bytes()), allow_pickle=False) as z:
            arrays = {k: changes[k](z[k]) if k in changes else z[k] for k in z.files}
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        p.write_bytes(buf.getvalue())

    return damage


def tokens_changed(**changes: Callable) -> Callable[[Path], None]:
    def damage(p: Path) -> None:
        from safetensors import safe_open
        from safetensors.torch import save

        with safe_open(str(p), framework="pt") as f:
            metadata, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
        tensors |= {k: change(tensors[k]).contiguous() for k, change in changes.items()}
        p.write_bytes(save(tensors, metadata=metadata))

    return damage


def _wider(t):
    import torch

    return torch.cat([t, t], dim=-1)


def _one_infinite(t):
    import torch

    return t.index_fill(0, torch.tensor([1]), float("inf"))


def _digest_garbled(p: Path) -> None:
    entry = json.loads(p.read_text())
    p.write_text(json.dumps(entry | {"sha256": "not a digest"}))


# ----- the table --------------------------------------------------------------------------------------

CASES: list[Case] = []
UNUSABLE = "running without it"
for command in ("probe", "sample", "ask"):
    CASES += [
        Case(f"{command}: cache root is a file", command, file_at("cache"), "warned", UNUSABLE),
        Case(
            f"{command}: cache root under a file", command, file_at("cache", below=True), "warned", UNUSABLE
        ),
        Case(
            f"{command}: empty cache read-only",
            command,
            in_read_only("cache", True),
            "warned",
            UNUSABLE,
            "mount",
        ),
        Case(
            f"{command}: cache in a read-only folder",
            command,
            in_read_only("cache", False),
            "warned",
            UNUSABLE,
            "mount",
        ),
        Case(f"{command}: sound cache read-only", command, read_only_golden_cache, "served", "", "mount"),
        Case(
            f"{command}: cache read-only (chmod)",
            command,
            in_read_only("cache", True),
            "warned",
            UNUSABLE,
            "chmod",
        ),
    ]
FRAME_TABLE_DAMAGE = {
    "truncated": cut(0.5),
    "cut to 10 bytes": cut(0.001),
    "garbage": garbage,
    "empty": cut(0.0),
    "a FIFO": fifo,
    "a pickled object array": npz_changed(pts=lambda a: np.array([None, *a[1:]], dtype=object)),
    "another video's key": npz_changed(key=lambda a: np.array("0" * 32 + "-0")),
    "times going back": npz_changed(pts=lambda a: a[::-1].copy()),
    "times as floats": npz_changed(pts=lambda a: a.astype(np.float64) + 0.5),
    "a zero time base": npz_changed(scalars=lambda a: np.array([a[0], a[1], 0, a[3]], np.int64)),
}
for what, damage in FRAME_TABLE_DAMAGE.items():
    for command in ("probe", "sample", "ask") if what in ("truncated", "garbage") else ("probe",):
        CASES.append(
            Case(
                f"{command}: frame-table entry {what}",
                command,
                damaged("frame_tables", damage),
                "warned",
                "frame tables cache entry",
            )
        )
TOKEN_DAMAGE = {
    "twice as wide": tokens_changed(visual_tokens=_wider),
    "all NaN": tokens_changed(visual_tokens=lambda t: t * float("nan")),
    "one infinite value": tokens_changed(visual_tokens=_one_infinite),
    "in half precision": tokens_changed(visual_tokens=lambda t: t.half()),
    "for other frame times": tokens_changed(frame_times_s=lambda t: t + 1.0),
    "truncated": cut(0.5),
    "garbage": garbage,
}
for what, damage in TOKEN_DAMAGE.items():
    CASES.append(
        Case(
            f"ask: visual-token entry {what}",
            "ask",
            damaged("visual_tokens", damage),
            "warned",
            "visual tokens cache entry",
        )
    )
CASES.append(
    Case(
        "ask: file-digest entry garbled",
        "ask",
        damaged("file_digests", _digest_garbled),
        "warned",
        "file digests cache entry",
    )
)

NOT_A_FOLDER = "is a file, not a folder"
NOT_WRITABLE = "is not writable"
for command in ("track", "export", "ground"):
    CASES += [
        Case(
            f"{command}: output folder is a file",
            command,
            before_the_model(file_at("out")),
            "refused",
            NOT_A_FOLDER,
        ),
        Case(
            f"{command}: output folder under a file",
            command,
            before_the_model(file_at("out", below=True)),
            "refused",
            NOT_A_FOLDER,
        ),
        Case(
            f"{command}: output folder read-only",
            command,
            before_the_model(in_read_only("out", True)),
            "refused",
            NOT_WRITABLE,
            "mount",
        ),
        Case(
            f"{command}: output folder in a read-only folder",
            command,
            before_the_model(in_read_only("out", False)),
            "refused",
            NOT_WRITABLE,
            "mount",
        ),
        Case(
            f"{command}: output folder read-only (chmod)",
            command,
            before_the_model(in_read_only("out", True)),
            "refused",
            NOT_WRITABLE,
            "chmod",
        ),
    ]
CASES += [
    Case(
        "track: earlier results",
        "track",
        outputs_exist("tracks.json", "boxes.csv"),
        "refused",
        "already exist",
    ),
    Case(
        "track: earlier masks",
        "track",
        outputs_exist(folders=("masks/object_1",)),
        "refused",
        "already exist",
    ),
    Case(
        "track: masks folder is a file",
        "track",
        outputs_exist("masks", overwrite=True),
        "refused",
        NOT_A_FOLDER,
    ),
    Case(
        "track: tracks.json is a folder (--overwrite)",
        "track",
        outputs_exist(folders=("tracks.json",), overwrite=True),
        "refused",
        "is a folder, where",
    ),
    Case(
        "track: object_1 is a file (--overwrite)",
        "track",
        outputs_exist("masks/object_1", overwrite=True),
        "refused",
        "is a file, where",
    ),
    Case("export: earlier sidecars", "export", outputs_exist(*SIDECARS), "refused", "already exist"),
    Case(
        "export: a sidecar is a folder (--overwrite)",
        "export",
        outputs_exist(folders=(SIDECARS[0],), overwrite=True),
        "refused",
        "is a folder, where",
    ),
    Case(
        "export: the clip is a folder (--overwrite)",
        "export",
        outputs_exist(folders=(CLIP,), overwrite=True),
        "refused",
        "is a folder, where",
    ),
    Case("ground: earlier sidecars", "ground", outputs_exist(*SIDECARS), "refused", "already exist"),
    Case(
        "ground: a sidecar is a folder (--overwrite)",
        "ground",
        outputs_exist(folders=(SIDECARS[2],), overwrite=True),
        "refused",
        "is a folder, where",
    ),
]


# ----- running a case ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fx(media, sam2_folder, env, tmp_path_factory) -> dict:
    """What every case shares: the video, a spans file, the models, and a clean run's outputs and cache."""
    folder = tmp_path_factory.mktemp("hostile-shared")
    video = shutil.copy(media("hostile.mp4", frames=48, fps=25, gop=12), folder / "table.mp4")
    spans = folder / "spans.json"
    save_spans(spans, [Span(0.2, 0.8)])
    fx = {"video": Path(video), "spans": spans, "model": internvideo_fixture() / "checkpoint",
          "sam2": sam2_folder, "golden_cache": folder / "cache", "env": env}  # fmt: skip
    ctx = Ctx(folder / "golden", fx)
    ctx.cache = fx["golden_cache"]
    fx["stdout"] = {}
    for command in ("probe", "sample", "ask"):
        result = run(ctx, command, "")
        assert result.returncode == 0 and "WARNING" not in result.stderr, result.stderr
        fx["stdout"][command] = result.stdout
    return fx


def run(ctx: Ctx, command: str, sandbox: str) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "engine", *ctx.argv(command)]
    if sandbox == "mount":
        argv = ["unshare", "-m", "sh", "-c", RO_MOUNT, "sh", str(ctx.ro), *argv]
    env = ctx.fx["env"] | {"SCENESCOPE_CACHE_DIR": str(ctx.cache)}
    return subprocess.run(argv, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=TIMEOUT_S)


def entries(cache: Path) -> dict[str, object]:
    """The cache's entries by name, as what they hold: an .npz records when it was zipped and safetensors
    writes its metadata in any order, so bytes alone would differ between two equal entries."""
    from safetensors import safe_open

    found: dict[str, object] = {}
    for path in sorted(cache.rglob("*.*")):
        name = str(path.relative_to(cache))
        if path.suffix == ".npz":
            table = FrameTable.from_bytes(path.read_bytes(), path.name.removesuffix(".v2.npz"))
            found[name] = [table.pts.tolist(), table.keyframe.tolist(), table.decode_pos.tolist()]
        elif path.suffix == ".safetensors":
            with safe_open(str(path), framework="numpy") as f:
                found[name] = [f.metadata(), {k: f.get_tensor(k).tobytes() for k in sorted(f.keys())}]
        else:
            found[name] = path.read_bytes()
    return found


def snapshot(folder: Path, skip: Path) -> dict[str, tuple]:
    """Every path under `folder` but `skip`: kind, bytes' digest, permissions."""
    found = {}
    for path in sorted(folder.rglob("*")):
        if path == skip or skip in path.parents:
            continue
        st = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
        found[str(path.relative_to(folder))] = (st.st_mode, digest)
    return found


def set_modes(folder: Path, mode: int) -> None:
    """chmod `folder` and every folder inside it."""
    for path in [folder, *folder.rglob("*")]:
        if path.is_dir():
            path.chmod(mode)


def _mounts_allowed(tmp: Path) -> bool:
    probe_dir = tmp / "mount-check"
    probe_dir.mkdir(exist_ok=True)
    script = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" "$1" && ! touch "$1/x"'
    try:
        done = subprocess.run(["unshare", "-m", "sh", "-c", script, "sh", str(probe_dir)],
                              capture_output=True, timeout=10)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and not (probe_dir / "x").exists()


def test_the_table_is_large_enough() -> None:
    assert len(CASES) >= 60 and len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_case(case: Case, fx: dict, tmp_path: Path) -> None:
    if case.sandbox == "chmod" and os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    if case.sandbox == "mount" and not _mounts_allowed(tmp_path):
        pytest.skip("no mount namespaces here (needs root with CAP_SYS_ADMIN)")
    ctx = Ctx(tmp_path / "case", fx)
    case.prepare(ctx)
    if case.sandbox == "chmod":
        set_modes(ctx.ro, 0o555)
    before = snapshot(ctx.dir, skip=ctx.dir / "cache")
    try:
        result = run(ctx, case.command, case.sandbox)
    finally:
        set_modes(ctx.ro, 0o755)
    lines = result.stderr.strip().splitlines()
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr
    assert not list(ctx.dir.rglob(".tmp-*")), "a temporary file was left behind"
    if case.expect == "refused":
        assert result.returncode == 2, result.stderr
        assert len(lines) == 1 and lines[0].startswith("scenescope: "), result.stderr
        assert case.reason in lines[0] and any(hint in lines[0] for hint in WHAT_TO_DO), lines[0]
        assert result.stdout == ""
        assert snapshot(ctx.dir, skip=ctx.dir / "cache") == before, "something was written or changed"
        return
    warnings = [line for line in lines if line.startswith("WARNING")]
    assert result.returncode == 0, result.stderr
    assert result.stdout == fx["stdout"][case.command]
    assert len(warnings) == (case.expect == "warned"), result.stderr
    assert all(case.reason in w for w in warnings), warnings
    if case.expect == "served" or case.reason == UNUSABLE:
        assert snapshot(ctx.dir, skip=ctx.dir / "cache") == before  # the cache, or what blocks it, untouched
        return
    if case.command == "ask":  # the damaged entry was written again, as a clean run writes it
        assert entries(ctx.cache) == entries(fx["golden_cache"])
        return
    again = run(ctx, case.command, "")
    assert again.returncode == 0 and "WARNING" not in again.stderr and again.stdout == result.stdout
