"""The JSON API against a real run: filters, views, replay, branch, and rejection of bad input."""

from __future__ import annotations

import hashlib
import json

import pytest
from fastapi.testclient import TestClient

from turngym.replay import create_app
from turngym.replay.views import anchor_groups, step_returns
from turngym.store import EpisodeStore


@pytest.fixture
def client(run_dir):
    app = create_app(run_dir)
    with TestClient(app) as c:
        yield c
    app.state.run.close()


def _digest(run_dir) -> dict[str, str]:
    """A fingerprint of every recorded episode, to prove that nothing was altered."""
    with EpisodeStore(run_dir, readonly=True) as store:
        return {
            e.episode_id: hashlib.sha256(e.to_json().encode()).hexdigest()
            for e in store.iter_episodes(has_parent=False)
        }


def _failed(client) -> dict:
    page = client.get("/api/episodes", params={"won": False, "limit": 5}).json()
    assert page["items"], "the fixture run should have failed episodes"
    return page["items"][0]


def test_runs_lists_run_config_and_checkpoints(client, run_dir):
    body = client.get("/api/runs").json()
    assert [r["run_id"] for r in body["runs"]] == ["run-a"]
    assert body["num_episodes"] == 26
    assert body["env_ids"] == ["KeyDoor-v0"]
    assert (
        body["checkpoints"] == []
    )  # policy/ holds only a tokenizer: not a loadable checkpoint
    assert body["tokenizer"] == str(run_dir / "policy")
    assert (body["gamma"], body["gamma_source"]) == (0.9, "config.yaml")


def test_episode_filters_sorting_and_pages(client):
    everything = client.get("/api/episodes", params={"limit": 500}).json()
    assert everything["total"] == 26 and len(everything["items"]) == 26
    failed = client.get("/api/episodes", params={"won": "false", "limit": 500}).json()
    won = client.get("/api/episodes", params={"won": "true", "limit": 500}).json()
    assert failed["total"] + won["total"] == 26 and won["total"] >= 2
    assert all(not e["won"] for e in failed["items"]) and all(
        e["won"] for e in won["items"]
    )
    by_reward = client.get(
        "/api/episodes",
        params={"order_by": "outcome_reward", "descending": "false", "limit": 500},
    ).json()
    rewards = [e["outcome_reward"] for e in by_reward["items"]]
    assert rewards == sorted(rewards)
    first = client.get(
        "/api/episodes", params={"limit": 10, "offset": 0, "descending": False}
    ).json()["items"]
    second = client.get(
        "/api/episodes", params={"limit": 10, "offset": 10, "descending": False}
    ).json()["items"]
    assert not {e["episode_id"] for e in first} & {e["episode_id"] for e in second}
    gid = first[0]["group_id"]
    group = client.get("/api/episodes", params={"group_id": gid}).json()
    assert group["total"] == 4 and {e["group_id"] for e in group["items"]} == {gid}
    few_invalid = client.get(
        "/api/episodes", params={"max_invalid_rate": 0.0, "min_reward": 0.5}
    ).json()
    assert all(
        e["invalid_rate"] == 0 and e["outcome_reward"] >= 0.5
        for e in few_invalid["items"]
    )
    assert client.get("/api/episodes", params={"step": 0}).json()["total"] == 26
    assert client.get("/api/episodes", params={"step": 1}).json()["total"] == 0


def test_episode_view_has_tokens_and_training_fields(client):
    eid = _failed(client)["episode_id"]
    view = client.get(f"/api/episodes/{eid}").json()
    ep = view["episode"]
    assert ep["episode_id"] == eid and view["parent"] is None
    assert len(view["tokens"]) == len(ep["turns"])
    turn0, tokens0 = ep["turns"][0], view["tokens"][0]
    assert len(tokens0) == len(turn0["response_token_ids"])
    assert (
        "".join(tokens0) == turn0["action"] + "<|endoftext|>"
    )  # decoded one token at a time
    assert turn0["trainer_logprobs"] and turn0["loss_mask"][-1] == 0


def test_episode_view_without_tokenizer_shows_ids(run_dir):
    import shutil

    shutil.rmtree(run_dir / "policy")
    app = create_app(run_dir)
    with TestClient(app) as c:
        eid = c.get("/api/episodes", params={"limit": 1}).json()["items"][0][
            "episode_id"
        ]
        view = c.get(f"/api/episodes/{eid}").json()
    app.state.run.close()
    assert view["tokenizer"] is None and all(t is None for t in view["tokens"])


def test_group_view_and_anchor_groups(client):
    gid = _failed(client)["group_id"]
    group = client.get(f"/api/groups/{gid}").json()
    assert len(group["episodes"]) == 4 and group["gamma"] == 0.9
    turns = {
        (e["episode_id"], t["index"]): t for e in group["episodes"] for t in e["turns"]
    }
    assert group["anchor_groups"], "KeyDoor states recur within a group"
    for ag in group["anchor_groups"]:
        assert ag["size"] == len(ag["members"]) >= 2
        assert {
            turns[(m["episode_id"], m["turn"])]["anchor"] for m in ag["members"]
        } == {ag["anchor"]}


