"""Reward-side pieces that run a causal LM: information gain, the OPRL implicit PRM, entropies.
A tiny random Qwen2 built locally stands in for the policy (a real model, never downloaded)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from turngym.algos import compute_advantages
from turngym.algos.entropy import model_response_entropy, response_entropy, turn_entropy
from turngym.algos.info_gain import ground_truth_logprob, information_gain
from turngym.algos.lm import pad_right, token_logprobs
from turngym.algos.oprl import ImplicitPRM, normalize_step_rewards
from turngym.core.table import TurnTable

torch.set_num_threads(1)
PROMPT = [5, 9, 13, 2]
TURNS = [[21, 22, 23], [30, 31], [40, 41, 42, 43]]
GT = [7, 8, 9]


def contexts():
    ctx = [PROMPT]
    for t in TURNS:
        ctx.append(ctx[-1] + t)
    return ctx


def manual_score(model, ctx, gt):
    ids = torch.tensor([ctx + gt])
    with torch.no_grad():
        logp = torch.log_softmax(model(input_ids=ids).logits[0].double(), -1)
    return float(np.mean([logp[len(ctx) - 1 + j, gt[j]].item() for j in range(len(gt))]))


def test_ground_truth_logprob_matches_unbatched_teacher_forcing(tiny_lm):
    ctx = contexts()
    batched = ground_truth_logprob(tiny_lm, ctx, GT, batch_size=3)
    expected = [manual_score(tiny_lm, c, GT) for c in ctx]
    np.testing.assert_allclose(batched, expected, atol=1e-5)


def test_information_gain_variants(tiny_lm):
    ctx = contexts()
    s = np.array([manual_score(tiny_lm, c, GT) for c in ctx])
    paper = information_gain(tiny_lm, ctx, GT, preset="paper")
    np.testing.assert_allclose(paper, np.diff(s), atol=1e-5)
    ref = information_gain(tiny_lm, ctx, GT, preset="reference")
    np.testing.assert_allclose(ref, np.r_[0.0, np.diff(s[1:])], atol=1e-5)
    prob = information_gain(tiny_lm, ctx, GT, variant="prob", baseline="prompt")
    np.testing.assert_allclose(prob, np.diff(np.exp(s)), atol=1e-6)
    assert np.all(np.abs(prob) <= 1)
    with pytest.raises(ValueError, match="prompt"):
        information_gain(tiny_lm, ctx, GT, baseline="none")
    with pytest.raises(ValueError, match="at least one token"):
        ground_truth_logprob(tiny_lm, [[]], GT)


def test_information_gain_feeds_a2tgpo(tiny_lm):
    ig = information_gain(tiny_lm, contexts(), GT, preset="paper")
    table = TurnTable(group=[0] * 8, traj=[0] * 4 + [1] * 4, turn=[0, 1, 2, 3] * 2, reward=[0] * 8,
                      info_gain=np.r_[ig, np.nan, ig[::-1], np.nan], outcome=[1] * 4 + [0] * 4)
    r = compute_advantages("a2tgpo", table, "paper")
    assert r.clip_scale is not None and np.all(np.isfinite(r.advantage))


def step_batch(model):
    """Four step rows: two trajectories (success, failure) of two turns each."""
    prompts = [[1, 2, 3], [1, 2, 4], [1, 2, 3], [1, 2, 5]]
    responses = [[10, 11], [12, 13, 14], [20, 21], [22]]
    ids, attn = pad_right([p + r for p, r in zip(prompts, responses)])
    resp = torch.zeros_like(ids)
    for i, (p, r) in enumerate(zip(prompts, responses)):
        resp[i, len(p) : len(p) + len(r)] = 1
    with torch.no_grad():
        old = token_logprobs(model, ids, attn)
    meta = {"traj": np.array([0, 0, 1, 1]), "turn": np.array([0, 1, 0, 1]),
            "group": np.array([0, 0, 0, 0]), "outcome": np.array([1.0, 1.0, 0.0, 0.0])}
    return ids, attn, resp, old, meta


def test_prm_step_rewards_are_the_scaled_log_ratio(tiny_lm):
    ids, attn, resp, old, _ = step_batch(tiny_lm)
    prm = ImplicitPRM(tiny_lm, beta=0.05, lr=1e-2)
    assert prm.model is not tiny_lm
    np.testing.assert_allclose(prm.step_rewards(ids, attn, resp, old), 0.0, atol=1e-6)  # φ = π_old
    shifted = old - 0.3 * resp  # pretend the rollout policy was less likely on every response token
    raw = prm.step_rewards(ids, attn, resp, shifted)
    np.testing.assert_allclose(raw, 0.05 * 0.3 * resp.sum(-1).numpy(), atol=1e-6)


def test_prm_dpo_update_separates_success_from_failure(tiny_lm):
    ids, attn, resp, old, meta = step_batch(tiny_lm)
    prm = ImplicitPRM(tiny_lm, beta=0.05, lr=1e-2, preset="reference")
    losses = []
    for _ in range(15):
        rewards, stats = prm.step(ids, attn, resp, old, **meta)
        losses.append(stats["prm_loss"])
        assert stats["prm_pairs"] == 1.0
        returns = [rewards[0] + rewards[1], rewards[1], rewards[2] + rewards[3], rewards[3]]
        assert np.abs(returns).max() <= 1 + 1e-9
    assert losses[-1] < losses[0] - 1e-3
    raw = prm.step_rewards(ids, attn, resp, old)
    q = [raw[:2].mean(), raw[2:].mean()]
    assert q[0] > q[1]  # the successful trajectory's turns now earn more
    # the policy itself is untouched
    np.testing.assert_allclose(token_logprobs(tiny_lm, ids, attn).detach().numpy(), old.numpy(), atol=1e-6)
    table = TurnTable(group=meta["group"], traj=meta["traj"], turn=meta["turn"], reward=[0] * 4,
                      outcome=meta["outcome"], step_reward=normalize_step_rewards(raw, meta["traj"], meta["turn"]))
    assert np.all(np.isfinite(compute_advantages("oprl", table, "reference").advantage))


def test_prm_without_pairs_skips_the_step(tiny_lm):
    ids, attn, resp, old, meta = step_batch(tiny_lm)
    prm = ImplicitPRM(tiny_lm, lr=1e-2)
    before = [p.detach().clone() for p in prm.model.parameters()]
    stats = prm.update(ids, attn, resp, old, traj=meta["traj"], group=meta["group"], outcome=np.ones(4))
    assert stats["prm_pairs"] == 0.0
    assert all(torch.equal(a, b) for a, b in zip(before, prm.model.parameters()))


def test_normalize_step_rewards_bounds_returns():
    r = np.array([0.5, -2.0, 1.0, 3.0])
    out = normalize_step_rewards(r, np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1]))
    # reverse cumsums: traj0 [-1.5, -2], traj1 [4, 3] -> scale 4
    np.testing.assert_allclose(out, r / 4)


def test_entropy_helpers(tiny_lm):
    ids, attn, resp, _, _ = step_batch(tiny_lm)
    h = model_response_entropy(tiny_lm, ids, attn, resp)
    with torch.no_grad():
        logits = tiny_lm(input_ids=ids, attention_mask=attn).logits[:, :-1]
    dist = torch.distributions.Categorical(logits=logits.double()).entropy()
    m = resp[:, 1:].double()
    np.testing.assert_allclose(h, ((dist * m).sum(-1) / m.sum(-1)).numpy(), atol=1e-5)
    assert np.all(h > 0) and np.all(h <= np.log(64) + 1e-6)
    logits = torch.randn(2, 5, 7)
    mask = torch.tensor([[1, 1, 0, 1, 1], [0, 0, 0, 0, 0]])
    turns = torch.tensor([[0, 0, -1, 1, 1], [0, 0, 0, 1, 1]])
    per_turn = turn_entropy(logits, mask, turns)
    ent = torch.distributions.Categorical(logits=logits).entropy().double()
    np.testing.assert_allclose(per_turn[0], [ent[0, :2].mean(), ent[0, 3:].mean()], atol=1e-6)
    assert np.isnan(per_turn[1]).all() and np.isnan(response_entropy(logits, mask)[1])
