"""Several policies in one debate: each agent's turns train its own model copy; checkpoints keep them."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from turngym.train import checkpoint as ckpt
from turngym.train.config import ConfigError, load_config
from turngym.train.multipolicy import MultiPolicyTrainer, make_trainer
from turngym.train.trainer import Trainer

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "discussion_maporl.yaml"
SHORT = [
    "run.steps=1", "run.threads=1", "run.tensorboard=false", "rollout.tasks_per_step=2", "rollout.group_size=3",
    "rollout.num_envs=6", "policy.max_new_tokens=6", "bc.enabled=false", "eval.tasks=2", "optim.drop_zero_advantage=false",
    "optim.entropy_coef=0.01",  # a gradient on every sample, even when a random tiny model earns no reward differences
]


def flat(model: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()])


@pytest.mark.slow
def test_two_policies_train_on_their_own_agents_and_resume(tmp_path):
    torch.set_num_threads(1)
    overrides = [*SHORT, f"run.out={tmp_path / 'run'}", "policy.agent_policies={agent1: second}"]
    cfg = load_config(CONFIG, overrides, profile="cpu")
    trainer = make_trainer(cfg)
    assert isinstance(trainer, MultiPolicyTrainer)
    trainer.setup()
    try:
        init = flat(trainer.model).clone()
        metrics = trainer.train_step()
        main, second = flat(trainer.model), flat(trainer.policies["second"]["model"])
        assert metrics["policy/main/samples"] > 0 and metrics["policy/second/samples"] > 0
        assert any(k.startswith("second/") for k in metrics)  # the named policy's own update metrics
        assert not torch.equal(main, init) and not torch.equal(second, init) and not torch.equal(main, second)
        path = trainer.save()
    finally:
        trainer.close()
    resumed = make_trainer(cfg, resume=True)
    resumed.setup()
    try:
        assert resumed.step == 1 and torch.equal(flat(resumed.policies["second"]["model"]), second)
        assert torch.equal(flat(resumed.model), main)
    finally:
        resumed.close()
    assert set(ckpt.load_state(path)["policies"]) == {"second"}


def test_single_policy_configs_keep_the_plain_trainer_and_limits_are_checked(tmp_path):
    cfg = load_config(CONFIG, [f"run.out={tmp_path / 'a'}"], profile="cpu")
    assert type(make_trainer(cfg)) is Trainer
    cfg = load_config(CONFIG, [f"run.out={tmp_path / 'b'}", "policy.agent_policies={agent1: second}", "policy.layout=concat"], profile="cpu")
    with pytest.raises(ConfigError, match="policy.layout must be step"):
        make_trainer(cfg)
