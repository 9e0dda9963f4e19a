"""Discussion-v0 with scripted agents: votes, consensus stops, malformed messages, credit values."""

from __future__ import annotations

import numpy as np
import pytest

import turngym
from turngym.agents.discussion import AgentRouter, ScriptedDiscussant
from turngym.agents.rollout import RolloutEngine, TaskSpec
from turngym.envs.discussion.protocol import (
    latest_keys,
    majority,
    parse_critics,
    parse_verdict,
)


def run(behaviours, n_tasks=1, group=1, fmt=None, **env_kwargs):
    agent = ScriptedDiscussant(behaviours, **({"fmt": fmt} if fmt else {}))
    with RolloutEngine("Discussion-v0", agent, env_kwargs=env_kwargs, num_envs=2) as eng:
        return eng.run([TaskSpec(seed=s) for s in range(n_tasks)], group_size=group)


def test_majority_vote_and_tie_rule():
    (ep,) = run({"agent0": "correct", "agent1": "wrong", "agent2": "wrong"}, rounds=1)
    assert [t.agent for t in ep.turns] == ["agent0", "agent1", "agent2"]
    assert not ep.won and ep.outcome_reward == 0.0 and ep.turns[-1].info["team_answer"] == ep.turns[1].info["answer_key"]
    (ep,) = run({"agent0": "correct", "agent1": "correct", "agent2": "wrong"}, rounds=1)
    assert ep.won and ep.outcome_reward == 1.0 and ep.score == 1.0
    # a 1-1 tie goes to the lowest-numbered agent's answer
    (ep,) = run({"agent0": "wrong", "agent1": "correct"}, agents=2, rounds=1)
    assert not ep.won
    (ep,) = run({"agent0": "correct", "agent1": "wrong"}, agents=2, rounds=1)
    assert ep.won


def test_persuadable_agent_follows_the_majority_and_team_credit():
    (ep,) = run({"agent0": "correct", "agent1": "correct", "agent2": "persuadable"}, rounds=2, credit="team")
    assert [t.info["verified"] for t in ep.turns] == [1.0, 1.0, 0.0, 1.0, 1.0, 1.0]
    assert [t.reward for t in ep.turns] == [0.0, 0.0, 0.0, 1.0, 1.0, 1.0]  # team outcome on each agent's last turn
    assert ep.outcome_reward == 1.0
    (ep,) = run({"agent0": "correct", "agent1": "wrong", "agent2": "wrong"}, rounds=2, credit="final")
    assert [t.reward for t in ep.turns] == [0.0] * 6  # team lost: nothing to hand out


def test_maporl_rewards_match_hand_computed_values():
    # gamma 0.5; scores round 0 = [1, 1, 0], round 1 = [1, 1, 1]; agent2 is persuaded by two right agents
    (ep,) = run({"agent0": "correct", "agent1": "correct", "agent2": "persuadable"}, rounds=2, credit="maporl", gamma=0.5, alpha=[0.1, 0.2, 0.3, 0.4])
    np.testing.assert_allclose([t.reward for t in ep.turns], [1.0, 1.0, 1 / 3, 1.0, 1.0, 1.1], atol=1e-12)
    # two agents: agent0 (right) persuades agent1: a3 is subtracted in round 0 (the reference's sign), a0 added in round 1
    (ep,) = run({"agent0": "correct", "agent1": "persuadable"}, agents=2, rounds=2, credit="maporl", gamma=0.5, alpha=[0.1, 0.2, 0.3, 0.4])
    np.testing.assert_allclose([t.reward for t in ep.turns], [0.6, 1 / 3, 1.0, 1.1], atol=1e-12)
    # persuaded into the partner's wrong answer: every score stays 0, no change, no bonus
    (ep,) = run({"agent0": "wrong", "agent1": "persuadable"}, agents=2, rounds=2, credit="maporl", gamma=1.0, alpha=[0.1, 0.2, 0.3, 0.4])
    np.testing.assert_allclose([t.reward for t in ep.turns], [0.0, 0.0, 0.0, 0.0])  # persuaded into the wrong answer: no change


def test_consensus_stops_debate_and_ceo():
    (ep,) = run({}, rounds=3, stop_on_consensus=True)
    assert len(ep.turns) == 3 and ep.won and ep.turns[-1].info["consensus"]
    (ep,) = run({}, rounds=3, stop_on_consensus=False)
    assert len(ep.turns) == 9
    # ceo: every critic agrees with a right solution in round 0 -> stop before the CEO speaks
    (ep,) = run({}, topology="ceo", agents=2, rounds=3)
    assert [t.agent for t in ep.turns] == ["solver", "critic1", "critic2"] and ep.won
    # a wrong solver: right critics disagree, a right CEO continues; no CEO in the last round
    (ep,) = run({"solver": "wrong"}, topology="ceo", agents=2, rounds=2)
    assert [t.agent for t in ep.turns] == ["solver", "critic1", "critic2", "ceo", "solver", "critic1", "critic2"]
    assert not ep.won and all(t.info["verified"] == 1.0 for t in ep.turns if t.agent != "solver")
    # a persuadable CEO stops at once
    (ep,) = run({"solver": "wrong", "ceo": "persuadable"}, topology="ceo", agents=1, rounds=3)
    assert [t.agent for t in ep.turns] == ["solver", "critic1", "ceo"] and ep.turns[-1].info["decision"] == "stop"


