"""Start the desktop app: parse its arguments, check the video and the display, build the main window, run
the event loop. Anything that stops it before the window opens is one line on stderr and exit status 2,
as on the command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from app.display import display_problem
from app.main_window import MainWindow
from engine.cli.arguments import EXIT_BAD_INPUT, LineParser
from engine.errors import ScenescopeError
from engine.user_files import regular_file


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = LineParser(prog="scenescope", description="Scenescope desktop app")
    parser.add_argument("video", nargs="?", type=Path, help="video file to open")
    parser.add_argument(
        "--screenshot",
        type=Path,
        metavar="PNG",
        help="render the window once the video is shown, save it as PNG and quit (docs, smoke tests)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        if args.video is not None:
            regular_file(args.video, "video file")
    except ScenescopeError as e:
        return _refuse(str(e))
    problem = display_problem()
    if problem is not None and QApplication.instance() is None:
        return _refuse(problem)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Scenescope")
    window = MainWindow()
    window.show()
    if args.video is not None:
        window.open_video(args.video)
    if args.screenshot is not None:
        QTimer.singleShot(300, lambda: _save_screenshot(window, args.screenshot, app))
    return app.exec()


def _save_screenshot(window: MainWindow, path: Path, app: QApplication) -> None:
    ok = window.grab().save(str(path))
    app.exit(0 if ok else 1)


def _refuse(message: str) -> int:
    print(f"scenescope: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT
