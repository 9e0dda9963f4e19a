"""Shared fixture: one local backend per module (workers take ~1 s to start)."""

from __future__ import annotations

import warnings

import pytest

from turngym.sandbox import SandboxConfig
from turngym.sandbox.local import LocalBackend


@pytest.fixture(scope="module")
def backend():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        b = LocalBackend(SandboxConfig(workers=2))
    yield b
    b.close()

