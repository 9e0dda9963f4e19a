#!/usr/bin/env bash
# Set up the replay viewer's browser tests: Debian's Chromium plus the Python Playwright client.
#
# Why Debian's chromium and not `playwright install`: the latter downloads a browser build from a CDN,
# which is not reachable here; Playwright drives any recent Chromium through `executable_path`
# (tests use /usr/bin/chromium). Why pip for playwright/schemathesis: they are ordinary PyPI packages
# (the `browser` extra of pyproject.toml).
#
# Idempotent: what is already installed is left alone, and a second run takes a few seconds.
#
# Usage: bash scripts/install_browser_tests.sh          (uses <repo>/.venv)
#        VENV=/path/to/venv bash scripts/install_browser_tests.sh
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
PY_REQS=("playwright>=1.40" "schemathesis>=4.0")

log() { echo "[install_browser_tests] $*"; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

if command -v chromium >/dev/null 2>&1; then
    log "chromium present: $(chromium --version 2>/dev/null || echo unknown version)"
else
    log "installing chromium and the libraries Playwright's driver needs (apt)"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update
    # chromium pulls its own shared libraries; fonts make screenshots readable.
    $SUDO apt-get install -y --no-install-recommends chromium fonts-dejavu-core fonts-liberation
fi

if "$VENV/bin/python" -c "import playwright.sync_api, schemathesis" >/dev/null 2>&1; then
    log "playwright and schemathesis already importable in $VENV"
else
    log "pip install ${PY_REQS[*]} into $VENV"
    for attempt in 1 2 3; do
        if "$VENV/bin/pip" install "${PY_REQS[@]}"; then break; fi
        log "pip failed (attempt $attempt; another install may hold a lock), retrying in 10 s"
        sleep 10
        [ "$attempt" = 3 ] && exit 1
    done
fi

# Smoke check: the driver starts and launches the system browser headless.
"$VENV/bin/python" - <<'PY'
from playwright.sync_api import sync_playwright

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
with sync_playwright() as p:
    browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
    page = browser.new_page()
    page.set_content("<p id=x>ok</p>")
    assert page.inner_text("#x") == "ok"
    browser.close()
print("[install_browser_tests] playwright drives /usr/bin/chromium: ok")
PY
