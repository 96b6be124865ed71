#!/usr/bin/env bash
# Remove Scenescope: its menu entry and icon, and the app itself (.venv). Downloaded models, sessions and
# caches stay unless asked for, so a reinstall picks up where it left off.
#
#   installers/uninstall.sh [--models] [--sessions] [--cache] [--yes]
#
#   --models    also delete the models `scenescope models list` shows as downloaded (Hugging Face cache)
#   --sessions  also delete the saved sessions (the app's data folder, $SCENESCOPE_DATA_DIR if set)
#   --cache     also delete Scenescope's cache (frame tables, visual tokens; $SCENESCOPE_CACHE_DIR if set)
#   --yes       do not ask before deleting
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

models=0; sessions=0; cache=0; yes=0
while [ $# -gt 0 ]; do
    case "$1" in
        --models) models=1 ;;
        --sessions) sessions=1 ;;
        --cache) cache=1 ;;
        --yes) yes=1 ;;
        -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
        *) echo "uninstall.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done

say() { printf '\033[1m[scenescope]\033[0m %s\n' "$*"; }
python=.venv/bin/python
if [ "$yes" = 0 ]; then
    read -r -p "Remove Scenescope from $root/.venv and the desktop menu? [y/N] " answer
    case "$answer" in y|Y|yes) ;; *) say "nothing removed"; exit 0 ;; esac
fi

# What lives outside the checkout is found through the app itself, while it is still installed.
if [ -x "$python" ]; then
    if [ "$models" = 1 ]; then
        for name in $("$python" -c 'from engine.models.catalog import CATALOG; print(" ".join(v.name for v in CATALOG))'); do
            "$python" -m engine models remove "$name"
        done
    fi
    if [ "$sessions" = 1 ]; then
        folder="$("$python" -c 'from app.session import data_root; print(data_root())')"
        rm -rf "$folder" && say "sessions removed: $folder"
    fi
    if [ "$cache" = 1 ]; then
        folder="$("$python" -c 'from engine.cache import cache_root; print(cache_root())')"
        rm -rf "$folder" && say "cache removed: $folder"
    fi
elif [ $((models + sessions + cache)) -gt 0 ]; then
    say "warning: .venv is gone, so models, sessions and caches cannot be located; delete them by hand"
fi

installers/desktop_entry.sh remove
rm -rf .venv
say "removed the app and its menu entry; kept: $([ "$models" = 0 ] && echo "models ")$([ "$sessions" = 0 ] && echo "sessions ")$([ "$cache" = 0 ] && echo cache)"
