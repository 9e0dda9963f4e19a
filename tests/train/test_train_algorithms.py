"""One real training step per estimator that needs extra per-turn inputs (tiny model, CPU)."""

from pathlib import Path

import pytest
import torch

from turngym.store import EpisodeStore
from turngym.train.config import load_config
from turngym.train.trainer import Trainer

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
SMALL = [
    "run.steps=1", "run.threads=1", "run.tensorboard=false", "rollout.tasks_per_step=2", "rollout.group_size=3",
    "rollout.num_envs=6", "bc.enabled=false", "eval.tasks=2", "policy.max_new_tokens=8", "optim.drop_zero_advantage=false",
]


def _one_step(config, tmp_path, *extra):
    torch.set_num_threads(1)
    cfg = load_config(CONFIGS / config, [*SMALL, f"run.out={tmp_path / 'run'}", *extra], profile="cpu")
    trainer = Trainer(cfg)
    trainer.setup()
    try:
        metrics = trainer.train_step()
        trainer.metrics.log(metrics)
        trainer.save()
    finally:
        trainer.close()
    with EpisodeStore(tmp_path / "run", readonly=True) as store:
        episodes = store.query(step=1, tagged=False)
    assert len(episodes) == 6
    assert all(t.advantage is not None for e in episodes for t in e.turns if t.response_token_ids)
    return metrics, episodes


def test_gigpo_step_records_training_fields(tmp_path):
    metrics, episodes = _one_step("keydoor_gigpo.yaml", tmp_path)
    turns = [t for e in episodes for t in e.turns]
    assert metrics["offpolicy/logprob_abs_diff"] < 1e-4  # hf shares the module: rollout == trainer
    assert any(t.trainer_logprobs for t in turns)
    assert all(len(t.trainer_logprobs) == len(t.response_token_ids) for t in turns if t.trainer_logprobs)


def test_aem_uses_rollout_entropy(tmp_path):
    metrics, episodes = _one_step("keydoor_aem.yaml", tmp_path)
    assert all(t.entropy is not None and t.entropy >= 0 for e in episodes for t in e.turns)
    assert metrics["aem/recomputed_entropy_turns"] == 0  # the hf backend reported it


def test_oprl_fills_step_rewards_and_updates_prm(tmp_path):
    metrics, episodes = _one_step("keydoor_oprl.yaml", tmp_path, "env.kwargs.max_turns=3")
    rewards = [t.step_reward for e in episodes for t in e.turns]
    assert all(r is not None and -1.0 <= r <= 1.0 for r in rewards)
    assert "oprl/prm_loss" in metrics


def test_a2tgpo_fills_information_gain_on_concat_transcripts(tmp_path):
    metrics, episodes = _one_step("toolcalc_a2tgpo.yaml", tmp_path)
    assert all(e.layout == "concat" for e in episodes)
    multi = [e for e in episodes if e.num_turns > 1]
    assert metrics["a2tgpo/ig_turns"] == sum(e.num_turns - 1 for e in multi)
    for e in multi:
        assert all(t.info_gain is not None for t in e.turns[:-1]) and e.turns[-1].info_gain is None
    assert all(t.clip_scale is not None and 0.7 <= t.clip_scale <= 1.3 for e in episodes for t in e.turns)


def test_matchtir_step(tmp_path):
    metrics, episodes = _one_step("toolcalc_matchtir.yaml", tmp_path)
    assert "adv/mean" in metrics


@pytest.mark.parametrize("config", ["toolcalc_grpo.yaml", "keydoor_grpo.yaml"])
def test_grpo_step(config, tmp_path):
    metrics, _ = _one_step(config, tmp_path)
    assert metrics["update/samples"] >= 0


@pytest.mark.slow
def test_two_ray_workers_roll_out_into_the_store(tmp_path):
    pytest.importorskip("ray")
    cfg = load_config(
        CONFIGS / "keydoor_gigpo.yaml",
        [*SMALL, "run.steps=2", f"run.out={tmp_path / 'run'}", "distributed.ray=true", "distributed.num_rollout_workers=2", "rollout.tasks_per_step=4"],
        profile="cpu",
    )
    trainer = Trainer(cfg)
    trainer.setup()
    try:
        for _ in range(2):
            trainer.metrics.log(trainer.train_step())
    finally:
        trainer.close()
        import ray

        ray.shutdown()
    with EpisodeStore(tmp_path / "run", readonly=True) as store:
        assert store.count(step=1, tagged=False) == 12 and store.count(step=2, tagged=False) == 12
        eps = store.query(step=2, tagged=False)
    assert len({e.group_id for e in eps}) == 4
    assert all(e.turns and e.turns[0].response_token_ids for e in eps)


@pytest.mark.slow
def test_alfworld_gigpo_cpu_profile_trains(tmp_path):
    pytest.importorskip("alfworld")
    from turngym.train.run import train

    cfg = load_config(CONFIGS / "alfworld_gigpo.yaml", [f"run.out={tmp_path / 'run'}", "run.threads=1", "run.tensorboard=false"], profile="cpu")
    results = train(cfg)
    assert set(results) >= {"initial", "final"}
    with EpisodeStore(tmp_path / "run", readonly=True) as store:
        eps = store.query(step=2, tagged=False)
    assert len(eps) == 8 and all(e.env_id == "ALFWorld-v0" and e.turns for e in eps)
    assert all(t.anchor and "admissible_actions" in t.meta for e in eps for t in e.turns)


def test_lora_step_saves_a_peft_adapter_and_resumes(tmp_path):
    lora = ["model.lora.enabled=true", "model.lora.r=4", "optim.lr=0.01"]
    _one_step("keydoor_gigpo.yaml", tmp_path, *lora)
    ckpt = tmp_path / "run" / "checkpoints" / "step_000001"
    assert (ckpt / "adapter_config.json").exists() and (ckpt / "adapter_model.safetensors").exists()
    assert not (ckpt / "model.safetensors").exists()  # LoRA runs save the adapter, not full weights
    cfg = load_config(CONFIGS / "keydoor_gigpo.yaml", [*SMALL, f"run.out={tmp_path / 'run'}", *lora, "run.steps=2"], profile="cpu")
    trainer = Trainer(cfg, resume=True)
    trainer.setup()
    try:
        assert trainer.step == 1
        trainable = [n for n, p in trainer.model.named_parameters() if p.requires_grad]
        assert trainable and all("lora_" in n for n in trainable)
        metrics = trainer.train_step()
        assert metrics["step"] == 2
    finally:
        trainer.close()
