"""Reading the command line: a parser whose errors are one line, and argument types that keep their reason.

argparse prints a usage block before an error, and replaces the message of a ValueError raised by a
type function with "invalid <function> value"; the types here raise `ArgumentTypeError`, whose message
argparse keeps, and `LineParser.error` prints it as the one line every other error is.
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import NoReturn

from engine.timecode import parse_timecode

EXIT_BAD_INPUT = 2


class LineParser(argparse.ArgumentParser):
    """An ArgumentParser that reports a bad command line in one line on stderr, with exit status 2."""

    def error(self, message: str) -> NoReturn:
        print(f"scenescope: {message}. See `{self.prog} --help`.", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)


def seconds(text: str) -> float:
    """A time argument: seconds or [HH:]MM:SS(.s), as `parse_timecode` reads it."""
    try:
        return parse_timecode(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def finite_numbers(text: str, count: int, what: str) -> tuple[float, ...]:
    """`count` comma-separated finite numbers, e.g. "120,45" for X,Y."""
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != count or not all(math.isfinite(v) for v in values):
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
    return values