def test_ceo_sets_the_number_of_critics():
    env = turngym.make("Discussion-v0", topology="ceo", agents=3, rounds=2)
    env.reset(seed=0)
    for msg in ["answer[1]", "[Disagree]", "[Disagree]", "[Agree]"]:
        _, _, _, _, info = env.step(msg)
    _, _, _, _, info = env.step("one more round, critics: 1 [Continue]")
    assert info["critics"] == 1 and info["agent"] == "solver"
    env.step("answer[2]")
    _, _, term, _, info = env.step("[Disagree]")
    assert term and info["speaker"] == "critic1"


def test_malformed_messages_are_retried_then_recorded_as_missing_votes():
    (ep,) = run({"agent0": "garbage", "agent1": "correct", "agent2": "wrong"}, rounds=1, invalid_penalty=0.1)
    assert [t.agent for t in ep.turns] == ["agent0", "agent0", "agent1", "agent2"]
    assert [t.action_valid for t in ep.turns] == [False, False, True, True]
    assert ep.turns[0].info["retry"] and "write it again" in ep.turns[1].observation
    # agent0 abstains; the 1-1 tie between agent1 and agent2 goes to agent1 (right)
    assert ep.won
    np.testing.assert_allclose([t.reward for t in ep.turns], [-0.1, 1.0 - 0.1, 1.0, 1.0])
    # a judge without an answer: the debaters' majority decides
    (ep,) = run({"judge": "garbage", "agent2": "wrong"}, rounds=1, aggregate="judge", max_retries=0)
    assert ep.turns[-1].agent == "judge" and not ep.turns[-1].action_valid
    assert ep.won and ep.turns[-1].info["answer_source"] == "vote"
    # nobody answers at all: no team answer, score 0
    (ep,) = run({"agent0": "garbage", "agent1": "garbage"}, agents=2, rounds=2, max_retries=0)
    assert not ep.won and ep.turns[-1].info["team_answer"] is None and ep.score == 0.0


def test_hostile_input_never_raises():
    env = turngym.make("Discussion-v0", topology="ceo", agents=2, rounds=2)
    env.reset(seed=1)
    rng = np.random.default_rng(0)
    for action in [None, b"\xff\xfe", 12, "", "[Agree][Disagree]" * 1000, "answer[" + "9" * 400 + "]", "\udcff"]:
        obs, r, term, trunc, _ = env.step(action)
        assert isinstance(obs, str) and np.isfinite(r)
        obs.encode("utf-8")
        if term or trunc:
            env.reset(seed=int(rng.integers(100)))


def test_protocol_rules():
    assert parse_verdict("I [agree] ... on reflection [Disagree]") == "disagree"
    assert parse_verdict("fine") is None
    assert parse_critics("critics: 9", 1, 3) == 3 and parse_critics("none", 1, 3) is None
    assert latest_keys([["1", None], [None, None], [None, "2"]]) == ["1", None, "2"]
    assert majority(["2", "1", "1", "2", None]) == ("2", 0)
    assert majority([None, None]) == (None, None)


def test_discussion_over_searchqa():
    behaviours = {"agent0": "correct", "agent1": "wrong", "agent2": "persuadable"}
    eps = run(behaviours, n_tasks=2, fmt=lambda a: f"<answer> {a} </answer>", env="SearchQA-v0", env_kwargs={"size": "tiny"}, rounds=2, credit="maporl")
    for ep in eps:
        assert ep.won and ep.turns[0].info["ground_truth"]
        assert "<answer>" in ep.turns[0].observation and "Question: " in ep.turns[0].observation
        assert [t.info["verified"] for t in ep.turns] == [1.0, 0.0, 0.0, 1.0, 0.0, 1.0]


def test_router_sends_each_agent_to_its_policy():
    right, wrong = ScriptedDiscussant({}, default="correct"), ScriptedDiscussant({}, default="wrong")
    router = AgentRouter({"agent1": wrong}, default=right)
    with RolloutEngine("Discussion-v0", router, env_kwargs={"rounds": 1}, num_envs=3) as eng:
        eps = eng.run([TaskSpec(seed=s) for s in range(3)])
    for ep in eps:
        assert [t.info["verified"] for t in ep.turns] == [1.0, 0.0, 1.0]
    with pytest.raises(KeyError, match="no agent for agent id"):
        AgentRouter({"agent0": right}).agent_for("agent9")


