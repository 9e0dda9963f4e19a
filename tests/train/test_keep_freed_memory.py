"""The learner keeps the large blocks it frees (turngym.train.memory), measured through RSS."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

_PROBE = """
import numpy as np
from turngym.train.memory import keep_freed_memory
applied = keep_freed_memory()
def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
a = np.ones(16_000_000)  # 128 MB, far above glibc's largest mmap threshold
before = rss_mb()
del a
after = rss_mb()
print(applied, round(before - after))
"""

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RSS probe reads /proc")


def _probe(env_value: str | None) -> tuple[bool, float]:
    env = {k: v for k, v in os.environ.items() if k != "TURNGYM_KEEP_FREED_MEMORY"}
    if env_value is not None:
        env["TURNGYM_KEEP_FREED_MEMORY"] = env_value
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, env=env, check=True).stdout.split()
    return out[0] == "True", float(out[1])


def test_freed_block_stays_in_the_process():
    applied, released_mb = _probe(None)
    assert applied
    assert released_mb < 16  # the 128 MB block is kept for reuse


def test_switch_off_leaves_glibc_defaults():
    applied, released_mb = _probe("0")
    assert not applied
    assert released_mb > 100  # glibc unmaps it on free, as it does by default

