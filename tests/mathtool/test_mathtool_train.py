"""A short CPU training run on MathTool through ``turngym train``, then the store and the replay viewer."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from turngym.cli.main import app
from turngym.store import EpisodeStore

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
SHORT = [
    "run.steps=1", "run.threads=1", "run.tensorboard=false", "rollout.tasks_per_step=2", "rollout.group_size=3",
    "rollout.num_envs=6", "bc.episodes=8", "bc.epochs=1", "eval.tasks=2", "optim.drop_zero_advantage=false",
]


@pytest.mark.slow
def test_cpu_training_through_the_cli_records_readable_tool_episodes(tmp_path):
    torch.set_num_threads(1)
    out = tmp_path / "run"
    runner = CliRunner(env={"COLUMNS": "200"})
    res = runner.invoke(app, ["train", str(CONFIGS / "mathtool_grpo.yaml"), "--profile", "cpu", *SHORT, f"run.out={out}"])
    assert res.exit_code == 0, res.output
    with EpisodeStore(out, readonly=True) as store:
        episodes = store.query(step=1, tagged=False)  # training episodes (eval ones are stored too)
    assert len(episodes) == 6 and all(e.env_id == "MathTool-v0" and e.layout == "concat" and e.turns for e in episodes)
    assert all(t.info.get("ground_truth") and t.info.get("question") and t.anchor for e in episodes for t in e.turns)
    assert all(t.advantage is not None for e in episodes for t in e.turns if t.response_token_ids)
    assert {e.turns[0].observation.split("\n")[0] for e in episodes} <= {e.turns[0].info["question"].split("\n")[0] for e in episodes}
    later = [t.observation for e in episodes for t in e.turns[1:]]
    assert all(o.startswith("```output\n") or "\\boxed{}" in o for o in later)
    # the viewer shows an episode with the env's observations
    ep = max(episodes, key=lambda e: len(e.turns))
    res = runner.invoke(app, ["replay", str(out), "--episode", ep.episode_id, "--text"])
    assert res.exit_code == 0, res.output
    assert ep.turns[0].info["question"].split("\n")[0][:40] in res.output
    if len(ep.turns) > 1:
        assert ep.turns[1].observation.splitlines()[0] in res.output
