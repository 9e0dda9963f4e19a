"""Kill a training run with SIGKILL at a random point, resume it, compare with an uninterrupted run."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from turngym.store import EpisodeStore

OVERRIDES = [
    "run.steps=8", "run.checkpoint_every=1", "run.threads=1", "run.tensorboard=false",
    "rollout.tasks_per_step=2", "rollout.group_size=2", "rollout.num_envs=4",
    "policy.max_new_tokens=4", "policy.history_k=0", "env.kwargs.max_turns=4",
    "eval.every=2", "eval.tasks=3", "bc.enabled=true", "bc.episodes=6", "bc.epochs=1",
]
CONFIG = Path(__file__).resolve().parents[2] / "configs" / "keydoor_gigpo.yaml"


def _cmd(*args):
    return [sys.executable, "-m", "turngym.cli.main", "train", *args]


def _env():
    return {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "120"}


def _metrics(run_dir):
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if not k.startswith("time/")} for r in rows]


def _episodes_by_step(run_dir):
    with EpisodeStore(run_dir, readonly=True) as store:
        eps = store.query(order_by="created_at")
    ids = Counter(e.episode_id for e in eps)
    assert max(ids.values()) == 1, "an episode was stored twice"
    return sorted((e.step, e.task_id, e.group_id is not None, tuple(e.actions), e.outcome_reward, e.tag or "") for e in eps)


@pytest.mark.slow
def test_sigkill_and_resume_matches_uninterrupted_run(tmp_path):
    ref, crashed = tmp_path / "ref", tmp_path / "crashed"
    subprocess.run(_cmd(str(CONFIG), *OVERRIDES, f"run.out={ref}", "--profile", "cpu"), check=True, env=_env(), capture_output=True)

    proc = subprocess.Popen(_cmd(str(CONFIG), *OVERRIDES, f"run.out={crashed}", "--profile", "cpu"), env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rng = random.Random(os.getpid())
    # The step-0 (BC) line, then 1..4 RL steps: at least 4 of the 8 steps (each ~0.2 s on a fast
    # machine) are still to run when the kill lands, so the kill cannot miss the run.
    target_lines = rng.randint(2, 5)
    metrics = crashed / "metrics.jsonl"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if metrics.exists() and len(metrics.read_text().splitlines()) >= target_lines:
            break
        time.sleep(0.05)
    time.sleep(rng.uniform(0.0, 0.15))  # somewhere inside the next step (or its checkpoint write)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed; make it longer"

    resumed = subprocess.run(_cmd("--resume", str(crashed)), env=_env(), capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr

    assert _metrics(crashed) == _metrics(ref)
    assert _episodes_by_step(crashed) == _episodes_by_step(ref)
    steps = Counter(s for s, *_, tag in _episodes_by_step(crashed) if not tag)  # training episodes (eval ones are tagged)
    assert {s: n for s, n in steps.items() if s and s > 0} == {s: 4 for s in range(1, 9)}
