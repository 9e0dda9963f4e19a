"""A tiny trained run shared by the CLI tests that need a checkpoint (trained once per session)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "configs" / "keydoor_gigpo.yaml"
#: One RL step on 2 tasks × 2 rollouts, 3 eval tasks: seconds of work, a real checkpoint.
TINY_RUN = [
    "run.steps=1", "run.checkpoint_every=1", "run.threads=1", "run.tensorboard=false",
    "rollout.tasks_per_step=2", "rollout.group_size=2", "rollout.num_envs=4",
    "eval.tasks=3", "bc.enabled=false", "env.kwargs.max_turns=4",
]


def cli_env(extra_path: str | None = None) -> dict[str, str]:
    path = os.pathsep.join(p for p in (extra_path, str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "80", "PYTHONPATH": path}


def turngym_cli(
    *args: str, check: bool = False, input: str | None = None, timeout: float = 300, extra_path: str | None = None
) -> subprocess.CompletedProcess:
    """The real entry point in a fresh process (``python -m turngym.cli.main``)."""
    return subprocess.run(
        [sys.executable, "-m", "turngym.cli.main", *map(str, args)], capture_output=True, text=True, env=cli_env(extra_path),
        check=check, input=input, timeout=timeout, cwd=ROOT,
    )


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("tiny") / "run"
    proc = turngym_cli("train", CONFIG, "--profile", "cpu", f"run.out={run_dir}", *TINY_RUN)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return run_dir
