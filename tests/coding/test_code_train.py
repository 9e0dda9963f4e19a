"""A short CPU training run on Code-v0 through ``turngym train``, then the store and ``turngym replay``."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from turngym.cli.main import app
from turngym.store import EpisodeStore

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
SHORT = [
    "run.steps=1", "run.threads=1", "run.tensorboard=false", "rollout.tasks_per_step=2", "rollout.group_size=2",
    "rollout.num_envs=4", "policy.max_new_tokens=48", "bc.episodes=6", "bc.epochs=1", "eval.tasks=2",
    "optim.drop_zero_advantage=false",
]


@pytest.mark.slow
def test_cpu_training_records_readable_code_episodes(tmp_path):
    torch.set_num_threads(1)
    runner = CliRunner(env={"COLUMNS": "200"})
    res = runner.invoke(app, ["train", str(CONFIGS / "code_grpo.yaml"), "--profile", "cpu", *SHORT, f"run.out={tmp_path / 'run'}"])
    assert res.exit_code == 0, res.output
    with EpisodeStore(tmp_path / "run", readonly=True) as store:
        episodes = store.query(step=1, tagged=False)  # training episodes (eval ones are stored too)
    assert len(episodes) == 4 and all(e.env_id == "Code-v0" and e.turns for e in episodes)
    assert all(t.info.get("entry_point") and t.info.get("task_id", "").startswith("code-v1-gen-train-") for e in episodes for t in e.turns)
    assert all(t.advantage is not None for e in episodes for t in e.turns if t.response_token_ids)
    # every turn was answered by the env: graded in the sandbox (tests counted) or rejected as no code
    for t in (t for e in episodes for t in e.turns):
        assert ("tests_total" in t.info) or not t.info["action_valid"]
    ep = episodes[0]
    res = runner.invoke(app, ["replay", str(tmp_path / "run"), "--episode", ep.episode_id, "--text"])
    assert res.exit_code == 0, res.output
    assert "Write the Python function below" in res.output and "```python" in res.output
