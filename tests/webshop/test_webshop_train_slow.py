"""A short CPU training run on WebShop through the trainer (rollout → advantages → update → store),
then the replay viewer shows its episodes with the env's observations."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
CONFIG = Path(__file__).resolve().parents[2] / "configs" / "webshop_gigpo.yaml"


def test_cpu_gigpo_run_lands_in_the_store_and_the_replay_viewer(tmp_path) -> None:
    import torch
    from typer.testing import CliRunner

    from turngym.cli.main import app
    from turngym.store import EpisodeStore
    from turngym.train.config import load_config
    from turngym.train.trainer import Trainer

    torch.set_num_threads(1)
    overrides = [
        f"run.out={tmp_path / 'run'}", "run.steps=1", "run.threads=1", "run.tensorboard=false", "rollout.tasks_per_step=2",
        "rollout.group_size=3", "rollout.num_envs=6", "eval.tasks=2", "policy.max_new_tokens=8", "env.kwargs.max_turns=3",
        "optim.drop_zero_advantage=false",
    ]
    cfg = load_config(CONFIG, overrides, profile="cpu")
    trainer = Trainer(cfg)
    trainer.setup()
    try:
        metrics = trainer.train_step()
        trainer.metrics.log(metrics)
        trainer.save()
    finally:
        trainer.close()
    assert "update/samples" in metrics
    with EpisodeStore(tmp_path / "run", readonly=True) as store:
        episodes = store.query(step=1, tagged=False)
    assert len(episodes) == 6 and {e.env_id for e in episodes} == {"WebShop-v0"}
    assert len({e.group_id for e in episodes}) == 2
    first = episodes[0].turns[0]
    assert first.observation.startswith("WebShop [SEP] Instruction: [SEP] ") and first.response_token_ids
    assert all(t.advantage is not None for e in episodes for t in e.turns if t.response_token_ids)

    result = CliRunner().invoke(app, ["replay", str(tmp_path / "run"), "--episode", episodes[0].episode_id, "--text"])
    assert result.exit_code == 0, result.output
    assert "WebShop [SEP] Instruction: [SEP] " in result.output and episodes[0].episode_id[:8] in result.output
