"""Re-running and branching episodes of several envs, straight through ``turngym.replay.rerun``."""

from __future__ import annotations

import random

import pytest

from turngym.agents.rollout import RolloutEngine, make_tasks
from turngym.agents.scripted import OracleAgent, RandomAgent
from turngym.core.episode import Episode
from turngym.replay import rerun
from turngym.store.synthetic import synthetic_episode


@pytest.fixture(scope="module")
def episodes() -> list[Episode]:
    with RolloutEngine(
        "ToolCalc-v0", RandomAgent(seed=1, garbage_prob=0.3), num_envs=2
    ) as e:
        eps = e.run(make_tasks(3), group_size=2, run_id="tc")
    with RolloutEngine("ToolCalc-v0", OracleAgent(), num_envs=2) as e:
        eps += e.run(make_tasks(2), group_size=1, run_id="tc")
    kwargs = {"size": 4, "invalid_penalty": 0.1}
    with RolloutEngine(
        "KeyDoor-v0",
        RandomAgent(seed=1, garbage_prob=0.3),
        env_kwargs=kwargs,
        num_envs=2,
    ) as e:
        eps += e.run(make_tasks(2), group_size=2, run_id="kd4")
    return eps


def test_recorded_episodes_replay_identically(episodes):
    assert any(
        t.tool_calls for ep in episodes for t in ep.turns
    )  # tool results are part of the check
    assert any(not t.action_valid for ep in episodes for t in ep.turns)
    for ep in episodes:
        result = rerun.replay_episode(ep)
        assert result.match, [s.mismatches for s in result.steps if not s.matches]
        assert result.checked_turns == len(ep.turns)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("reward", 123.0, "reward: recorded 123.0"),
        ("terminated", True, "done: recorded terminated=True"),
        ("info", {"won": "maybe"}, "info['won']"),
    ],
)
def test_each_recorded_field_is_checked(episodes, field, value, message):
    ep = episodes[-1].model_copy(deep=True)
    setattr(ep.turns[0], field, value)
    result = rerun.replay_episode(ep)
    assert not result.match and not result.steps[0].matches
    assert any(message in m for m in result.steps[0].mismatches), result.steps[
        0
    ].mismatches


def test_final_observation_is_checked_when_recorded(episodes):
    ep = episodes[-1].model_copy(deep=True)
    ep.final_observation = "not what the env says"
    result = rerun.replay_episode(ep)
    assert (
        not result.match and "final observation differs" in result.steps[-1].mismatches
    )


def test_unmakeable_env_is_a_replay_error():
    ep = Episode(env_id="NoSuchEnv-v9", turns=[])
    with pytest.raises(rerun.ReplayError, match="cannot make env 'NoSuchEnv-v9'"):
        rerun.replay_episode(ep)
    ep = Episode(env_id="KeyDoor-v0", env_kwargs={"size": 99})
    with pytest.raises(rerun.ReplayError, match="size"):
        rerun.replay_episode(ep)
    ep = Episode(env_id="KeyDoor-v0", reset_options={"task_id": "garbage"})
    with pytest.raises(rerun.ReplayError, match="reset"):
        rerun.replay_episode(ep)


def test_synthetic_episode_reports_mismatch_not_crash():
    ep = synthetic_episode(random.Random(0))
    result = rerun.replay_episode(ep)
    assert result.match is False and result.steps[0].recorded_observation is not None


def test_branch_keeps_the_prefix_and_never_alters_the_parent(episodes):
    parent = next(e for e in episodes if e.env_id == "KeyDoor-v0")
    snapshot = parent.to_json()
    child = rerun.branch(parent, 1, action="look", source={"kind": "typed"})
    assert parent.to_json() == snapshot
    assert child.episode_id != parent.episode_id and (
        child.parent_id,
        child.branch_turn,
    ) == (parent.episode_id, 1)
    assert child.turns[0] == parent.turns[0] and child.turns[1].action == "look"
    assert child.env_kwargs == parent.env_kwargs and child.group_id == parent.group_id
    assert rerun.replay_episode(child).match


def test_branch_with_an_agent_plays_to_the_end(episodes):
    parent = next(
        e for e in episodes if e.env_id == "ToolCalc-v0" and e.env_kwargs.get("expert")
    )
    child = rerun.branch(parent, 0, agent=OracleAgent(), max_turns=10)
    assert (
        child.won and child.turns[-1].terminated and rerun.replay_episode(child).match
    )


def test_branch_turn_range_messages(episodes):
    ep = episodes[0]
    n = len(ep.turns)
    assert rerun.check_branch_turn(ep, n - 1) is None
    assert "out of range" in rerun.check_branch_turn(
        ep, n
    )  # finished episode: nothing after the end
    assert "must be >= 0" in rerun.check_branch_turn(ep, -1)
    with pytest.raises(ValueError, match="exactly one"):
        rerun.branch(ep, 0)
