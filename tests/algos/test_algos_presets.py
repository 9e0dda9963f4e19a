"""``paper`` and ``reference`` differ exactly where ALGOS.md says, and bad parameters are refused."""

from __future__ import annotations

import numpy as np
import pytest
from algos_testlib import make_table

from turngym.algos import TurnTable, compute_advantages, estimators
from turngym.algos.gigpo import similarity_clusters


def test_registry_lists_every_estimator_with_defaults():
    assert set(estimators) == {"grpo", "rloo", "reinforce_pp", "gigpo", "matchtir", "a2tgpo", "aem", "oprl", "turn_grpo"}
    for est in estimators.values():
        for preset in ("paper", "reference"):
            cfg = est.defaults(preset)
            assert isinstance(cfg, est.config)
    assert estimators["gigpo"].defaults().gamma == 0.95
    assert estimators["matchtir"].defaults("paper").combine == "sum"
    assert estimators["matchtir"].defaults("reference").combine == "half_sum"


@pytest.mark.parametrize(
    ("name", "params", "needle"),
    [
        ("gigpo", {"gamma": 1.5}, "[0.0, 1.0]"),
        ("gigpo", {"mode": "std"}, "mean_norm"),
        ("gigpo", {"similarity": 0.0}, "(0.0, 1.0]"),
        ("grpo", {"eps": -1}, "[0.0, 1.0]"),
        ("grpo", {"norm_by_std": "yes"}, "True or False"),
        ("matchtir", {"lam": 2}, "[0.0, 1.0]"),
        ("matchtir", {"combine": "max"}, "sum"),
        ("a2tgpo", {"alpha": -0.1}, "[0.0, inf]"),
        ("a2tgpo", {"clip_coef": 1.0}, "[0.0, 1.0)"),
        ("aem", {"lam": float("nan")}, "[0.0, inf]"),
        ("aem", {"scope": "batch"}, "trajectory"),
        ("aem", {"base": "aem"}, "grpo"),
        ("oprl", {"levels": "ppo"}, "rloo"),
        ("rloo", {"bogus": 1}, "allowed"),
    ],
)
def test_invalid_parameters_name_the_allowed_range(name, params, needle):
    table = make_table([{"reward": [1.0], "entropy": 1.0, "info_gain": 0.1, "step_reward": 0.1}])
    with pytest.raises(ValueError) as exc:
        compute_advantages(name, table, **params)
    assert needle in str(exc.value)


def test_unknown_estimator_and_preset():
    table = make_table([{"reward": [1.0]}])
    with pytest.raises(ValueError, match="gigpo"):
        compute_advantages("ppo", table)
    with pytest.raises(ValueError, match="reference"):
        compute_advantages("grpo", table, preset="official")


def test_missing_column_is_a_clear_error():
    table = make_table([{"reward": [1.0]}])
    with pytest.raises(KeyError, match="info_gain"):
        compute_advantages("a2tgpo", table)


def test_grpo_presets_differ_in_who_is_counted():
    # trajectory 0 has 3 turns, trajectory 1 has 1: step rows weigh trajectory 0 three times.
    t = make_table([{"reward": [0, 0, 1.0]}, {"reward": [0.0]}])
    paper = compute_advantages("grpo", t, "paper", norm_by_std=False).advantage
    ref = compute_advantages("grpo", t, "reference", norm_by_std=False).advantage
    np.testing.assert_allclose(paper, [0.5, 0.5, 0.5, -0.5])
    np.testing.assert_allclose(ref, [0.25, 0.25, 0.25, -0.75])
    # explicit cross_steps overrides the preset
    np.testing.assert_allclose(compute_advantages("grpo", t, "paper", norm_by_std=False, cross_steps=True).advantage, ref)


def test_grpo_invalid_penalty_hits_only_that_row_in_reference():
    t = make_table([{"reward": [0, 1.0], "valid": [False, True]}, {"reward": [0.0]}])
    ref = compute_advantages("grpo", t, "reference", norm_by_std=False).diagnostics["score"]
    paper = compute_advantages("grpo", t, "paper", norm_by_std=False).diagnostics["score"]
    np.testing.assert_allclose(ref, [0.9, 1.0, 0.0])
    np.testing.assert_allclose(paper, [0.9, 0.9, 0.0])


def test_gigpo_penalty_before_or_after_discount():
    t = make_table([
        {"reward": [0, 0, 1.0], "valid": [True, False, True], "anchor": ["a", "b", "c"]},
        {"reward": [0.0], "anchor": ["a"]},
    ])
    ref = compute_advantages("gigpo", t, "reference", gamma=0.5).diagnostics["step_return"]
    paper = compute_advantages("gigpo", t, "paper", gamma=0.5).diagnostics["step_return"]
    np.testing.assert_allclose(ref, [0.25, 0.5 - 0.1, 1.0, 0.0])
    np.testing.assert_allclose(paper, [0.25 - 0.05, 0.5 - 0.1, 1.0, 0.0])


