import os

import pytest

# Tiny models and numpy ops: one thread keeps the suite fast and stable on 2 shared cores.
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture
def tmp_run(tmp_path):
    return tmp_path / "run"
