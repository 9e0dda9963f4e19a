#!/usr/bin/env bash
# Install the `alfworld` extra: the real ALFWorld/TextWorld engine, offline-capable (no data download).
#
# Idempotent: if every package is already importable at the pinned version this exits in ~1 s.
# fast-downward-textworld and jericho have no wheels on PyPI; pip builds them from source with
# cmake + g++ (~2-3 min the first time). pip's wheel cache (PIP_CACHE_DIR, default ~/.cache/pip)
# keeps the built wheels, so a second install on the same machine takes seconds.
#
# The install is "lean": --no-deps for textworld/alfworld (their full dependency lists pull spaCy,
# opencv, torch-vision stacks we do not need for the TextWorld path), then the handful of runtime
# dependencies the PDDL path really imports.
#
# Usage: bash scripts/install_alfworld.sh [PYTHON]   (default: .venv/bin/python if present, else python3)
set -euo pipefail

cd "$(dirname "$0")/.."
PY="${1:-}"
if [[ -z "$PY" ]]; then
    if [[ -x .venv/bin/python ]]; then PY=.venv/bin/python; else PY=python3; fi
fi

# Pinned versions (DESIGN.md §4 "ALFWorld"). Keep in sync with the `alfworld` extra in pyproject.toml.
PINNED=(
    "textworld==1.7.0"
    "alfworld==0.4.2"
    "fast-downward-textworld==20.6.4"
    "jericho==3.3.1"
)
RUNTIME_DEPS=(
    "numpy>=1.26"
    "tqdm"
    "networkx"
    "more_itertools"
    "tatsu==5.8.3"
    "hashids"
    "mementos"
    "termcolor"
    "prompt_toolkit"
)

already_installed() {
    "$PY" - <<'PY' 2>/dev/null
import importlib.metadata as md, sys
want = {"textworld": "1.7.0", "alfworld": "0.4.2", "fast-downward-textworld": "20.6.4", "jericho": "3.3.1", "tatsu": "5.8.3"}
for name, version in want.items():
    if md.version(name) != version:
        sys.exit(1)
import textworld, alfworld, fast_downward, tatsu, hashids, mementos, networkx, more_itertools, termcolor, prompt_toolkit  # noqa
from alfworld.agents.expert import HandCodedTWAgent  # noqa
PY
}

if already_installed; then
    echo "alfworld extra already installed for $PY"
    exit 0
fi

# Build tools for the two source builds (cmake, g++, make). Only install what is missing.
need_apt=()
command -v cmake >/dev/null 2>&1 || need_apt+=(cmake)
command -v g++ >/dev/null 2>&1 || need_apt+=(g++)
command -v make >/dev/null 2>&1 || need_apt+=(make)
if (( ${#need_apt[@]} )); then
    if [[ $(id -u) -eq 0 ]]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" build-essential
fi

# setup.py of fast-downward-textworld runs a bare `python build.py`: make `python` be this interpreter.
export PATH="$(cd "$(dirname "$PY")" && pwd):$PATH"
"$PY" -m pip install --quiet "wheel" "setuptools>=68"
# The pip cache is on by default; never pass --no-cache-dir here (the source builds are the slow part).
"$PY" -m pip install --quiet "${RUNTIME_DEPS[@]}"
"$PY" -m pip install --quiet --no-deps "${PINNED[@]}"

if ! already_installed; then
    echo "alfworld extra: install finished but the import check failed" >&2
    "$PY" -c "import textworld, alfworld, fast_downward; from alfworld.agents.expert import HandCodedTWAgent"
    exit 1
fi
echo "alfworld extra installed for $PY"