def test_gigpo_similarity_anchors():
    group = np.array([0, 0, 0, 0, 1])
    anchor = np.array(["you are in the kitchen.", "you are in the kitchen!", "garden", "you are in the kitchen.", "garden"], dtype=object)
    c = similarity_clusters(group, anchor, 0.95)
    assert c[0] == c[1] == c[3] and c[2] != c[0] and c[4] not in (c[0], c[2])
    t = TurnTable(group=group, traj=[0, 0, 1, 1, 2], turn=[0, 1, 0, 1, 0], reward=[0, 1, 0, 0, 0], anchor=anchor)
    exact = compute_advantages("gigpo", t, "reference").diagnostics["anchor_groups"]
    fuzzy = compute_advantages("gigpo", t, "reference", similarity=0.95).diagnostics["anchor_groups"]
    assert (exact, fuzzy) == (4, 3)


def test_matchtir_combine_differs():
    t = make_table([{"reward": [0.8, 0.5]}, {"reward": [0.1, 0.0]}])
    p = compute_advantages("matchtir", t, "paper")
    r = compute_advantages("matchtir", t, "reference")
    np.testing.assert_allclose(p.advantage, 2 * r.advantage)


def test_a2tgpo_zero_ig_is_no_turn_only_in_reference():
    nan = float("nan")
    t = make_table([
        {"reward": [0, 0, 0], "info_gain": [0.0, 0.5, nan], "outcome": 1.0},
        {"reward": [0, 0, 0], "info_gain": [0.2, 0.1, nan], "outcome": 0.0},
    ])
    ref = compute_advantages("a2tgpo", t, "reference")
    paper = compute_advantages("a2tgpo", t, "paper")
    assert not ref.diagnostics["is_ig_turn"][0] and paper.diagnostics["is_ig_turn"][0]
    assert paper.clip_scale[0] != 1.0
    # the dropped turn's tokens take the next boundary's values (its clip scale and advantage)
    assert ref.clip_scale[0] == ref.clip_scale[1] != 1.0 and ref.advantage[0] == ref.advantage[1]
    # in the reference, traj 0's 0.5 becomes its first IG turn and is compared with traj 1's 0.2
    assert ref.diagnostics["ig_norm"][1] > 0 and ref.diagnostics["ig_norm"][3] < 0


def test_oprl_first_row_baseline_only_in_reference():
    t = make_table([
        {"reward": [0, 0], "outcome": 1.0, "step_reward": [0.5, 0.1]},
        {"reward": [0, 0], "outcome": 0.0, "step_reward": [-0.2, 0.3]},
    ])
    ref = compute_advantages("oprl", t, "reference").diagnostics["step_advantage"]
    paper = compute_advantages("oprl", t, "paper").diagnostics["step_advantage"]
    # reference: baseline from rows (0.5, -0.2), n=2 -> 2*(x - 0.15)
    np.testing.assert_allclose(ref, 2 * (np.array([0.5, 0.1, -0.2, 0.3]) - 0.15))
    # paper: all 4 rows, n=4 -> 4/3*(x - 0.175)
    np.testing.assert_allclose(paper, 4 / 3 * (np.array([0.5, 0.1, -0.2, 0.3]) - 0.175))
    g = compute_advantages("oprl", t, "reference", levels="grpo")
    assert np.isfinite(g.advantage).all()


def test_reinforce_pp_whitens_over_batch():
    t = make_table([{"reward": [0, 1.0]}, {"reward": [0.0]}])
    a = compute_advantages("reinforce_pp", t, gamma=0.5).advantage
    ret = np.array([0.5, 1.0, 0.0])
    np.testing.assert_allclose(a, (ret - ret.mean()) / np.sqrt(ret.var(ddof=1) + 1e-8))


def test_from_episodes_round_trip():
    from turngym.core.episode import Episode, Turn

    eps = [
        Episode(env_id="X", group_id="g", outcome_reward=1.0, turns=[Turn(index=0, anchor="a"), Turn(index=1, anchor="b", reward=1.0)]),
        Episode(env_id="X", group_id="g", outcome_reward=0.0, turns=[Turn(index=0, anchor="a")]),
    ]
    table = TurnTable.from_episodes(eps)
    r = compute_advantages("gigpo", table, "reference")
    table.write_back(eps, r.advantage, r.clip_scale)
    assert [t.advantage for e in eps for t in e.turns] == pytest.approx(list(r.advantage))
