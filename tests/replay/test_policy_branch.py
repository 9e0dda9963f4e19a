"""Branching with a policy checkpoint of the run: a tiny real Qwen2 model samples the new turns."""

from __future__ import annotations

import os

import pytest
from fastapi.testclient import TestClient

os.environ.setdefault("HF_HUB_OFFLINE", "1")

torch = pytest.importorskip("torch")
pytest.importorskip("turngym.agents.backends.hf", reason="HF backend not available")

from turngym.replay import create_app
from turngym.replay.policy import agent_settings
from turngym.store import EpisodeStore


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    from turngym.models import ensure_model_dir

    return ensure_model_dir(tmp_path_factory.mktemp("tiny") / "model", "tiny", seed=0)


def test_agent_settings_follow_the_run_config():
    assert agent_settings({}) == {"max_new_tokens": 16}
    cfg = {
        "policy": {
            "template": "plain",
            "max_new_tokens": 8,
            "temperature": 0.5,
            "backend": "hf",
            "vllm": {},
        }
    }
    assert agent_settings(cfg) == {
        "template": "plain",
        "max_new_tokens": 8,
        "temperature": 0.5,
    }


def test_branch_with_a_policy_checkpoint(run_dir, tiny_model):
    import shutil

    torch.set_num_threads(1)
    shutil.copytree(tiny_model, run_dir / "checkpoints" / "step_1")
    (run_dir / "config.yaml").write_text(
        "algo:\n  gamma: 0.9\npolicy:\n  max_new_tokens: 6\n"
    )
    app = create_app(run_dir)
    with TestClient(app) as c:
        assert "checkpoints/step_1" in c.get("/api/runs").json()["checkpoints"]
        parent = c.get("/api/episodes", params={"won": False, "limit": 1}).json()[
            "items"
        ][0]
        before = app.state.run.store.get(parent["episode_id"]).to_json()
        res = c.post(
            f"/api/episodes/{parent['episode_id']}/branch",
            json={"turn": 2, "policy": "checkpoints/step_1", "max_turns": 3},
        )
        assert res.status_code == 201, res.text
        out = res.json()
        child = c.get(f"/api/episodes/{out['episode_id']}").json()["episode"]
    app.state.run.close()
    assert 3 <= out["num_turns"] <= 5
    new_turns = child["turns"][2:]
    assert (
        child["parent_id"] == parent["episode_id"]
        and child["meta"]["branch"]["source"]["policy"] == "checkpoints/step_1"
    )
    for t in (
        new_turns
    ):  # sampled by the model: token ids, logprobs and the prompt are recorded
        assert (
            t["response_token_ids"]
            and len(t["rollout_logprobs"]) == len(t["response_token_ids"]) <= 6
        )
        assert t["prompt"] is not None
    with EpisodeStore(run_dir, readonly=True) as store:
        assert store.get(parent["episode_id"]).to_json() == before
