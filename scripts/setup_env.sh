#!/usr/bin/env bash
# Sourced by the other scripts: find or create the Python environment and install what is missing.
#
# - An active virtual or conda environment is used as it is.
# - Otherwise .venv/ in the repository is created and used.
# - torch is installed on its own first, pinned (HDL_TORCH_SPEC, default torch==2.13.0): on a machine
#   that carries a local CPU wheel of that version pip takes it, and elsewhere the registry's build for
#   the platform (CUDA on Linux). Any torch already installed is kept.
# - The requirements are installed once; a stamp file records what was installed so later runs start
#   at once. Set HDL_DEV=1 to add the test tools.
# - The repository is installed in editable mode (no dependencies, nothing downloaded), once, so that its
#   packages import from any folder.
set -euo pipefail

HDL_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export HDL_ROOT

if [[ -n "${VIRTUAL_ENV:-}" || -n "${CONDA_PREFIX:-}" ]]; then
  PY="$(command -v python)"
else
  if [[ ! -x "$HDL_ROOT/.venv/bin/python" ]]; then
    echo "setup: creating $HDL_ROOT/.venv" >&2
    python3 -m venv "$HDL_ROOT/.venv"
  fi
  PY="$HDL_ROOT/.venv/bin/python"
fi
export PY

_pip() { "$PY" -m pip install --disable-pip-version-check -q "$@" 2>&1 | grep -v "is ignored: it is neither" >&2 || true; }

if ! "$PY" -c "import torch" >/dev/null 2>&1; then
  echo "setup: installing ${HDL_TORCH_SPEC:-torch==2.13.0}" >&2
  _pip "${HDL_TORCH_SPEC:-torch==2.13.0}"
  "$PY" -c "import torch" 2>/dev/null || { echo "setup: torch failed to install" >&2; exit 1; }
fi

_reqs=("$HDL_ROOT/requirements.txt")
if [[ "${HDL_DEV:-0}" == "1" ]]; then _reqs+=("$HDL_ROOT/requirements-dev.txt"); fi
_stamp_dir="$("$PY" -c 'import sys; print(sys.prefix)')"
_hash="$(cat "${_reqs[@]}" | sha256sum | cut -c1-16)"
_stamp="$_stamp_dir/.hdl-mvm-installed-$_hash"
if [[ ! -f "$_stamp" ]]; then
  echo "setup: installing requirements into $_stamp_dir" >&2
  _args=()
  for r in "${_reqs[@]}"; do _args+=(-r "$r"); done
  _pip "${_args[@]}"
  "$PY" - <<'PYCHECK'
import importlib.util, sys
missing = [m for m in ("torch", "numpy", "scipy", "skimage", "h5py", "matplotlib", "tqdm", "pydicom", "nibabel")
           if importlib.util.find_spec(m) is None]
if missing:
    sys.exit(f"setup: packages failed to install: {missing}")
PYCHECK
  touch "$_stamp"
fi
# The packages importable from any folder (the README's Python example): an editable install of this
# checkout, without dependencies or downloads, once per checkout folder and pyproject.toml.
_editable="$_stamp_dir/.hdl-mvm-editable-$( { echo "$HDL_ROOT"; cat "$HDL_ROOT/pyproject.toml"; } | sha256sum | cut -c1-16)"
if [[ ! -f "$_editable" ]]; then
  echo "setup: installing $HDL_ROOT in editable mode (pip install -e . --no-deps)" >&2
  "$PY" -c "import setuptools" >/dev/null 2>&1 || _pip "setuptools>=64"  # venvs of Python 3.12+ have none
  _pip --no-deps --no-build-isolation --no-index -e "$HDL_ROOT"
  if (cd / && "$PY" -c "import data.mvm_io, models.hdl.predictor") >/dev/null 2>&1; then
    touch "$_editable"
  else
    echo "setup: the editable install failed; run the Python examples from $HDL_ROOT" >&2
  fi
fi
# HDL_DEV=1: the DICOM validators the tests run (dcm2niix, dciodvfy from dicom3tools). Installed with
# apt-get when running as root on a Debian/Ubuntu machine; elsewhere the tests that need them skip and
# say so (install them with your package manager: dcm2niix, dicom3tools).
if [[ "${HDL_DEV:-0}" == "1" ]] && ! { command -v dcm2niix && command -v dciodvfy; } >/dev/null 2>&1; then
  if [[ "$(id -u)" == "0" ]] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing dcm2niix and dicom3tools (apt-get)" >&2
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dcm2niix dicom3tools; } >/dev/null 2>&1 \
      || echo "setup: apt-get could not install dcm2niix/dicom3tools; the tests that run them will skip" >&2
  else
    echo "setup: dcm2niix/dciodvfy missing and not root with apt-get; the tests that run them will skip" >&2
  fi
fi
cd "$HDL_ROOT"
