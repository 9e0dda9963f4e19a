import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from runfactory import make_run


@pytest.fixture(scope="session")
def base_run(tmp_path_factory) -> Path:
    """One real run (KeyDoor, 6 tasks x G=4) built once; tests copy it before changing it."""
    return make_run(tmp_path_factory.mktemp("replay") / "run")


@pytest.fixture
def run_dir(base_run, tmp_path) -> Path:
    dst = tmp_path / "run"
    shutil.copytree(base_run, dst)
    return dst
