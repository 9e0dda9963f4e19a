"""Every worked example of ALGOS.md, reproduced in the ``reference`` preset."""

from __future__ import annotations

import numpy as np
import pytest
from algos_testlib import make_table

from turngym.algos import compute_advantages


@pytest.fixture()
def gigpo_table():
    # A: s0,s1,s2, wins (10 on its last turn). B: s0,s1, loses, last action invalid.
    return make_table([
        {"reward": [0, 0, 10], "anchor": ["s0", "s1", "s2"]},
        {"reward": [0, 0], "anchor": ["s0", "s1"], "valid": [True, False]},
    ])


def test_gigpo_mean_norm(gigpo_table):
    r = compute_advantages("gigpo", gigpo_table, "reference", mode="mean_norm", gamma=0.95)
    np.testing.assert_allclose(r.advantage, [8.5325, 8.8200, 4.0200, -10.4925, -10.8800], atol=5e-5)


def test_gigpo_mean_std_norm(gigpo_table):
    r = compute_advantages("gigpo", gigpo_table, "reference", mode="mean_std_norm", gamma=0.95)
    np.testing.assert_allclose(r.advantage, [1.4374, 1.4374, 0.7303, -1.7934, -1.8116], atol=5e-5)


def test_gigpo_parts(gigpo_table):
    r = compute_advantages("gigpo", gigpo_table, "reference")
    np.testing.assert_allclose(r.diagnostics["step_return"], [9.025, 9.5, 10.0, 0.0, -0.1], atol=1e-12)
    assert r.diagnostics["step_advantage"][2] == 0.0  # s2 is alone in its anchor group


def test_matchtir():
    table = make_table([
        {"reward": [0.8, 0.5, 1.0]},
        {"reward": [0.0, 0.6]},
        {"reward": [0.3, 0.0, 0.0, 0.2]},
    ])
    r = compute_advantages("matchtir", table, "reference")
    expected = [1.1532, 1.1177, 0.9302, -0.5259, -0.3597, -0.6273, -0.758, -0.6666, -0.213]
    np.testing.assert_allclose(r.advantage, expected, atol=5e-5)


def test_matchtir_reads_tool_match_reward_column():
    table = make_table([
        {"reward": [0, 0, 0], "tool_match_reward": [0.8, 0.5, 1.0]},
        {"reward": [0, 0], "tool_match_reward": [0.0, 0.6]},
        {"reward": [0, 0, 0, 0], "tool_match_reward": [0.3, 0.0, 0.0, 0.2]},
    ])
    r = compute_advantages("matchtir", table, "reference")
    np.testing.assert_allclose(r.advantage[:3], [1.1532, 1.1177, 0.9302], atol=5e-5)


def test_a2tgpo():
    nan = float("nan")
    table = make_table([
        {"reward": [0, 0, 0], "info_gain": [0.05, 0.2, nan], "outcome": 1.0},
        {"reward": [0, 0, 0, 0], "info_gain": [-0.1, 0.02, 0.3, nan], "outcome": 0.0},
        {"reward": [0, 0], "info_gain": [1e-5, nan], "outcome": 1.0},
    ])
    r = compute_advantages("a2tgpo", table, "reference", alpha=0.3, gamma=1.0)
    np.testing.assert_allclose(
        r.advantage, [1.146, 1.0071, 0.7071, -1.8189, -1.6263, -1.4142, -1.4142, 0.7873, 0.7071], atol=5e-5
    )
    np.testing.assert_allclose(
        r.clip_scale, [1.1466, 1.1386, 1.0, 0.8249, 0.8614, 1.0, 1.0, 1.0399, 1.0], atol=5e-5
    )
    assert np.all((r.clip_scale > 0.7) & (r.clip_scale < 1.3))
