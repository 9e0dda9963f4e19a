"""The vectorised estimators agree with the per-row Python implementation of the benchmark, on
random tables in random row order (so the unsorted paths are exercised too)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from algos_testlib import make_table, random_trajs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from turngym.algos import compute_advantages
from turngym.algos._grouping import TrajIndex, factorize_objects

_spec = importlib.util.spec_from_file_location("gigpo_speed", Path(__file__).parents[2] / "benchmarks" / "gigpo_speed.py")
gigpo_speed = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gigpo_speed)


@st.composite
def shuffled_tables(draw):
    table = make_table(random_trajs(draw, st, max_len=6))
    perm = np.asarray(draw(st.permutations(range(len(table)))))
    return table.take(perm)


@pytest.mark.parametrize("mode", ["mean_norm", "mean_std_norm"])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table=shuffled_tables(), gamma=st.sampled_from([0.0, 0.5, 0.95, 1.0]))
def test_gigpo_matches_the_per_row_python_version(mode, table, gamma):
    table.outcome = None  # the per-row version sums the turn rewards
    fast = compute_advantages("gigpo", table, "reference", mode=mode, gamma=gamma).advantage
    slow = gigpo_speed.naive_gigpo(
        table.group.tolist(), table.traj.tolist(), table.turn.tolist(), table.reward.tolist(),
        table.valid.tolist(), table.anchor.tolist(), mode=mode, gamma=gamma,
    )
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(table=shuffled_tables(), gamma=st.floats(0.0, 1.0))
def test_discounting_matches_the_recursion(table, gamma):
    idx = TrajIndex(table.traj, table.turn)
    out = idx.discounted(table.reward, gamma)
    for t in np.unique(table.traj):
        rows = np.flatnonzero(table.traj == t)
        rows = rows[np.argsort(table.turn[rows])]
        running = 0.0
        for i in rows[::-1]:
            running = table.reward[i] + gamma * running
            assert out[i] == pytest.approx(running, abs=1e-12)
        assert idx.position[rows].tolist() == list(range(len(rows)))
        assert idx.first[rows[0]] and idx.last[rows[-1]]


def test_factorize_objects():
    codes = factorize_objects(np.array(["b", "a", "b", ("t", 1), "a", ("t", 1)], dtype=object))
    assert codes.tolist() == [0, 1, 0, 2, 1, 2]
    assert factorize_objects(np.array([7, 3, 7, -1])).tolist() == [0, 1, 0, 2]


def test_a_million_rows_run(tmp_path):
    """Not a timing assertion: the 1M-row path (sorted fast path, anchor codes) works end to end."""
    cols = gigpo_speed.make_batch(200_000, seed=1)
    from turngym.algos import TurnTable

    table = TurnTable(**cols)
    r = compute_advantages("gigpo", table, "reference", mode="mean_std_norm")
    assert r.advantage.shape == (len(table),) and np.isfinite(r.advantage).all()
    assert 0 < r.diagnostics["repeated_state_fraction"] < 1