def test_step_returns_and_lone_anchors():
    assert step_returns([0.0, 0.0, 10.0], 0.95) == pytest.approx([9.025, 9.5, 10.0])
    from turngym.core.episode import Episode, Turn

    a = Episode(
        env_id="x",
        turns=[Turn(index=0, anchor="s0"), Turn(index=1, anchor="s1", reward=1.0)],
    )
    b = Episode(
        env_id="x", turns=[Turn(index=0, anchor="s0"), Turn(index=1, anchor="lone")]
    )
    groups = anchor_groups([a, b], 0.5)
    assert [g["anchor"] for g in groups] == ["s0"]
    assert sorted(m["step_return"] for m in groups[0]["members"]) == [0.0, 0.5]


def test_metrics(client):
    body = client.get("/api/metrics").json()
    assert len(body["rows"]) == 12 and {"success", "kl", "clip_frac"} <= set(
        body["keys"]
    )


def test_replay_reports_match_for_recorded_episodes(client):
    for item in client.get("/api/episodes", params={"limit": 6}).json()["items"]:
        report = client.post(f"/api/episodes/{item['episode_id']}/replay").json()
        assert report["match"] is True, report
        assert report["checked_turns"] == item["num_turns"]


def test_replay_detects_a_tampered_record(run_dir):
    with EpisodeStore(run_dir) as store:
        ep = store.query(limit=1)[0]
        bad = ep.model_copy(deep=True)
        bad.episode_id = "tampered"
        bad.turns[1].observation = "You are somewhere else."
        store.write(bad)
    app = create_app(run_dir)
    with TestClient(app) as c:
        report = c.post("/api/episodes/tampered/replay").json()
        assert report["match"] is False
        mism = [s for s in report["steps"] if not s["matches"]]
        assert {s["turn"] for s in mism} == {
            1
        }  # the observation shown before turn 1 differs
        assert report["steps"][1]["recorded_observation"] == "You are somewhere else."
        # a branch after the tampered turn refuses to start from a wrong state
        res = c.post(
            "/api/episodes/tampered/branch", json={"turn": 3, "action": "look"}
        )
        assert (
            res.status_code == 409
            and "do not replay identically" in res.json()["detail"]
        )
    app.state.run.close()


def test_branch_creates_a_linked_episode_and_never_alters_the_parent(client, run_dir):
    before = _digest(run_dir)
    parent = _failed(client)
    res = client.post(
        f"/api/episodes/{parent['episode_id']}/branch",
        json={"turn": 2, "action": "look"},
    )
    assert res.status_code == 201, res.text
    out = res.json()
    assert (
        out["parent_id"] == parent["episode_id"]
        and out["branch_turn"] == 2
        and out["num_turns"] == 3
    )
    child = client.get(f"/api/episodes/{out['episode_id']}").json()
    ep = child["episode"]
    pview = client.get(f"/api/episodes/{parent['episode_id']}").json()
    assert [t["action"] for t in ep["turns"]] == [
        t["action"] for t in pview["episode"]["turns"][:2]
    ] + ["look"]
    assert ep["turns"][2]["observation"] == pview["episode"]["turns"][2]["observation"]
    assert ep["final_observation"] == out["final_observation"]
    assert child["parent"]["episode_id"] == parent["episode_id"]
    assert [b["episode_id"] for b in pview["branches"]] == [out["episode_id"]]
    # the branch replays like any recorded episode, and can be continued at its end
    assert (
        client.post(f"/api/episodes/{out['episode_id']}/replay").json()["match"] is True
    )
    assert child["open"] is True
    more = client.post(
        f"/api/episodes/{out['episode_id']}/branch",
        json={"turn": 3, "action": "go north"},
    )
    assert more.status_code == 201 and more.json()["num_turns"] == 4
    listed = client.get("/api/episodes", params={"has_parent": True}).json()
    assert {e["episode_id"] for e in listed["items"]} == {
        out["episode_id"],
        more.json()["episode_id"],
    }
    assert _digest(run_dir) == before


def test_branch_until_the_env_finishes(client):
    """Re-typing a winning last action ends the branch (won); nothing can follow a finished one."""
    won = client.get("/api/episodes", params={"won": True, "limit": 1}).json()["items"]
    eid = won[0]["episode_id"]
    ep = client.get(f"/api/episodes/{eid}").json()["episode"]
    last = len(ep["turns"]) - 1
    out = client.post(
        f"/api/episodes/{eid}/branch",
        json={"turn": last, "action": ep["turns"][last]["action"]},
    ).json()
    assert out["done"] is True and out["summary"]["won"] is True
    res = client.post(
        f"/api/episodes/{out['episode_id']}/branch",
        json={"turn": last + 1, "action": "look"},
    )
    assert res.status_code == 422 and "out of range" in res.json()["detail"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/episodes/nope"),
        ("get", "/api/groups/nope"),
        ("post", "/api/episodes/nope/replay"),
    ],
)
def test_unknown_ids_are_404(client, method, path):
    res = getattr(client, method)(path)
    assert res.status_code == 404 and "not found" in res.json()["detail"]


