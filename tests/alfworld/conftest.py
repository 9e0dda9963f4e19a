"""Shared fixtures: one game cache per test session, and the real valid_seen folder when present."""

from __future__ import annotations

from pathlib import Path

import pytest

REAL_DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "alfworld" / "json_2.1.1"
if not REAL_DATA.is_dir():  # the repo is also cloned next to shared/ (CI), or lives at /work/main
    REAL_DATA = Path("/work/shared/data/alfworld/json_2.1.1")


@pytest.fixture(scope="session")
def alfworld_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("alfworld-cache")


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    if not REAL_DATA.is_dir():
        pytest.skip(f"real ALFWorld data not found at {REAL_DATA} (shared/data/alfworld)")
    return REAL_DATA
