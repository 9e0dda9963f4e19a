"""A tiny trained run shared by the CLI tests that need a checkpoint (trained once per session)."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from cli_helpers import CONFIG, TINY_RUN, turngym_cli  # noqa: E402


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("tiny") / "run"
    proc = turngym_cli("train", CONFIG, "--profile", "cpu", f"run.out={run_dir}", *TINY_RUN)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (run_dir.parent / "train.out").write_text(proc.stdout)  # what the person saw (tests read it)
    return run_dir
