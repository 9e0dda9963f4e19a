"""A short CPU debate through ``turngym train``: rollout → per-agent advantages → update → store
(with agent ids) → the replay viewer shows who said what."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from turngym.cli.main import app
from turngym.store import EpisodeStore

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "discussion_maporl.yaml"


CEO_TEAM = ["env.kwargs.topology=ceo", "env.kwargs.credit=team", "algo.name=grpo", "algo.params={per_agent: true, cross_steps: false}"]


@pytest.mark.slow
@pytest.mark.parametrize("extra", [[], CEO_TEAM], ids=["debate-maporl-turn_grpo", "ceo-team-grpo_per_agent"])
def test_tiny_debate_trains_through_the_cli_and_replays(extra, tmp_path):
    torch.set_num_threads(1)
    out = tmp_path / "run"
    args = [
        "train", str(CONFIG), "--profile", "cpu", f"run.out={out}", "run.steps=1", "run.threads=1", "run.tensorboard=false",
        "rollout.tasks_per_step=2", "rollout.group_size=3", "rollout.num_envs=6", "policy.max_new_tokens=8",
        "bc.episodes=12", "bc.epochs=1", "eval.tasks=2", "optim.drop_zero_advantage=false", *extra,
    ]
    res = CliRunner(env={"COLUMNS": "200"}).invoke(app, args)
    assert res.exit_code == 0, res.output
    with EpisodeStore(out, readonly=True) as store:
        episodes = store.query(step=1, tagged=False)  # training episodes (eval ones are stored too)
    assert len(episodes) == 6 and all(e.env_id == "Discussion-v0" for e in episodes)
    speakers = {"agent0", "agent1"} if not extra else {"solver", "critic1", "critic2", "ceo"}
    for e in episodes:
        agents = [t.agent for t in e.turns]
        assert set(agents) <= speakers and agents[0] in ("agent0", "solver")  # every message is a Turn with its agent
        assert len(set(agents)) >= 2
        assert all(t.response_token_ids and t.advantage is not None for t in e.turns)
        # the MAPoRL credit landed on the turns: recorded messages carry their rule reward
        assert all(isinstance(t.info.get("verified"), float) for t in e.turns)
    res = CliRunner(env={"COLUMNS": "200"}).invoke(app, ["replay", str(out), "--episode", episodes[0].episode_id, "--text"])
    assert res.exit_code == 0, res.output
    if extra:
        assert "(solver)" in res.output and "(critic1)" in res.output and "You are the solver" in res.output
    else:
        assert "(agent0)" in res.output and "(agent1)" in res.output and "debate among 2 agents" in res.output
