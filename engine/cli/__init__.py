"""The `scenescope` command line: one module per command, all thin layers over the engine API.

`scenescope` alone, or with a video file, starts the desktop app; `scenescope COMMAND ...` runs a
command headless. Errors the user can fix are one line on stderr and exit status 2; a traceback
only with `--debug`.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from engine.cli import (
    ask_cmd,
    doctor_cmd,
    export_cmd,
    ground_cmd,
    models_cmd,
    probe_cmd,
    sample_cmd,
    track_cmd,
)
from engine.cli.arguments import EXIT_BAD_INPUT, LineParser
from engine.errors import ScenescopeError

COMMANDS = {
    module.NAME: module
    for module in (probe_cmd, sample_cmd, ask_cmd, ground_cmd, track_cmd, export_cmd, models_cmd, doctor_cmd)
}

EXIT_INTERNAL = 1
EXIT_INTERRUPTED = 130


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    positionals = [a for a in argv if not a.startswith("-")]
    if not positionals or positionals[0] not in COMMANDS:
        return _launch_gui(argv, positionals)
    parser = _build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return COMMANDS[args.command].run(args) or 0
    except ScenescopeError as e:
        if args.debug:
            raise
        print(f"scenescope: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("scenescope: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as e:
        if args.debug:
            raise
        print(
            f"scenescope: internal error ({type(e).__name__}: {e}). Run again with --debug for details.",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def _build_parser() -> argparse.ArgumentParser:
    parser = LineParser(
        prog="scenescope",
        description="Ask questions about long videos, find moments, track objects, export clips.",
        epilog="Run `scenescope` alone, or `scenescope VIDEO`, to open the desktop app.",
    )
    debug = "show full tracebacks and debug logs"
    parser.add_argument("--debug", action="store_true", help=debug)
    # Also after the command; no default there, or the command's False would undo a --debug before it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=debug)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS.values():
        module.add_parser(sub, parents=[common])
    return parser


def _launch_gui(argv: list[str], positionals: list[str]) -> int:
    """Start the desktop app (its own program, `python -m app`) with the remaining arguments."""
    if argv and argv[0] in ("-h", "--help"):
        _build_parser().print_help()
        return 0
    if positionals and not Path(positionals[0]).exists():
        known = ", ".join(COMMANDS)
        print(
            f"scenescope: '{positionals[0]}' is neither a file nor a command (commands: {known}). "
            "See `scenescope --help`.",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    command = [sys.executable, "-m", "app", *argv]
    if os.name == "posix":
        os.execv(sys.executable, command)
    return subprocess.call(command)