def test_bad_settings_and_unwrappable_env():
    with pytest.raises(ValueError, match="topology"):
        turngym.make("Discussion-v0", topology="chat")
    with pytest.raises(ValueError, match="credit"):
        turngym.make("Discussion-v0", credit="shapley")
    with pytest.raises(TypeError, match="no checkable answer"):
        turngym.make("Discussion-v0", env="KeyDoor-v0")


def test_registered_builtin_with_the_fixed_info_keys():
    import gymnasium as gym

    from turngym.envs.registration import registry

    assert "Discussion-v0" in registry
    env = gym.make("turngym/Discussion-v0", expert=True)
    _, info = env.reset(seed=5)
    assert {"task_id", "anchor", "action_valid", "won", "agent", "expert_action"} <= set(info)
    assert info["task_id"].startswith("toolcalc-") and info["agent"] == "agent0"
    _, _, _, _, info = env.step(info["expert_action"])
    assert info["action_valid"] is True and info["speaker"] == "agent0" and info["agent"] == "agent1"


def test_replay_reproduces_and_branches_a_discussion():
    from turngym.replay.rerun import branch, replay_episode

    (ep,) = run({"agent0": "correct", "agent1": "wrong", "agent2": "persuadable"}, rounds=2, credit="maporl", gamma=0.5, alpha=[0.1, 0.2, 0.3, 0.4])
    result = replay_episode(ep)  # step rewards re-run; the hindsight credit is kept beside them
    assert result.match, [s.mismatches for s in result.steps]
    assert [t.meta["env_reward"] for t in ep.turns][-1] == 1.0
    # branch at agent2's round-2 message and let the scripted agents finish: the credit is recomputed
    child = branch(ep, 5, action="I stay wrong. answer[-5]")
    assert child.turns[-1].agent == "agent2" and child.turns[-1].info["verified"] == 0.0
    # scores now [1, 0, 0] in both rounds: r(0, a) = (s + 0.5 * 1/3) / 1.5, no bonus fires
    np.testing.assert_allclose([t.reward for t in child.turns], [7 / 9, 1 / 9, 1 / 9, 1.0, 0.0, 0.0], atol=1e-12)
    # three different last-round answers tie 1-1-1: agent0's (right) wins
    assert child.won and child.outcome_reward == 1.0


def test_hindsight_rewards_of_the_wrong_shape_are_ignored_not_raised():
    from turngym.agents.rollout import apply_hindsight
    from turngym.core.episode import Episode, Turn

    ep = Episode(env_id="x", turns=[Turn(index=0, reward=0.5), Turn(index=1, reward=1.0)])
    assert not apply_hindsight(ep, {"turn_rewards": [1.0]}) and "2 turns" in ep.meta["hindsight_error"]
    assert not apply_hindsight(ep, {"turn_rewards": [1.0, "x"]})
    assert not apply_hindsight(ep, {"turn_rewards": [1.0, float("nan")]})
    assert [t.reward for t in ep.turns] == [0.5, 1.0]
    assert apply_hindsight(ep, {"turn_rewards": [0.0, 2.0], "outcome_reward": 1.0})
    assert [t.reward for t in ep.turns] == [0.0, 2.0] and [t.meta["env_reward"] for t in ep.turns] == [0.5, 1.0]


def test_judge_consensus_flag_reads_the_debaters_last_round():
    (ep,) = run({}, rounds=1, aggregate="judge")
    assert ep.turns[-1].agent == "judge" and ep.turns[-1].info["answer_source"] == "judge" and ep.turns[-1].info["consensus"]


def test_discussion_over_mathtool():
    """MathTool-v0 implements CheckableAnswer (boxed answers, math-verify keys): a debate over it
    votes on normalised answers, and a persuadable agent joins the correct majority."""
    pytest.importorskip("reasoning_gym")
    behaviours = {"agent0": "correct", "agent1": "correct", "agent2": "persuadable"}
    eps = run(behaviours, n_tasks=2, fmt=lambda a: f"The answer is \\boxed{{{a}}}.", env="MathTool-v0", rounds=2, credit="team")
    for ep in eps:
        assert ep.won and ep.turns[0].info["ground_truth"]
        assert "\\boxed" in ep.turns[0].observation  # the wrapped env's answer_spec reaches the agents
        assert [t.info["verified"] for t in ep.turns] == [1.0, 1.0, 0.0, 1.0, 1.0, 1.0]
    wrong = run({"agent0": "wrong", "agent1": "wrong", "agent2": "correct"}, fmt=lambda a: f"\\boxed{{{a}}}", env="MathTool-v0", rounds=1)
    assert not wrong[0].won
