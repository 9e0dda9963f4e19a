"""Helpers of the CLI tests: the real entry point in a fresh process, and the tiny-run recipe."""

import os
import subprocess
import sys
from pathlib import Path

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
