#!/usr/bin/env bash
# Create .venv and install Scenescope into it, with the right torch for this machine.
#
#   installers/install.sh [--dev] [--flash] [--cpu | --gpu] [--python PYTHON] [--no-desktop]
#
#   --dev      also install the test and benchmark tools (pytest, pytest-qt, ruff, decord2)
#   --flash    also build flash-attn (GPU only; needs nvcc matching torch's CUDA; takes a long time)
#   --cpu      force the CPU build of torch; --gpu forces the CUDA build (default: nvidia-smi decides)
#   --python   interpreter for the venv (default: the first of python3.11, python3.12, python3.13, python3)
#   --no-desktop  do not add Scenescope to the desktop's menu (installers/desktop_entry.sh; undo with
#              installers/uninstall.sh)
#
# Safe to run again: it reuses .venv and only installs what changed.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

dev=0; flash=0; target=auto; python=""; desktop=1
while [ $# -gt 0 ]; do
    case "$1" in
        --dev) dev=1 ;;
        --flash) flash=1 ;;
        --cpu) target=cpu ;;
        --gpu) target=gpu ;;
        --python) python="$2"; shift ;;
        --no-desktop) desktop=0 ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done

say() { printf '\033[1m[scenescope]\033[0m %s\n' "$*"; }

if [ -z "$python" ]; then
    for candidate in python3.11 python3.12 python3.13 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
           "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            python="$candidate"; break
        fi
    done
fi
if [ -z "$python" ]; then
    echo "install.sh: Python 3.11 or newer is needed; install it and run this again." >&2
    exit 1
fi

if [ "$target" = auto ]; then
    if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then target=gpu; else target=cpu; fi
fi
say "python: $("$python" --version 2>&1), torch build: $target"

# System libraries Qt needs that a fresh Debian/Ubuntu lacks: libpulse0 (QtMultimedia links it),
# libxcb-icccm4/libxcb-keysyms1/libxcb-cursor0 (the xcb window platform), xvfb (the real-window test).
missing=()
for pkg in libpulse0 libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0 xvfb; do
    if command -v dpkg-query >/dev/null 2>&1 &&
       ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then sudo=""; elif command -v sudo >/dev/null 2>&1; then sudo="sudo"; else sudo="none"; fi
    if [ "$sudo" != none ] && command -v apt-get >/dev/null 2>&1; then
        say "installing system packages: ${missing[*]}"
        $sudo apt-get update -qq && $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        say "warning: install these system packages for video playback and windows: ${missing[*]}"
    fi
fi

[ -x .venv/bin/python ] || "$python" -m venv .venv
pip=(.venv/bin/python -m pip --disable-pip-version-check)
"${pip[@]}" install -q --upgrade pip setuptools wheel

if [ "$target" = cpu ]; then
    export PIP_CONSTRAINT="$root/installers/constraints-cpu.txt"
    torch_index=()
    # The PyTorch CPU index keeps pip from fetching the multi-GB CUDA build; where it is unreachable
    # (offline mirrors that carry the +cpu file themselves) asking it would only add minutes of retries.
    if "$python" -c 'import urllib.request as u; u.urlopen("https://download.pytorch.org/whl/cpu/", timeout=5)' \
        >/dev/null 2>&1; then
        torch_index=(--extra-index-url https://download.pytorch.org/whl/cpu)
    fi
    "${pip[@]}" install -q "${torch_index[@]}" torch==2.13.0
else
    export PIP_CONSTRAINT="$root/installers/constraints-gpu.txt"
    "${pip[@]}" install -q torch==2.13.0
fi

extras=""
[ "$dev" = 1 ] && extras="[dev]"
"${pip[@]}" install -q -e ".$extras"

if [ "$flash" = 1 ]; then
    if [ "$target" != gpu ]; then
        say "warning: --flash ignored: flash-attn needs a CUDA build of torch and nvcc"
    else
        "${pip[@]}" install -q ninja packaging
        MAX_JOBS="${MAX_JOBS:-4}" "${pip[@]}" install --no-build-isolation "flash-attn>=2.7"
    fi
fi

.venv/bin/python - <<'PY'
import torch
print(f"[scenescope] torch {torch.__version__}, CUDA available: {torch.cuda.is_available()}")
PY
if [ "$desktop" = 1 ]; then
    say "menu entry: $(installers/desktop_entry.sh install "$root/.venv/bin/scenescope")"
fi
say "done: start the app from the menu or with .venv/bin/scenescope (remove it: installers/uninstall.sh)"
