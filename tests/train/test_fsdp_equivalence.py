"""N learner ranks compute the update one process computes (FSDP2 under torchrun, gloo on CPU).

A batch is recorded once (a real rollout of a tiny local policy on KeyDoor, advantages from the
estimator under test), then updated by one process and by a 2-rank torchrun job that shards the
policy per decoder layer and splits the batch by whole groups. The updated parameters must agree
to 1e-5 (fp32), with full fine-tuning and with LoRA.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from turngym.agents.backends.hf import HFBackend
from turngym.agents.rollout import RolloutEngine, make_tasks
from turngym.algos import TurnTable, compute_advantages
from turngym.models.loading import load_model_and_tokenizer
from turngym.models.tiny import build_model_dir
from turngym.train.policy import make_llm_agent

WORKER = Path(__file__).with_name("fsdp_update_worker.py")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("fsdp")
    model_dir = build_model_dir(root / "model", "tiny", seed=0)
    model, tok = load_model_and_tokenizer(model_dir)
    agent = make_llm_agent(HFBackend(model, tok), env_id="KeyDoor-v0", template="compact", history_k=0, max_new_tokens=6)
    engine = RolloutEngine("KeyDoor-v0", agent, env_kwargs={"max_turns": 4}, num_envs=8)
    try:
        episodes = engine.run(make_tasks(5, seed=3), group_size=3, run_id="rec", step=1)
    finally:
        engine.close()
    return model_dir, episodes, root


def _batch_file(recorded, algo: str) -> Path:
    model_dir, episodes, root = recorded
    # A random tiny policy never wins: give half the episodes a win on their last turn (seeded),
    # so the advantages, and with them the gradients, are far from zero.
    rng = np.random.default_rng(7)
    for ep in episodes:
        ep.turns[-1].reward = float(rng.random() < 0.5)
        ep.outcome_reward = sum(t.reward for t in ep.turns)
    table = TurnTable.from_episodes(episodes)
    result = compute_advantages(algo, table, preset="reference")
    table.write_back(episodes, result.advantage, result.clip_scale)
    path = root / f"batch_{algo}.json"
    path.write_text(json.dumps([e.model_dump(mode="json") for e in episodes]))
    return path


def _run(args: list[str], nproc: int) -> None:
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(nproc)] if nproc > 1 else [sys.executable]
    proc = subprocess.run([*launcher, str(WORKER), *args], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.mark.parametrize("lora", [False, True], ids=["full", "lora"])
@pytest.mark.parametrize("algo", ["grpo", "gigpo"])
def test_two_ranks_equal_one_process(recorded, tmp_path, algo, lora):
    model_dir, _, _ = recorded
    batch = _batch_file(recorded, algo)
    flags = ["--lora"] if lora else []
    _run([str(model_dir), str(batch), str(tmp_path / "one.pt"), *flags], nproc=1)
    _run([str(model_dir), str(batch), str(tmp_path / "two.pt"), *flags], nproc=2)
    one = torch.load(tmp_path / "one.pt")
    two = torch.load(tmp_path / "two.pt")
    assert one["state"].keys() == two["state"].keys() and one["state"]
    diff = max(float((one["state"][k].float() - two["state"][k].float()).abs().max()) for k in one["state"])
    assert diff <= 1e-5, f"max |Δparam| = {diff:.3g}"
    initial, _ = load_model_and_tokenizer(model_dir)
    if not lora:  # the update did move the weights (the comparison is not between two no-ops)
        moved = max(float((one["state"][k] - v).abs().max()) for k, v in initial.state_dict().items())
        assert moved > 1e-4, f"the update hardly moved the weights ({moved:.2g})"
    assert two["my_samples"] < one["my_samples"]  # rank 0 trained on its share only
    assert one["metrics"]["update/samples"] == two["metrics"]["update/samples"]
    assert one["metrics"]["update/tokens"] == two["metrics"]["update/tokens"]
