"""Can a window be shown here? Asked before Qt is, because Qt's answer is to abort the process.

Without a display, or with an xcb platform plugin whose system libraries are missing, creating the
QApplication prints five lines of Qt diagnostics and aborts (exit 134, a core file). On Linux we look
first, the way Qt will: which platform it would pick, whether that plugin loads, whether the X server
answers, and say in one sentence what is missing.
"""

from __future__ import annotations

import ctypes
import os
import sys
from pathlib import Path

from PySide6.QtCore import QLibraryInfo

CLI_HINT = "or use the command line (scenescope --help)"


def display_problem() -> str | None:
    """Why no window can be shown here, with what to do; None when Qt should manage (or it is not ours to
    judge: another OS, or a platform chosen with QT_QPA_PLATFORM, such as offscreen or wayland)."""
    if not sys.platform.startswith("linux"):
        return None
    chosen = os.environ.get("QT_QPA_PLATFORM", "").split(";")[0].split(":")[0]
    if chosen not in ("", "xcb") or (not chosen and os.environ.get("WAYLAND_DISPLAY")):
        return None
    display = os.environ.get("DISPLAY")
    if not display:
        return (
            "There is no display to show the window on (DISPLAY and WAYLAND_DISPLAY are not set). Run it "
            f"in a desktop session or over `ssh -X`, {CLI_HINT}."
        )
    return _xcb_problem(display)


def _xcb_problem(display: str) -> str | None:
    folder = os.environ.get("QT_QPA_PLATFORM_PLUGIN_PATH") or str(
        Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath)) / "platforms"
    )
    plugin = Path(folder) / "libqxcb.so"
    if not plugin.is_file():
        return None  # not where we look; Qt has its own ways to find it
    try:
        ctypes.CDLL(str(plugin))  # loads its libraries as Qt would, without starting it
    except OSError as e:
        return (
            f"Cannot show the window: Qt's xcb platform plugin cannot load ({e}). Install the missing "
            "library (installers/install.sh does, as root or through sudo; on Debian or Ubuntu e.g. "
            f"`sudo apt install libxcb-cursor0`), {CLI_HINT}."
        )
    xcb = ctypes.CDLL("libxcb.so.1")  # the plugin links it, so it is loaded now
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
    connection = xcb.xcb_connect(display.encode(), None)
    failed = xcb.xcb_connection_has_error(connection)
    xcb.xcb_disconnect(connection)
    if failed:
        return (
            f"Cannot open the X display {display!r} (DISPLAY): no X server accepts a connection there. "
            f"Check DISPLAY and that the X server runs and lets you in (xauth), {CLI_HINT}."
        )
    return None
