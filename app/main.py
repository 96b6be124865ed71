"""Start the desktop app: parse its arguments, check the video and the display, build the main window, run
the event loop. Anything that stops it before the window opens is one line on stderr and exit status 2,
as on the command line.

    scenescope [VIDEO] [--model ID|DIR] [--sam-model ID|DIR] [--device D] [--precision P]
               [--screenshot FILE.png [--at TIME]]

`--screenshot` opens the window, waits until the frame at TIME (default 0) is painted and the thumbnails
(timeline, answers of a restored chat) are made, saves the whole window as a PNG and exits: for docs, and
a smoke test of the real window.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QElapsedTimer, QTimer
from PySide6.QtWidgets import QApplication

from app.display import display_problem
from engine.cli.arguments import EXIT_BAD_INPUT, LineParser, seconds
from engine.errors import ScenescopeError
from engine.user_files import regular_file

SCREENSHOT_TIMEOUT_MS = 60_000
PICTURES_WAIT_MS = 10_000  # for thumbnails, once the frame is shown


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = LineParser(prog="scenescope", description="Scenescope desktop app")
    parser.add_argument("video", nargs="?", type=Path, help="video file to open")
    parser.add_argument("--model", metavar="ID|DIR", help="InternVideo2.5 model folder or Hugging Face id")
    parser.add_argument("--sam-model", metavar="ID|DIR", help="SAM 2.1 model folder or Hugging Face id")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), help="where the models run")
    parser.add_argument(
        "--precision", choices=("auto", "bf16", "fp16", "fp32", "int8", "int4"), help="InternVideo2.5 weights"
    )
    parser.add_argument(
        "--screenshot",
        type=Path,
        metavar="PNG",
        help="save the window as PNG once the frame at --at is painted, then quit (docs, smoke tests)",
    )
    parser.add_argument(
        "--at", type=seconds, default=0.0, metavar="TIME", help="with --screenshot (default 0)"
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
    from app.main_window import MainWindow  # QtMultimedia talks on stderr as it loads: after the checks
    from app.theme import apply_dark_theme

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Scenescope")
    app.setOrganizationName("Scenescope")
    apply_dark_theme(app)
    window = MainWindow(args)
    window.show()
    if args.screenshot is not None:
        if args.video is None:
            QTimer.singleShot(500, lambda: _save(window, args.screenshot, app))
        else:
            _screenshot_when_shown(window, args.screenshot, args.at, app)
    if args.video is not None:
        window.open_video(args.video)
    status = app.exec()
    window.close()  # saves the session and stops the engine also when a screenshot ended the loop
    return status


def _screenshot_when_shown(window, path: Path, at_s: float, app: QApplication) -> None:
    """Seek to `at_s` once the video is open; save when the frame of that time and the thumbnails are on
    screen."""
    target: list[int] = []
    # Owned by the window and stopped once the screenshot is settled either way: a stray `app.exit`
    # would end every event loop the application runs later, not only this one.
    waiting = QTimer(window, singleShot=True, interval=SCREENSHOT_TIMEOUT_MS)
    waiting.timeout.connect(lambda: failed("the frame was not shown within 60 s"))

    settled: list[bool] = []

    def settle() -> bool:
        """True only the first time: the screenshot is saved or refused once."""
        if settled:
            return False
        settled.append(True)
        waiting.stop()
        return True

    def opened(info) -> None:
        target.append(info.frames.index_at(min(at_s, info.duration_s)))
        window.player.seek(at_s)

    def shown(index: int, _time_s: float) -> None:
        if target and index == target[0] and settle():
            waited.start()
            pictures.start()

    # The frame is on screen; the timeline's thumbnails and the answers' frames (a session's chat) are
    # made after it. Saved once none is pending, or with what there is after `PICTURES_WAIT_MS`.
    pictures, waited = QTimer(window, interval=50), QElapsedTimer()

    def save_when_drawn() -> None:
        pending = window.timeline.thumbnails_pending() or window.chat_panel.pictures_pending()
        if not pending or waited.hasExpired(PICTURES_WAIT_MS):
            pictures.stop()
            _save(window, path, app)

    pictures.timeout.connect(save_when_drawn)

    def failed(message: str) -> None:
        if settle():
            print(f"scenescope: cannot take the screenshot: {message}", file=sys.stderr)
            app.exit(2)

    window.video_opened.connect(opened)
    window.player.position_changed.connect(shown)
    window.video_failed.connect(failed)
    waiting.start()


def _save(window, path: Path, app: QApplication) -> None:
    ok = window.grab().save(str(path))
    if not ok:
        print(f"scenescope: cannot write {path}", file=sys.stderr)
    app.exit(0 if ok else 1)


def _refuse(message: str) -> int:
    print(f"scenescope: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT
