"""Hostile input over every command, tried as a careful attacker would (issue 15, classes 2, 5, 6, 8, 9).

Each case is a real `scenescope` subprocess, run in a prepared folder (`world`: a video, named pipes, a
socket, devices, spans files with huge, non-finite or deeply nested numbers, model folders, a folder of
earlier exports). Each must end with exit status 2 and exactly one line on stderr that names the
problem and says what to do, no traceback, within a timeout (a case that hangs on a pipe fails), and
leave nothing behind: no output folder of its own, no `.tmp-*` file, and every file that was in the
world before unchanged, byte for byte. The cases run in parallel threads; those refused before a model
would load load none. Cache identity, damaged caches and file-system refusals are tests/test_hostile_cache.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.fixtures import internvideo_fixture

TIMEOUT_S = 240  # generous for a loaded 2-core machine; the refusals themselves take about a second
UNSET = None  # an env value that removes the variable
ADVICE = re.compile(
    r"\b(check|choose|give|use|ask|shorten|run|see|install|write|click|draw|download|add|describe|say)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Case:
    name: str
    args: tuple[str, ...]  # `scenescope` arguments; {w} is the world folder, {out} this case's own output
    says: str  # what the one line must contain
    env: dict[str, str | None] = field(default_factory=dict)


def case(name: str, command: str, says: str, **env: str | None) -> Case:
    return Case(name, tuple(command.split("|")), says, env)


COMMANDS = ("probe", "sample", "ask", "ground", "track", "export")
NO_DISPLAY = {"DISPLAY": UNSET, "WAYLAND_DISPLAY": UNSET, "QT_QPA_PLATFORM": UNSET}
CLIP = "{w}/clip.mp4"
TRACK = f"track|{CLIP}|--sam-model|{{sam}}|--device|cpu|--out|{{out}}"
EXPORT = f"export|{CLIP}|--out|{{out}}"
ASK = f"ask|{CLIP}|What happens?"

CASES = [
    # ----- special files, and paths that are not what they should be (class 2)
    case("probe-fifo", "probe|{w}/pipe.mp4", "is a named pipe (FIFO), not a video file"),
    case("probe-link-to-fifo", "probe|{w}/link-to-pipe.mp4", "is a named pipe (FIFO)"),
    case("probe-socket", "probe|{w}/socket.mp4", "is a socket, not a video file"),
    case("probe-dev-null", "probe|/dev/null", "is a character device"),
    case("probe-dev-zero", "probe|/dev/zero", "is a character device"),
    case("probe-folder", "probe|{w}/folder.mp4", "is a folder, not a video file"),
    case("probe-missing", "probe|{w}/missing.mp4", "No such video file"),
    case("probe-broken-link", "probe|{w}/broken-link.mp4", "No such video file"),
    case("probe-name-too-long", "probe|{w}/" + "x" * 300 + ".mp4", "File name too long"),
    case("sample-fifo", "sample|{w}/pipe.mp4|--frames|4", "named pipe (FIFO)"),
    case("ask-fifo", "ask|{w}/pipe.mp4|What happens?", "named pipe (FIFO)"),
    case("ground-fifo", "ground|{w}/pipe.mp4|a red car", "named pipe (FIFO)"),
    case("track-fifo", "track|{w}/pipe.mp4|--at|0|--point|5,5|--out|{out}", "named pipe (FIFO)"),
    case("export-video-fifo", "export|{w}/pipe.mp4|--spans|{w}/ok.json|--out|{out}", "named pipe (FIFO)"),
    case("export-spans-fifo", EXPORT + "|--spans|{w}/pipe.json", "is a named pipe (FIFO), not a spans file"),
    case("export-spans-device", EXPORT + "|--spans|/dev/zero", "is a character device, not a spans file"),
    case("export-spans-folder", EXPORT + "|--spans|{w}/folder.mp4", "is a folder, not a spans file"),
    case("export-spans-missing", EXPORT + "|--spans|{w}/missing.json", "No such spans file"),
    case(
        "export-tracks-fifo", EXPORT + "|--spans|{w}/ok.json|--burn-masks|{w}/pipe.json", "not a tracks file"
    ),
    case("ask-model-fifo", ASK + "|--model|{w}/pipe.json", "is a named pipe (FIFO), not a model folder"),
    case("ask-model-is-a-file", ASK + "|--model|{w}/notes.txt", "is a file, not a model folder"),
    case("ask-model-config-fifo", ASK + "|--model|{w}/pipe-model|--device|cpu", "config.json"),
    case(
        "track-model-is-a-file",
        TRACK.replace("{sam}", "{w}/notes.txt") + "|--at|0|--point|5,5",
        "not a model folder",
    ),
    # ----- numbers out of range, wherever they enter (class 5)
    case("sample-fps-inf", f"sample|{CLIP}|--fps|inf", "--fps must be positive and at most 1000, not inf"),
    case("sample-fps-nan", f"sample|{CLIP}|--fps|nan", "--fps must be positive and at most 1000, not nan"),
    case("sample-fps-huge", f"sample|{CLIP}|--fps|1e308", "at most 1000"),
    case("sample-fps-negative", f"sample|{CLIP}|--fps=-1", "--fps must be positive"),
    case("sample-fps-zero", f"sample|{CLIP}|--fps|0", "--fps must be positive"),
    case("sample-frames-zero", f"sample|{CLIP}|--frames|0", "--frames must be at least 1"),
    case("sample-frames-negative", f"sample|{CLIP}|--frames=-5", "--frames must be at least 1"),
    case("sample-frames-float", f"sample|{CLIP}|--frames|1e3", "invalid int value"),
    case("sample-frames-5000-digits", f"sample|{CLIP}|--frames|" + "9" * 5000, "invalid int value"),
    case("sample-budget-small", f"sample|{CLIP}|--auto|--budget|2", "--budget must be at least 4"),
    case("sample-end-400-digits", f"sample|{CLIP}|--frames|4|--end|" + "9" * 400, "past the limit"),
    case("spans-start-1e308", EXPORT + "|--spans|{w}/huge.json", "start_s of 1e+308 s is past the limit"),
    case("spans-nan", EXPORT + "|--spans|{w}/nan.json", "NaN is not a number"),
    case("spans-infinity", EXPORT + "|--spans|{w}/infinity.json", "-Infinity is not a number"),
    case("spans-1e999", EXPORT + "|--spans|{w}/overflow.json", "1e999 is too large a number"),
    case("spans-negative", EXPORT + "|--spans|{w}/negative.json", "start_s cannot be negative"),
    case("spans-deep-lists", EXPORT + "|--spans|{w}/deep-lists.json", "nests lists or objects too deeply"),
    case(
        "spans-deep-objects", EXPORT + "|--spans|{w}/deep-objects.json", "nests lists or objects too deeply"
    ),
    case("spans-not-utf8", EXPORT + "|--spans|{w}/latin1.json", "not UTF-8 text"),
    case("spans-bad-clock", EXPORT + "|--spans|{w}/bad-clock.json", "seconds must be below 60"),
    case("spans-after-the-video", EXPORT + "|--spans|{w}/late.json", "starts after the end of clip.mp4"),
    case("spans-none", EXPORT + "|--spans|{w}/empty.json", "There are no spans to export"),
    case("tracks-deep", EXPORT + "|--spans|{w}/ok.json|--burn-masks|{w}/deep-lists.json", "too deeply"),
    case(
        "tracks-are-spans", EXPORT + "|--spans|{w}/ok.json|--burn-masks|{w}/ok.json", "is not a tracks file"
    ),
    case(
        "export-crf-negative",
        EXPORT + "|--spans|{w}/ok.json|--crf=-5",
        "--crf must be a whole number from 0 to 51",
    ),
    case(
        "export-crf-999",
        EXPORT + "|--spans|{w}/ok.json|--crf|999",
        "--crf must be a whole number from 0 to 51",
    ),
    case("export-crf-float", EXPORT + "|--spans|{w}/ok.json|--crf|18.5", "invalid int value"),
    case("export-pad-negative", EXPORT + "|--spans|{w}/ok.json|--pad=-1", "a time is never negative"),
    case("export-pad-inf", EXPORT + "|--spans|{w}/ok.json|--pad|inf", "not a time: 'inf'"),
    case("export-preset", EXPORT + "|--spans|{w}/ok.json|--preset|warp", "invalid choice"),
    case("export-existing", "export|" + CLIP + "|--spans|{w}/ok.json|--out|{w}/earlier", "already exists in"),
    case("track-point-nan", TRACK + "|--at|0|--point|nan,5", "'nan,5' is not X,Y"),
    case("track-point-inf", TRACK + "|--at|0|--point|5,inf", "'5,inf' is not X,Y"),
    case("track-point-one-number", TRACK + "|--at|0|--point|5", "'5' is not X,Y"),
    case("track-box-three-numbers", TRACK + "|--at|0|--box|1,2,3", "is not X0,Y0,X1,Y1"),
    case("track-range-backwards", TRACK + "|--at|0|--point|5,5|--range|1-0.5", "ends before it starts"),
    case("track-range-garbage", TRACK + "|--at|0|--point|5,5|--range|soon", "is not a range"),
    case("track-point-outside", TRACK + "|--at|0.5|--point|9999,5", "lies outside the 160x120 picture"),
    # ----- unbounded requests (class 6)
    case("ask-question-100k", ASK.replace("What happens?", "x" * 100_000), "the limit is 4,000"),
    case("ask-question-empty", f"ask|{CLIP}|   ", "The question is empty"),
    case(
        "ask-max-new-tokens-huge",
        ASK + "|--max-new-tokens|1000000",
        "--max-new-tokens must be from 1 to 8192",
    ),
    case("ask-max-new-tokens-zero", ASK + "|--max-new-tokens|0", "--max-new-tokens must be from 1 to 8192"),
    case(
        "ask-frames-over-context", ASK + "|--model|{small}|--device|cpu|--frames|16", "holds at most 8 frames"
    ),
    case("ask-default-over-context", ASK + "|--model|{small}|--device|cpu", "32 frames do not fit"),
    case("ground-query-long", f"ground|{CLIP}|" + "a red car " * 40, "the limit is 300"),
    case("ground-query-empty", f"ground|{CLIP}| ? ", "query is empty"),
    # ----- messages that lost their reason (class 9)
    case(
        "sample-start-1:99",
        f"sample|{CLIP}|--frames|4|--start|1:99",
        "not a time: '1:99' (seconds must be below 60)",
    ),
    case("sample-start-abc", f"sample|{CLIP}|--frames|4|--start|abc", "not a time: 'abc' (write seconds"),
    case("sample-start-nan", f"sample|{CLIP}|--frames|4|--start|nan", "not a time: 'nan'"),
    case(
        "sample-start-negative",
        f"sample|{CLIP}|--frames|4|--start=-5",
        "not a time: '-5' (a time is never negative)",
    ),
    case("sample-start-1:60:00", f"sample|{CLIP}|--frames|4|--start|1:60:00", "minutes must be below 60"),
    case("sample-start-past-video", f"sample|{CLIP}|--frames|4|--start|99", "is empty"),
    case("sample-empty-range", f"sample|{CLIP}|--frames|4|--start|0.5|--end|0.5", "is empty"),
    case("sample-two-modes", f"sample|{CLIP}|--frames|4|--fps|2", "not allowed with argument"),
    case("probe-unknown-option", f"probe|{CLIP}|--bogus", "unrecognized arguments: --bogus"),
    case("ask-start-1:99", ASK + "|--start|1:99", "seconds must be below 60"),
    case(
        "ask-model-relative-missing",
        ASK + "|--model|models/nosuch",
        "model folder models/nosuch does not exist",
    ),
    case("ask-model-dot-missing", ASK + "|--model|./nosuch", "model folder ./nosuch does not exist"),
    case("ask-model-deep-missing", ASK + "|--model|a/b/c", "model folder a/b/c does not exist"),
    case("ask-precision", ASK + "|--precision|int3", "invalid choice: 'int3'"),
    case(
        "ground-pad-without-export",
        f"ground|{CLIP}|a red car|--pad|1",
        "--pad and --overwrite apply to clips",
    ),
    case(
        "ground-model-relative-missing",
        f"ground|{CLIP}|a red car|--model|models/nosuch",
        "model folder models/nosuch does not exist",
    ),
    case(
        "track-at-past-the-video",
        TRACK + "|--at|99|--point|5,5",
        "There is no frame at 99 s: clip.mp4 lasts 1.100 s",
    ),
    case("track-at-1:99", TRACK + "|--at|1:99|--point|5,5", "seconds must be below 60"),
    case("track-no-click", TRACK + "|--at|0", "Say where the object is"),
    case(
        "track-model-relative-missing",
        TRACK.replace("{sam}", "models/nosuch") + "|--at|0|--point|5,5",
        "model folder models/nosuch does not exist",
    ),
    case("command-typo", f"prob|{CLIP}", "neither a file nor a command"),
    # ----- the desktop app, `scenescope VIDEO` (classes 2, 8)
    case("app-no-display", CLIP, "There is no display to show the window on", **NO_DISPLAY),
    case(
        "app-dead-x-display", CLIP, "Cannot open the X display ':4242'", **NO_DISPLAY | {"DISPLAY": ":4242"}
    ),
    case(
        "app-xcb-library-missing",
        CLIP,
        "xcb platform plugin cannot load (libxcb-cursoq.so.0",
        **NO_DISPLAY | {"DISPLAY": ":4242", "QT_QPA_PLATFORM_PLUGIN_PATH": "{w}/qt/plugins/platforms"},
    ),
    case("app-fifo", "{w}/pipe.mp4", "is a named pipe (FIFO), not a video file", QT_QPA_PLATFORM="offscreen"),
    case("app-folder", "{w}/folder.mp4", "is a folder, not a video file", QT_QPA_PLATFORM="offscreen"),
    case(
        "app-screenshot-no-path", f"{CLIP}|--screenshot", "expected one argument", QT_QPA_PLATFORM="offscreen"
    ),
]


@dataclass(frozen=True)
class Outcome:
    returncode: int | None  # None: still running at the timeout
    stdout: str
    stderr: str
    seconds: float
    out_left: bool  # the case's own output path exists afterwards


def _snapshot(world: Path) -> dict[str, str]:
    """Every path under `world` with its kind, and a SHA-256 for regular files (pipes are never opened)."""
    found = {}
    for path in sorted(world.rglob("*")):
        mode = path.lstat().st_mode
        if stat.S_ISREG(mode):
            found[str(path.relative_to(world))] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            found[str(path.relative_to(world))] = stat.filemode(mode)
    return found


def _write_world(world: Path, clip: Path) -> None:
    shutil.copy(clip, world / "clip.mp4")
    os.mkfifo(world / "pipe.mp4")
    os.mkfifo(world / "pipe.json")
    (world / "link-to-pipe.mp4").symlink_to(world / "pipe.mp4")
    (world / "broken-link.mp4").symlink_to(world / "nowhere.mp4")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(world / "socket.mp4"))
    (world / "folder.mp4").mkdir()
    (world / "models").mkdir()  # so that models/nosuch "exists partially"
    (world / "notes.txt").write_text("not a model\n")
    (world / "pipe-model").mkdir()
    os.mkfifo(world / "pipe-model" / "config.json")
    spans = {
        "ok": '[{"start_s": 0.2, "end_s": 0.6}]',
        "huge": '[{"start_s": 1e308, "end_s": 1.7e308}]',
        "nan": '[{"start_s": NaN, "end_s": 1}]',
        "infinity": '[{"start_s": 0, "end_s": -Infinity}]',
        "overflow": '[{"start_s": 0, "end_s": 1e999}]',
        "negative": '[{"start_s": -5, "end_s": 1}]',
        "deep-lists": "[" * 100_000 + "]" * 100_000,
        "deep-objects": '{"a": ' * 100_000 + "1" + "}" * 100_000,
        "bad-clock": '[{"start_s": "0:75", "end_s": "1:00"}]',
        "late": '[{"start_s": 50, "end_s": 60}]',
        "empty": "[]",
    }
    for name, text in spans.items():
        (world / f"{name}.json").write_text(text, encoding="utf-8")
    (world / "latin1.json").write_bytes('[{"start_s": 0, "end_s": 1, "label": "café"}]'.encode("latin-1"))
    (world / "earlier").mkdir()
    (world / "earlier" / "clip.spans.srt").write_text("an earlier export, to keep\n")
    _write_small_context_model(world / "small-context")
    _write_qt_plugin_missing_a_library(world / "qt")


def _write_small_context_model(folder: Path) -> None:
    """The tiny model with a 512-token context: (512 - 256) // (16 + 7) = 11 -> 8 frames fit."""
    folder.mkdir()
    for file in (internvideo_fixture() / "checkpoint").iterdir():
        if file.suffix != ".py":
            shutil.copy(file, folder / file.name)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    config["llm_config"]["max_position_embeddings"] = 512
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")


def _write_qt_plugin_missing_a_library(folder: Path) -> None:
    """Qt's own xcb plugin, its link to libxcb-cursor renamed to a library no system has (same length)."""
    from PySide6.QtCore import QLibraryInfo

    plugins = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath))
    data = (plugins / "platforms" / "libqxcb.so").read_bytes()
    needed = b"libxcb-cursor.so.0\x00"
    assert data.count(needed) == 1
    (folder / "plugins" / "platforms").mkdir(parents=True)
    (folder / "lib").symlink_to(plugins.parent / "lib")  # the plugin finds Qt by $ORIGIN/../../lib
    (folder / "plugins" / "platforms" / "libqxcb.so").write_bytes(
        data.replace(needed, b"libxcb-cursoq.so.0\x00")
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory, media) -> Path:
    world = tmp_path_factory.mktemp("hostile")
    clip = media("hostile.mp4", frames=33, fps=30.0, width=160, height=120, gop=8, audio=True)  # 1.1 s
    _write_world(world, clip)
    return world


def _run(case: Case, world: Path, env: dict[str, str], models: dict[str, str]) -> Outcome:
    out = world / "out" / case.name
    fill = {"w": str(world), "out": str(out), **models}
    args = [a.format(**fill) if "{" in a else a for a in case.args]
    run_env = {**env, "OMP_NUM_THREADS": "1"}
    for key, value in case.env.items():
        if value is None:
            run_env.pop(key, None)
        else:
            run_env[key] = value.format(**fill)
    start = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "engine", *args],
            cwd=world,
            env=run_env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
        )
        code, stdout, stderr = done.returncode, done.stdout, done.stderr
    except subprocess.TimeoutExpired as e:
        code, stdout, stderr = None, str(e.stdout or ""), str(e.stderr or "")
    return Outcome(code, stdout, stderr, time.monotonic() - start, out.exists())


