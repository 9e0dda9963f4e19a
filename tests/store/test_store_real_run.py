"""A real training run's store (tiny model, one GiGPO step on KeyDoor; one A2TGPO step on the
concatenated ToolCalc layout) survives store -> read -> JSONL/Parquet -> import field for field."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from turngym.core.episode import Episode, new_episode_id
from turngym.store import EpisodeStore, codec, exchange, legacy
from turngym.train.config import load_config
from turngym.train.trainer import Trainer

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
SMALL = [
    "run.steps=1", "run.threads=1", "run.tensorboard=false", "rollout.tasks_per_step=2", "rollout.group_size=3",
    "rollout.num_envs=6", "bc.enabled=false", "eval.tasks=2", "policy.max_new_tokens=8", "optim.drop_zero_advantage=false",
]  # fmt: skip


def _train_one_step(config: str, out: Path) -> None:
    torch.set_num_threads(1)
    trainer = Trainer(load_config(CONFIGS / config, [*SMALL, f"run.out={out}"], profile="cpu"))
    trainer.setup()
    try:
        trainer.metrics.log(trainer.train_step())
        trainer.save()
    finally:
        trainer.close()


def _exact(episode: Episode) -> str:
    return codec.encode(episode.model_dump())


@pytest.mark.slow
@pytest.mark.parametrize("config", ["keydoor_gigpo.yaml", "toolcalc_a2tgpo.yaml"])
def test_real_run_store_round_trips_every_field(tmp_path, config):
    _train_one_step(config, tmp_path / "run")
    with EpisodeStore(tmp_path / "run", readonly=True) as store:
        episodes = list(store.iter_episodes(batch_size=4))
        assert episodes and any(t.advantage is not None for e in episodes for t in e.turns)
        assert all(t.response_token_ids for e in episodes for t in e.turns if t.loss_mask)
        validated = [Episode.model_validate_json(codec.dump_episode(e)) for e in episodes]
        assert [_exact(e) for e in episodes] == [_exact(e) for e in validated]  # the fast read path is exact
        store.export_jsonl(tmp_path / "x.jsonl")
        store.export_parquet(tmp_path / "x.parquet")
    exchange.write_jsonl(tmp_path / "pydantic.jsonl", validated)
    assert (tmp_path / "x.jsonl").read_bytes() == (tmp_path / "pydantic.jsonl").read_bytes()
    for name, load in (("x.jsonl", "import_jsonl"), ("x.parquet", "import_parquet")):
        with EpisodeStore(tmp_path / name.replace(".", "_")) as dst:
            assert getattr(dst, load)(tmp_path / name) == len(episodes)
            assert [_exact(e) for e in dst.query()] == [_exact(e) for e in episodes]
    # the same episodes many times over (fresh ids), so fixed per-file pages do not decide the comparison
    copies = [e.model_copy(update={"episode_id": new_episode_id()}) for _ in range(40) for e in episodes]
    with EpisodeStore(tmp_path / "many") as many:
        many.write(copies)
    size = (tmp_path / "many" / "episodes.db").stat().st_size  # after close: the WAL is checkpointed
    legacy.write_v1(tmp_path / "v1.db", [copies])
    old = (tmp_path / "v1.db").stat().st_size
    turns = sum(e.num_turns for e in copies)
    print(f"{config}: {size / turns:.0f} B/turn (schema 1: {old / turns:.0f})")
    assert size < 0.5 * old
