"""`turngym train --nproc 2`: two FSDP2 learner ranks (gloo on CPU) run the whole loop, learn, write
one store and one set of metrics, die together when one rank is killed, and resume at world size
2 and at 1 without losing or duplicating a step or an episode (issue 17)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from turngym.store import EpisodeStore

pytestmark = pytest.mark.slow
CONFIG = Path(__file__).resolve().parents[2] / "configs" / "keydoor_gigpo.yaml"
SMALL = [
    "run.checkpoint_every=1", "run.threads=1", "run.tensorboard=false",
    "rollout.tasks_per_step=2", "rollout.group_size=2", "rollout.num_envs=4",
    "policy.max_new_tokens=4", "env.kwargs.max_turns=4",
    "eval.every=2", "eval.tasks=4", "bc.episodes=6", "bc.epochs=1",
]


def _train(*args: str) -> list[str]:
    return [sys.executable, "-m", "turngym", "train", *args]


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "120"}


def _metric_rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def _episodes(run: Path):
    """Training episodes (held-out evaluation episodes are stored too, tagged)."""
    with EpisodeStore(run, readonly=True) as store:
        return store.query(order_by="created_at", tagged=False)


def test_two_ranks_learn_into_one_store(tmp_path):
    run = tmp_path / "run"
    res = subprocess.run(
        _train(str(CONFIG), "--profile", "cpu", "--nproc", "2", f"run.out={run}", "run.steps=6", "run.checkpoint_every=3",
               "run.threads=1", "run.tensorboard=false", "rollout.tasks_per_step=4", "eval.every=3", "eval.tasks=40",
               "bc.episodes=400", "bc.epochs=3"),
        env=_env(), capture_output=True, text=True, timeout=1200,
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    rows = _metric_rows(run)
    assert [r["step"] for r in rows] == [0, 1, 2, 3, 4, 5, 6]  # one metrics file, written once per step
    bc_success = rows[0]["eval/success"]
    final = rows[-1]["eval/success"]
    assert final > bc_success, f"held-out success did not rise under RL: {bc_success} -> {final}"
    eps = _episodes(run)
    assert Counter(e.step for e in eps) == {s: 4 * 8 for s in range(1, 7)}  # every rank's share, stored once
    assert all(t.trainer_logprobs is not None for e in eps for t in e.turns if e.step == 6 and t.advantage)
    assert sorted(p.name for p in run.glob("*.db")) == ["episodes.db"]
    assert (run / "logs" / "rank1.log").exists() and not (run / "logs" / "rank0.log").exists()
    ckpt = run / "checkpoints" / "step_000006"
    assert (ckpt / "model.safetensors").exists() and (ckpt / "dcp" / ".metadata").exists()
    assert {p.name for p in ckpt.glob("rng_rank*.pt")} == {"rng_rank0.pt", "rng_rank1.pt"}


def _rank_pid(run: Path, rank: int, deadline: float) -> int:
    log = run / "logs" / f"rank{rank}.log"
    while time.monotonic() < deadline:
        if log.exists():
            m = re.search(rf"--- rank {rank} pid (\d+)", log.read_text())
            if m:
                return int(m.group(1))
        time.sleep(0.1)
    raise AssertionError(f"rank {rank} never wrote its log")


def test_sigkill_of_one_rank_stops_all_then_resume_at_two_and_one(tmp_path):
    run = tmp_path / "run"
    proc = subprocess.Popen(_train(str(CONFIG), "--profile", "cpu", "--nproc", "2", f"run.out={run}", "run.steps=8", *SMALL),
                            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 600
    victim = _rank_pid(run, 1, deadline)
    metrics = run / "metrics.jsonl"
    while time.monotonic() < deadline and proc.poll() is None:
        if metrics.exists() and len(metrics.read_text().splitlines()) >= 3:  # BC row + 2 RL steps
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before the kill: make it longer"
    os.kill(victim, signal.SIGKILL)
    t_kill = time.monotonic()
    out, _ = proc.communicate(timeout=180)
    assert proc.returncode != 0
    assert time.monotonic() - t_kill < 120, "the surviving rank did not stop in bounded time"
    assert "rank 1" in out, out[-2000:]
    killed_at = max(r["step"] for r in _metric_rows(run))
    assert killed_at < 8

    # 2 -> 1 up to step 5, then 1 -> 2 to the end
    second = subprocess.run(_train("--resume", str(run), "run.steps=5"), env=_env(), capture_output=True, text=True, timeout=900)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    state = __import__("torch").load(run / "checkpoints" / "step_000005" / "trainer_state.pt", weights_only=False)
    assert state["world"] == 1
    third = subprocess.run(_train("--resume", str(run), "--nproc", "2", "run.steps=8"), env=_env(), capture_output=True, text=True, timeout=900)
    assert third.returncode == 0, third.stdout[-3000:] + third.stderr[-3000:]

    steps = [r["step"] for r in _metric_rows(run)]
    assert steps == list(range(0, 9)), steps  # nothing lost, nothing logged twice
    eps = _episodes(run)
    assert max(Counter(e.episode_id for e in eps).values()) == 1
    assert Counter(e.step for e in eps) == {s: 4 for s in range(1, 9)}
    state = __import__("torch").load(run / "checkpoints" / "step_000008" / "trainer_state.pt", weights_only=False)
    assert state["world"] == 2 and state["step"] == 8


def test_settings_two_ranks_cannot_run_fail_before_any_work(tmp_path):
    run = tmp_path / "run"
    res = subprocess.run(_train(str(CONFIG), "--profile", "cpu", "--nproc", "2", f"run.out={run}", "rollout.tasks_per_step=3"),
                         env=_env(), capture_output=True, text=True, timeout=300)
    assert res.returncode == 2 and "tasks_per_step=3" in res.stdout + res.stderr and "Traceback" not in res.stdout + res.stderr
    assert not run.exists()


def test_lora_kl_reference_and_checkpointing_under_fsdp(tmp_path):
    """LoRA adapters, the sharded KL reference model, gradient checkpointing and CPU offload together."""
    run = tmp_path / "run"
    res = subprocess.run(
        _train(str(CONFIG), "--profile", "cpu", "--nproc", "2", f"run.out={run}", "run.steps=2", *SMALL, "model.lora.enabled=true",
               "optim.kl_coef=0.01", "optim.gradient_checkpointing=true",
               "distributed.cpu_offload=true"),
        env=_env(), capture_output=True, text=True, timeout=900,
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    rows = _metric_rows(run)
    assert rows[-1]["step"] == 2 and "update/kl" in rows[-1]
    assert (run / "checkpoints" / "step_000002" / "adapter_model.safetensors").exists()
