"""The vectorised credit rules against the per-row loop, and per-agent estimators by hand."""

from __future__ import annotations

import numpy as np
import pytest

from turngym.algos import TurnTable, compute_advantages
from turngym.algos.multiagent import per_agent_table
from turngym.envs.discussion.credit import (
    final_credit,
    maporl_credit,
    maporl_credit_loop,
    team_credit,
)


def ragged_batch(seed: int, n_episodes: int = 60):
    """Discussions of 1-4 rounds where a random non-empty subset of 4 agents speaks each round."""
    rng = np.random.default_rng(seed)
    ep, rd, ag, sc = [], [], [], []
    for e in range(n_episodes):
        for t in range(int(rng.integers(1, 5))):
            speakers = np.flatnonzero(rng.random(4) < 0.7)
            for a in speakers if len(speakers) else [int(rng.integers(4))]:
                ep.append(e), rd.append(t), ag.append(int(a))
                sc.append(float(rng.choice([0.0, 1.0, 0.5, rng.random()])))
    return ep, rd, ag, sc


@pytest.mark.parametrize("seed", range(5))
def test_vectorised_maporl_equals_the_loop(seed):
    ep, rd, ag, sc = ragged_batch(seed)
    for gamma, alpha in [(0.3, (0, 0, 0, 0)), (0.9, (0.1, -0.2, 0.3, -0.4)), (1.0, (1, 2, 3, 4)), (0.0, (0.5, 0.5, 0.5, 0.5))]:
        fast = maporl_credit(ep, rd, ag, sc, gamma=gamma, alpha=alpha)
        slow = maporl_credit_loop(ep, rd, ag, sc, gamma=gamma, alpha=alpha)
        np.testing.assert_allclose(fast, slow, atol=1e-12)


def test_maporl_rejects_duplicates_and_bad_gamma():
    with pytest.raises(ValueError, match="appears twice"):
        maporl_credit([0, 0], [0, 0], [1, 1], [1.0, 0.0])
    with pytest.raises(ValueError, match="gamma"):
        maporl_credit([0], [0], [0], [1.0], gamma=1.5)
    assert len(maporl_credit([], [], [], [])) == 0


def test_team_and_final_credit():
    ep = [0, 0, 0, 0, 1, 1]
    agent = [0, 1, 0, 1, 0, 1]
    np.testing.assert_array_equal(team_credit(ep, agent, [1.0, 0.5]), [0, 0, 1, 1, 0.5, 0.5])
    np.testing.assert_array_equal(final_credit(ep, [1.0, 0.5]), [0, 0, 0, 1, 0, 0.5])


def test_per_agent_grpo_normalises_each_agent_against_itself():
    # one task, two discussions; agent A scores 1 then 0, agent B scores 1 in both
    table = TurnTable(
        group=[0, 0, 0, 0], traj=[0, 0, 1, 1], turn=[0, 1, 0, 1], reward=[1.0, 1.0, 0.0, 1.0], agent=["A", "B", "A", "B"]
    )
    adv = compute_advantages("grpo", table, preset="paper", per_agent=True).advantage
    s = np.std([1.0, 0.0], ddof=1)
    np.testing.assert_allclose(adv, [0.5 / (s + 1e-6), 0.0, -0.5 / (s + 1e-6), 0.0])
    # without per_agent the pooled returns (2 vs 1) give every turn of a discussion the same sign
    pooled = compute_advantages("grpo", table, preset="paper").advantage
    assert pooled[1] > 0 and pooled[3] < 0
    with pytest.raises(KeyError, match="agent"):
        compute_advantages("grpo", TurnTable(group=[0], traj=[0], turn=[0], reward=[1.0]), per_agent=True)


def test_per_agent_table_indexes_each_agents_own_turns():
    table = TurnTable(group=[0] * 6, traj=[0] * 6, turn=range(6), reward=[0.0] * 6, agent=["a", "b", "a", "b", "c", "a"])
    sub = per_agent_table(table)
    np.testing.assert_array_equal(sub.turn, [0, 0, 1, 1, 0, 2])
    np.testing.assert_array_equal(sub.final, [False, False, False, True, True, True])
    assert len(set(sub.traj.tolist())) == 3 and len(set(sub.group.tolist())) == 3


def test_turn_grpo_per_agent_matches_hand_values():
    # two discussions of one task; per (agent, round): A r0 rewards [1, 0], B r0 [0.5, 0.5], A r1 [2, 0]
    table = TurnTable(
        group=[0] * 6, traj=[0, 0, 0, 1, 1, 1], turn=[0, 1, 2, 0, 1, 2], reward=[1.0, 0.5, 2.0, 0.0, 0.5, 0.0],
        agent=["A", "B", "A", "A", "B", "A"],
    )
    adv = compute_advantages("turn_grpo", table, per_agent=True).advantage
    s1, s2 = np.std([1.0, 0.0], ddof=1), np.std([2.0, 0.0], ddof=1)
    np.testing.assert_allclose(adv, [0.5 / (s1 + 1e-6), 0.0, 1.0 / (s2 + 1e-6), -0.5 / (s1 + 1e-6), 0.0, -1.0 / (s2 + 1e-6)])