@pytest.fixture(scope="module")
def outcomes(world, env, sam2_folder) -> tuple[dict[str, Outcome], dict[str, str], dict[str, str]]:
    """Every case run once, in parallel; with the world's snapshot from before and after."""
    models = {"sam": str(sam2_folder), "small": str(world / "small-context")}
    before = _snapshot(world)
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        futures = {c.name: pool.submit(_run, c, world, env, models) for c in CASES}
        results = {name: f.result() for name, f in futures.items()}
    return results, before, _snapshot(world)


def test_there_are_enough_cases_and_every_command_has_some():
    assert len(CASES) >= 60 and len({c.name for c in CASES}) == len(CASES)
    commands = {c.args[0] if c.args[0] in COMMANDS else "app" for c in CASES}
    assert commands >= {*COMMANDS, "app"}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_hostile_input_is_refused_in_one_line(case: Case, outcomes) -> None:
    outcome = outcomes[0][case.name]
    assert outcome.returncode is not None, f"still running after {TIMEOUT_S} s: {outcome.stderr[-500:]}"
    assert "Traceback" not in outcome.stderr
    assert outcome.returncode == 2, outcome.stderr[-2000:]
    lines = outcome.stderr.strip().splitlines()
    assert len(lines) == 1, outcome.stderr[-2000:]
    (line,) = lines
    assert line.startswith("scenescope: ") and case.says in line, line
    assert ADVICE.search(line), f"says no fix: {line}"
    assert outcome.stdout == ""
    assert not outcome.out_left, "the refused command created its output"


def test_nothing_was_half_written_and_nothing_changed(outcomes, world) -> None:
    _, before, after = outcomes
    assert not [p for p in after if Path(p).name.startswith(".tmp-")]
    assert after == before  # no file added, removed or changed by any case, the earlier export included
    assert before["earlier/clip.spans.srt"] == hashlib.sha256(b"an earlier export, to keep\n").hexdigest()
