"""A short CPU training run on SearchQA through the trainer, then the store and the replay viewer."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from turngym.cli.main import app
from turngym.store import EpisodeStore
from turngym.train.config import load_config
from turngym.train.run import train
from turngym.train.samples import build_samples

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
SHORT = [
    "run.steps=1", "run.threads=1", "run.tensorboard=false", "rollout.tasks_per_step=2", "rollout.group_size=3",
    "rollout.num_envs=6", "policy.max_new_tokens=12", "env.kwargs.max_turns=3", "bc.enabled=true", "bc.episodes=8",
    "bc.epochs=1", "eval.tasks=2", "optim.drop_zero_advantage=false",
]


@pytest.mark.slow
@pytest.mark.parametrize("config,layout", [("searchqa_a2tgpo.yaml", "concat"), ("searchqa_grpo.yaml", "step")])
def test_cpu_training_records_readable_search_episodes(config, layout, tmp_path):
    torch.set_num_threads(1)
    cfg = load_config(CONFIGS / config, [*SHORT, f"run.out={tmp_path / 'run'}", f"policy.layout={layout}"], profile="cpu")
    results = train(cfg)
    assert set(results) >= {"initial", "final"}
    with EpisodeStore(tmp_path / "run", readonly=True) as store:
        episodes = store.query(step=1, tagged=False)
    assert len(episodes) == 6 and all(e.env_id == "SearchQA-v0" and e.layout == layout and e.turns for e in episodes)
    assert all(t.info.get("ground_truth") and t.anchor for e in episodes for t in e.turns)
    assert all(t.advantage is not None for e in episodes for t in e.turns if t.response_token_ids)
    # retrieved text never carries loss: in the concatenated transcript only responses have mask 1
    samples = build_samples(episodes, layout=layout)
    for s in samples:
        trained = sum(s.loss_mask)
        responses = sum(n for *_, n in s.spans)
        assert trained == responses
    # the viewer shows the episode with the env's observations
    ep = episodes[0]
    res = CliRunner(env={"COLUMNS": "200"}).invoke(app, ["replay", str(tmp_path / "run"), "--episode", ep.episode_id, "--text"])
    assert res.exit_code == 0, res.output
    assert "Question: " in res.output
    later = [t.observation for e in episodes for t in e.turns[1:]]
    assert all(o.startswith(("<information>", "My previous action is invalid.")) for o in later)
