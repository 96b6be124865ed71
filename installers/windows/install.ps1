# Install Scenescope on Windows into .venv, with the CUDA build of torch where an NVIDIA GPU is present,
# and a Start-menu shortcut; or remove it again. The same steps as installers/install.sh and
# installers/uninstall.sh, in the same order. NOT RUN on Windows yet (see README, "Windows").
#
#   powershell -ExecutionPolicy Bypass -File installers\windows\install.ps1 [-Dev] [-Cpu | -Gpu] [-Python PY] [-NoShortcut]
#   powershell -ExecutionPolicy Bypass -File installers\windows\install.ps1 -Uninstall [-Models] [-Sessions] [-Cache]
param(
    [switch]$Dev, [switch]$Cpu, [switch]$Gpu, [string]$Python = "", [switch]$NoShortcut,
    [switch]$Uninstall, [switch]$Models, [switch]$Sessions, [switch]$Cache,
    # The CUDA wheels of torch for Windows come from PyTorch's own index (PyPI has the CPU build there).
    # cu130 matches the CUDA 13 build torch 2.13 uses on Linux; UNCONFIRMED for Windows: check
    # https://pytorch.org/get-started/locally and pass another index if it is not there.
    [string]$CudaIndex = "https://download.pytorch.org/whl/cu130"
)
$ErrorActionPreference = "Stop"
$Root = (Resolve-Path (Join-Path $PSScriptRoot "..\..")).Path
Set-Location $Root
$VenvPython = Join-Path $Root ".venv\Scripts\python.exe"
$Shortcut = Join-Path ([Environment]::GetFolderPath("Programs")) "Scenescope.lnk"
function Say($Text) { Write-Host "[scenescope] $Text" }

if ($Uninstall) {
    # uninstall.sh: models, sessions and caches stay unless asked; they are found through the app itself.
    if (Test-Path $VenvPython) {
        if ($Models) {
            $names = & $VenvPython -c "from engine.models.catalog import CATALOG; print(' '.join(v.name for v in CATALOG))"
            foreach ($name in $names.Split(" ")) { & $VenvPython -m engine models remove $name }
        }
        if ($Sessions) { Remove-Item -Recurse -Force (& $VenvPython -c "from app.session import data_root; print(data_root())") -ErrorAction SilentlyContinue }
        if ($Cache) { Remove-Item -Recurse -Force (& $VenvPython -c "from engine.cache import cache_root; print(cache_root())") -ErrorAction SilentlyContinue }
    }
    Remove-Item -Force $Shortcut -ErrorAction SilentlyContinue
    Remove-Item -Recurse -Force (Join-Path $Root ".venv") -ErrorAction SilentlyContinue
    Say "removed the app and its Start-menu shortcut"
    exit 0
}

# 1. Python 3.11 or newer (the py launcher first, as python.org installs it).
if (-not $Python) {
    foreach ($candidate in @("py -3.11", "py -3.12", "py -3.13", "python")) {
        $exe, $arg = $candidate.Split(" ")
        try { & $exe $arg -c "import sys; sys.exit(sys.version_info < (3, 11))" 2>$null; if ($LASTEXITCODE -eq 0) { $Python = $candidate; break } } catch {}
    }
}
if (-not $Python) { Write-Error "Python 3.11 or newer is needed; install it from python.org and run this again."; exit 1 }
$PyExe, $PyArg = $Python.Split(" ")

# 2. Which torch: nvidia-smi decides unless -Cpu or -Gpu says.
$Target = if ($Cpu) { "cpu" } elseif ($Gpu) { "gpu" } else { "cpu" }
if (-not $Cpu -and -not $Gpu -and (Get-Command nvidia-smi -ErrorAction SilentlyContinue)) {
    & nvidia-smi -L *> $null; if ($LASTEXITCODE -eq 0) { $Target = "gpu" }
}
Say "python: $Python, torch build: $Target"

# 3. System libraries: none on Windows (the Qt wheels carry theirs, FFmpeg included).

# 4. The venv and pip.
if (-not (Test-Path $VenvPython)) { & $PyExe $PyArg -m venv .venv }
& $VenvPython -m pip --disable-pip-version-check install -q --upgrade pip setuptools wheel

# 5. torch, pinned as on Linux.
if ($Target -eq "cpu") {
    $env:PIP_CONSTRAINT = Join-Path $Root "installers\constraints-cpu.txt"
    & $VenvPython -m pip install -q --extra-index-url https://download.pytorch.org/whl/cpu torch==2.13.0
} else {
    $env:PIP_CONSTRAINT = Join-Path $Root "installers\constraints-gpu.txt"
    & $VenvPython -m pip install -q --index-url $CudaIndex torch==2.13.0
}

# 6. Scenescope itself (editable, as on Linux), with the test tools for -Dev.
$Extras = if ($Dev) { "[dev]" } else { "" }
& $VenvPython -m pip install -q -e ".$Extras"
# (--flash has no counterpart: flash-attn publishes no Windows wheels; the app uses SDPA without it.)

# 7. The check.
& $VenvPython -c "import torch; print(f'[scenescope] torch {torch.__version__}, CUDA available: {torch.cuda.is_available()}')"

# 8. The Start-menu entry (the Linux .desktop entry's counterpart).
if (-not $NoShortcut) {
    $link = (New-Object -ComObject WScript.Shell).CreateShortcut($Shortcut)
    $link.TargetPath = Join-Path $Root ".venv\Scripts\scenescope.exe"
    $link.WorkingDirectory = $Root
    $link.Description = "Ask questions about long videos, find moments, track objects, export clips"
    $link.Save()
    Say "Start-menu shortcut: $Shortcut"
}
Say "done: start Scenescope from the Start menu or with .venv\Scripts\scenescope.exe (remove it: install.ps1 -Uninstall)"
