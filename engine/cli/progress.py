"""One progress line on stderr for every command's long jobs, drawn only when stderr is a terminal."""

from __future__ import annotations

import sys

from engine.jobs import Job, PartialSink, Progress


def terminal_job(*, quiet: bool = False, on_partial: PartialSink | None = None) -> Job:
    """A job whose progress is one line on stderr, rewritten in place (nothing when piped or `quiet`)."""
    show = not quiet and sys.stderr.isatty()
    return Job(on_progress=_draw if show else None, on_partial=on_partial)


def end_progress_line() -> None:
    """Move past the progress line, if one was drawn."""
    if sys.stderr.isatty():
        print("\r\033[K", end="", file=sys.stderr)


def _draw(progress: Progress) -> None:
    fraction = progress.fraction
    amount = f"{fraction:6.1%}" if fraction is not None else f"{progress.done:g}"
    text = f"{progress.stage} {progress.message} {amount}".replace("  ", " ")
    print(f"\r\033[K{text}", end="", file=sys.stderr, flush=True)
