"""Every action of the window, its label, menu and default keys, in one table (mpv and NLE conventions).

The window turns each row into a named QAction (`build_actions`), so every action is reachable from the
keyboard and from a menu, and Help ▸ Keyboard shortcuts lists exactly this table. Users rebind keys in
Settings; their bindings are stored as `keys/<name>` (a list of QKeySequence strings) and override the
defaults here.

Conventions (shared/docs/gui_patterns.md §7): Space and K play/pause, J/L shuttle (1x, 2x, 4x; J plays
backwards by stepping), `.`/`,` and Right/Left one frame, Shift+Right/Left one second, Up/Down one minute,
Home/End, `[` `]` speed /x1.1, `{` `}` halve/double, Backspace normal speed, M mute, F full screen,
Ctrl+G go to a time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence


@dataclass(frozen=True)
class Binding:
    name: str  # the action's object name, and its settings key
    label: str  # menu text
    menu: str  # "File", "Playback", "View", "Help", ...
    keys: tuple[str, ...]  # defaults, QKeySequence portable text


KEYMAP: tuple[Binding, ...] = (
    Binding("open", "&Open Video…", "File", ("Ctrl+O",)),
    Binding("save_session_as", "Save Session &As…", "File", ("Ctrl+Shift+S",)),
    Binding("relink", "&Relink Video…", "File", ()),
    Binding("export", "&Export…", "File", ("Ctrl+E",)),
    Binding("settings", "&Settings…", "File", ("Ctrl+,",)),
    Binding("quit", "&Quit", "File", ("Ctrl+Q",)),
    Binding("play_pause", "&Play / Pause", "Playback", ("Space", "K")),
    Binding("shuttle_forward", "Shuttle &Forward (1x, 2x, 4x)", "Playback", ("L",)),
    Binding("shuttle_reverse", "Shuttle &Reverse (1x, 2x, 4x)", "Playback", ("J",)),
    Binding("next_frame", "&Next Frame", "Playback", (".", "Right")),
    Binding("previous_frame", "P&revious Frame", "Playback", (",", "Left")),
    Binding("forward_second", "Forward 1 Second", "Playback", ("Shift+Right",)),
    Binding("back_second", "Back 1 Second", "Playback", ("Shift+Left",)),
    Binding("forward_minute", "Forward 1 Minute", "Playback", ("Up",)),
    Binding("back_minute", "Back 1 Minute", "Playback", ("Down",)),
    Binding("go_start", "Go to &Start", "Playback", ("Home",)),
    Binding("go_end", "Go to &End", "Playback", ("End",)),
    Binding("go_to_time", "&Go to Time…", "Playback", ("Ctrl+G",)),
    Binding("slower", "Slower (÷1.1)", "Playback", ("[",)),
    Binding("faster", "Faster (×1.1)", "Playback", ("]",)),
    Binding("half_speed", "Half Speed", "Playback", ("{",)),
    Binding("double_speed", "Double Speed", "Playback", ("}",)),
    Binding("normal_speed", "Normal Speed", "Playback", ("Backspace",)),
    Binding("mute", "&Mute", "Playback", ("M",)),
    Binding("full_screen", "&Full Screen", "View", ("F",)),
    Binding("zoom_in", "Zoom Timeline &In", "View", ("+", "=")),
    Binding("zoom_out", "Zoom Timeline &Out", "View", ("-",)),
    Binding("zoom_fit", "Show &Whole Video", "View", ("Ctrl+0",)),
    # Moments (app/moments.py): finding them, reviewing them, editing them with undo.
    Binding("find_moments", "&Find Moments…", "Moments", ("Ctrl+F",)),
    Binding("accept_moment", "&Accept Moment", "Moments", ("A",)),
    Binding("reject_moment", "&Reject Moment", "Moments", ("R",)),
    Binding("next_moment", "&Next Moment", "Moments", ("Ctrl+Right",)),
    Binding("previous_moment", "&Previous Moment", "Moments", ("Ctrl+Left",)),
    Binding("loop_moment", "Play Moment in a &Loop", "Moments", ("Ctrl+Shift+Space",)),
    Binding("mark_in", "Mark &In (new moment)", "Moments", ("I",)),
    Binding("mark_out", "Mark &Out (new moment)", "Moments", ("O",)),
    Binding("split_moment", "&Split Moment at Playhead", "Moments", ("S",)),
    Binding("merge_moments", "&Merge with Next Moment", "Moments", ("Ctrl+J",)),
    Binding("rename_moment", "Re&name Moment…", "Moments", ()),
    Binding("refine_moment", "Re&fine Moment (closer look)", "Moments", ()),
    Binding("delete_moment", "&Delete Moment", "Moments", ("Delete",)),
    Binding("undo", "&Undo", "Moments", ("Ctrl+Z",)),
    Binding("redo", "Re&do", "Moments", ("Ctrl+Shift+Z",)),
    # Chat (the side panel's Chat page)
    Binding("focus_question", "&Ask a Question", "Ask", ("Ctrl+L",)),
    Binding("new_conversation", "&New Conversation", "Ask", ("Ctrl+Shift+N",)),
    Binding("cancel_answer", "&Cancel the Answer", "Ask", ("Esc",)),
    # Tracking (issue 13): clicks on the picture in tracking mode segment the selected object.
    Binding("tracking_mode", "&Tracking Mode", "Tracking", ("T",)),
    Binding("new_object", "&New Object", "Tracking", ("N",)),
    *(Binding(f"pick_object_{n}", f"Pick Object {n}", "Tracking", (str(n),)) for n in range(1, 10)),
    Binding("propagate", "&Propagate Over the Moment", "Tracking", ("Ctrl+T",)),
    Binding("propagate_whole", "Propagate Over the &Whole Video", "Tracking", ()),
    Binding("track_in_moment", "Track in the Selected &Moment", "Tracking", ("Ctrl+Shift+T",)),
    Binding("cancel_tracking", "&Cancel Tracking", "Tracking", ()),
    Binding("hide_masks", "&Hide All Masks", "Tracking", ("H",)),
    Binding("mask_contours", "Mask C&ontours", "Tracking", ("C",)),
    Binding("mask_boxes", "Mask &Boxes", "Tracking", ("B",)),
    Binding("mask_fainter", "Masks Fainter", "Tracking", ("Ctrl+[",)),
    Binding("mask_stronger", "Masks Stronger", "Tracking", ("Ctrl+]",)),
    Binding("shortcuts", "&Keyboard Shortcuts", "Help", ("F1",)),
    Binding("about", "&About Scenescope", "Help", ()),
)
BY_NAME: Mapping[str, Binding] = {b.name: b for b in KEYMAP}
MENUS = ("File", "Playback", "View", "Ask", "Moments", "Tracking", "Help")


def keys_for(binding: Binding, overrides: Mapping[str, list[str]]) -> list[QKeySequence]:
    """The binding's keys: the user's (from settings) where given, else the defaults."""
    texts = overrides.get(binding.name, list(binding.keys))
    return [QKeySequence(text) for text in texts if text]


def build_actions(
    parent: QObject, handlers: Mapping[str, Callable[[], None]], overrides: Mapping[str, list[str]]
) -> dict[str, QAction]:
    """A QAction per binding, triggering `handlers[name]`; every binding must have a handler."""
    missing = sorted(set(BY_NAME) - set(handlers))
    if missing:
        raise KeyError(f"actions without a handler: {', '.join(missing)}")
    actions = {}
    for binding in KEYMAP:
        action = QAction(binding.label, parent)
        action.setObjectName(binding.name)
        action.setShortcuts(keys_for(binding, overrides))
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.triggered.connect(handlers[binding.name])
        actions[binding.name] = action
    return actions


def apply_overrides(actions: Mapping[str, QAction], overrides: Mapping[str, list[str]]) -> None:
    """Rebind after the user changed keys in Settings."""
    for name, action in actions.items():
        action.setShortcuts(keys_for(BY_NAME[name], overrides))


def shortcut_rows(actions: Mapping[str, QAction]) -> list[tuple[str, str, str]]:
    """(menu, action, keys) for Help ▸ Keyboard shortcuts, in table order, keys as the user sees them."""
    rows = []
    for binding in KEYMAP:
        shortcuts = actions[binding.name].shortcuts()
        keys = ", ".join(s.toString(QKeySequence.SequenceFormat.NativeText) for s in shortcuts)
        rows.append((binding.menu, binding.label.replace("&", ""), keys or "—"))
    return rows
