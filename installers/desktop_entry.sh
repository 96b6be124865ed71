#!/usr/bin/env bash
# Register (or unregister) Scenescope in the desktop's menu for this user: a .desktop entry that opens
# videos from the file manager, and the icon. XDG_DATA_HOME is honoured (default ~/.local/share).
#
#   installers/desktop_entry.sh install [PROGRAM]   # PROGRAM: what the entry runs (default .venv/bin/scenescope)
#   installers/desktop_entry.sh remove
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
data="${XDG_DATA_HOME:-$HOME/.local/share}"
entry="$data/applications/scenescope.desktop"
icon="$data/icons/hicolor/scalable/apps/scenescope.svg"

refresh() {  # menus and "Open with" lists read these caches; both tools are optional
    command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$data/applications" || true
    command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t "$data/icons/hicolor" || true
}

case "${1:-}" in
    install)
        program="${2:-$root/.venv/bin/scenescope}"
        mkdir -p "$(dirname "$entry")" "$(dirname "$icon")"
        cp "$root/assets/scenescope.svg" "$icon"
        # Exec takes a quoted absolute path; %f is the one video the file manager hands over.
        sed "s|@PROGRAM@|\"$program\"|" "$root/assets/scenescope.desktop.in" > "$entry.tmp"
        mv "$entry.tmp" "$entry"
        refresh
        echo "$entry"
        ;;
    remove)
        rm -f "$entry" "$icon"
        refresh
        ;;
    *)
        echo "desktop_entry.sh: say install [PROGRAM] or remove" >&2
        exit 2
        ;;
esac
