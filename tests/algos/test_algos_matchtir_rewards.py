"""MatchTIR turn rewards: similarity, Kuhn–Munkres vs the greedy matcher, Sinkhorn OT, answer F1."""

from __future__ import annotations

import numpy as np
import pytest

from turngym.algos.matchtir import (
    answer_f1,
    call_similarity,
    greedy_rewards,
    km_rewards,
    ot_rewards,
    sinkhorn,
    turn_rewards,
)


def call(name, **args):
    return {"name": name, "arguments": args}


def test_similarity_formula():
    gold = call("search", q="paris", k=3)
    assert call_similarity(call("SEARCH", q="paris", k=3), gold) == pytest.approx((1 + 1 + 2) / 4)
    assert call_similarity(call("search", q="rome", k=3), gold) == pytest.approx((1 + 1 + 1) / 4)
    assert call_similarity(call("search", q="paris"), gold) == pytest.approx((1 + 0.5 + 1) / 4)
    assert call_similarity(call("search"), gold) == pytest.approx(1 / 4)
    assert call_similarity(call("lookup", q="paris", k=3), gold) == 0.0
    assert call_similarity(call("now"), call("now")) == 1.0
    # OpenAI-style calls with JSON string arguments
    oa = {"type": "function", "function": {"name": "search", "arguments": '{"q": "paris", "k": 3}'}}
    assert call_similarity(oa, gold) == 1.0


def test_km_beats_greedy_where_greedy_is_myopic():
    S = np.array([[0.9, 0.8], [0.7, 0.0]])
    np.testing.assert_allclose(km_rewards(S), [0.8, 0.7])  # total 1.5
    np.testing.assert_allclose(greedy_rewards(S), [0.9, 0.0])  # total 0.9
    assert greedy_rewards(np.zeros((2, 2))).sum() == 0.0


def test_sinkhorn_plan_has_the_marginals():
    rng = np.random.default_rng(0)
    S = rng.random((3, 5))
    T = sinkhorn(np.full(3, 1 / 3), np.full(5, 1 / 5), -S, 0.1)
    np.testing.assert_allclose(T.sum(1), 1 / 3, atol=1e-8)
    np.testing.assert_allclose(T.sum(0), 1 / 5, atol=1e-8)
    np.testing.assert_allclose(ot_rewards(S), (T * S).sum(1), atol=1e-10)
    # a perfect diagonal match: each call gets about S_ii / P
    np.testing.assert_allclose(ot_rewards(np.eye(2)), [0.5, 0.5], atol=1e-3)


def test_answer_f1():
    assert answer_f1("The Eiffel-Tower", "eiffel tower") == pytest.approx(2 * (2 / 3) * 1 / (2 / 3 + 1))
    assert answer_f1("x", "y") == 0.0


def test_turn_rewards_presets_and_assignments():
    gold = [call("a", x=1), call("b", y=2)]
    pred = [
        {"tool_calls": [call("a", x=1), call("b", y=3)]},
        {"tool_calls": [call("b", y=2)]},
        {"tool_calls": []},
        {"answer": "the answer", "tool_calls": []},
    ]
    paper = turn_rewards(pred, gold, "km", preset="paper", gold_answer="answer")
    ref = turn_rewards(pred, gold, "km", preset="reference", gold_answer="answer")
    # both: call a/x=1 matches a (1.0); b/y=2 (1.0) beats b/y=3 (0.75) for the b gold call
    np.testing.assert_allclose(paper, [0.5, 1.0, 0.0, answer_f1("the answer", "answer")])
    np.testing.assert_allclose(ref, paper)
    ot = turn_rewards(pred, gold, "ot", gold_answer="answer")
    assert np.all(ot[:2] > 0) and ot[2] == 0.0 and ot[:2].max() < 0.5  # carries the 1/P factor
    with pytest.raises(ValueError, match="km"):
        turn_rewards(pred, gold, "hungarian")
    with pytest.raises(ValueError, match="name"):
        turn_rewards([{"tool_calls": [{"arguments": {}}]}], gold)


def test_turn_rewards_km_vs_greedy_differs():
    # S = [[1, 5/6], [5/8, 1/3]]: greedy takes the 1 and leaves 1/3; the optimum is 5/6 + 5/8.
    gold = [call("f", a=1, b=1), call("f", a=1)]
    pred = [[call("f", a=1, b=1)], [call("f", b=1)]]
    np.testing.assert_allclose(turn_rewards(pred, gold, "km", preset="paper"), [5 / 6, 5 / 8])
    np.testing.assert_allclose(turn_rewards(pred, gold, "km", preset="reference"), [1.0, 1 / 3])
    np.testing.assert_allclose(turn_rewards(pred, gold, "greedy", preset="paper"), [1.0, 1 / 3])