def test_branch_unknown_episode_is_404(client):
    assert (
        client.post(
            "/api/episodes/nope/branch", json={"turn": 0, "action": "look"}
        ).status_code
        == 404
    )


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"turn": 1},
        {"turn": 1, "action": "look", "policy": "policy"},
        {"turn": -1, "action": "look"},
        {"turn": "two", "action": "look"},
        {"turn": 1, "action": 5},
        {"turn": 1, "action": "look", "extra": True},
        [1, 2],
    ],
)
def test_malformed_branch_bodies_are_422(client, body):
    eid = _failed(client)["episode_id"]
    res = client.post(f"/api/episodes/{eid}/branch", json=body)
    assert res.status_code == 422, res.text


def test_non_json_body_is_422(client):
    eid = _failed(client)["episode_id"]
    res = client.post(
        f"/api/episodes/{eid}/branch",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert res.status_code == 422


@pytest.mark.parametrize(
    "params",
    [
        {"won": "maybe"},
        {"limit": 0},
        {"limit": 10_000},
        {"offset": -1},
        {"order_by": "record"},
        {"min_reward": "nan"},
        {"step": "x"},
    ],
)
def test_bad_list_params_are_422(client, params):
    assert client.get("/api/episodes", params=params).status_code == 422


def test_branch_turn_out_of_range_is_a_clear_422(client, run_dir):
    before = _digest(run_dir)
    item = _failed(client)
    res = client.post(
        f"/api/episodes/{item['episode_id']}/branch",
        json={"turn": item["num_turns"] + 5, "action": "look"},
    )
    assert res.status_code == 422
    detail = res.json()["detail"]
    assert "out of range" in detail and f"{item['num_turns']} turns" in detail
    assert _digest(run_dir) == before


def test_policy_branch_unknown_checkpoint_is_422(client):
    eid = _failed(client)["episode_id"]
    res = client.post(
        f"/api/episodes/{eid}/branch", json={"turn": 0, "policy": "checkpoints/none"}
    )
    assert (
        res.status_code == 422 and "available: none in this run" in res.json()["detail"]
    )


def test_policy_branch_with_a_broken_checkpoint_is_422(client, run_dir):
    (run_dir / "checkpoints" / "step_9").mkdir(parents=True)
    (run_dir / "checkpoints" / "step_9" / "config.json").write_text("{not json")
    eid = _failed(client)["episode_id"]
    res = client.post(
        f"/api/episodes/{eid}/branch", json={"turn": 0, "policy": "checkpoints/step_9"}
    )
    assert res.status_code == 422, res.text
    assert "cannot load policy checkpoint" in res.json()["detail"]


def test_readonly_viewer_refuses_branches(run_dir):
    from turngym.replay.run import RunDir

    run = RunDir(run_dir, readonly=True)
    with TestClient(create_app(run)) as c:
        eid = c.get("/api/episodes", params={"limit": 1}).json()["items"][0][
            "episode_id"
        ]
        assert (
            c.post(
                f"/api/episodes/{eid}/branch", json={"turn": 0, "action": "look"}
            ).status_code
            == 409
        )
        assert c.post(f"/api/episodes/{eid}/replay").json()["match"] is True
    run.close()


def test_non_finite_values_are_sent_as_null(run_dir):
    with EpisodeStore(run_dir) as store:
        ep = store.query(limit=1)[0].model_copy(deep=True)
        ep.episode_id = "weird"
        ep.outcome_reward = float("nan")
        ep.turns[0].rollout_logprobs = [float("-inf")] * len(
            ep.turns[0].response_token_ids or []
        )
        store.write(ep)
    app = create_app(run_dir)
    with TestClient(app) as c:
        res = c.get("/api/episodes/weird")
        assert res.status_code == 200
        body = json.loads(res.text)  # strict JSON: no NaN/Infinity tokens
        assert body["episode"]["outcome_reward"] is None
        assert set(body["episode"]["turns"][0]["rollout_logprobs"]) == {None}
        assert c.get("/api/episodes", params={"limit": 500}).status_code == 200
    app.state.run.close()


def test_index_and_openapi(client):
    assert "turngym replay" in client.get("/").text
    assert client.get("/static/app.js").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {
        "/api/runs",
        "/api/episodes",
        "/api/episodes/{episode_id}",
        "/api/groups/{group_id}",
        "/api/episodes/{episode_id}/replay",
        "/api/episodes/{episode_id}/branch",
        "/api/metrics",
    } <= set(paths)
