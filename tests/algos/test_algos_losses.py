"""Policy losses: gradients against autograd/finite differences, micro-batch invariance, clipping."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from turngym.algos.losses import (
    AGG_MODES,
    agg_loss,
    compute_entropy_loss,
    compute_policy_loss,
    compute_policy_loss_gspo,
    entropy_from_logits,
    global_counts,
    kl_penalty,
    segment_mean,
    segments_from_advantage_runs,
    total_loss,
)

torch.set_num_threads(1)


def batch(B=5, T=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    old = -torch.rand(B, T, generator=g, dtype=torch.float64) * 2
    logp = old + 0.4 * torch.randn(B, T, generator=g, dtype=torch.float64)
    adv = torch.randn(B, T, generator=g, dtype=torch.float64)
    mask = (torch.rand(B, T, generator=g) > 0.3).long()
    mask[-1] = 0  # an empty row must be guarded
    return old, logp, adv, mask


def test_ppo_gradient_matches_the_analytic_form():
    old, logp, adv, mask = batch()
    logp = logp.clone().requires_grad_(True)
    out = compute_policy_loss(old, logp, adv, mask, clip_ratio_low=0.2, clip_ratio_high=0.28, clip_ratio_c=None)
    out.loss.backward()
    ratio = torch.exp(logp.detach() - old)
    active = ((adv > 0) & (ratio < 1.28)) | ((adv < 0) & (ratio > 0.8))  # unclipped side of the max
    expected = torch.where(active, -adv * ratio, torch.zeros_like(adv)) * mask / mask.sum()
    torch.testing.assert_close(logp.grad, expected)


@pytest.mark.parametrize("mode", AGG_MODES)
def test_gradcheck_all_losses(mode):
    old, logp, adv, mask = batch(B=3, T=4, seed=1)
    scale = torch.tensor([[1.2, 1.2, 0.8, 0.8], [1.0, 1.1, 1.1, 0.9], [1.0] * 4], dtype=torch.float64)
    fns = [
        lambda x: compute_policy_loss(old, x, adv, mask, loss_agg_mode=mode).loss,
        lambda x: compute_policy_loss(old, x, adv, mask, loss_agg_mode=mode, clip_scale=scale).loss,
        lambda x: agg_loss(kl_penalty(x, old, "k3"), mask, mode),
    ]
    for fn in fns:
        assert torch.autograd.gradcheck(fn, (logp.clone().requires_grad_(True),), eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("segmented", [False, True])
def test_gspo_gradient_matches_the_analytic_form(segmented):
    # GSPO's stop-gradients make finite differences meaningless; its defined gradient per token is
    # −A·s/|segment-owner's tokens| on the unclipped side, with s the (turn or sequence) ratio.
    old, logp, adv_tok, mask = batch(seed=4)
    adv = adv_tok[:, :1].expand_as(adv_tok).contiguous()
    seg = torch.arange(7).div(3, rounding_mode="floor").expand(5, 7).clone() if segmented else None
    lp = logp.clone().requires_grad_(True)
    out = compute_policy_loss_gspo(old, lp, adv, mask, segment_ids=seg, clip_ratio_low=0.2, clip_ratio_high=0.2)
    out.loss.backward()
    s = torch.exp(segment_mean(logp - old, mask, seg))
    active = ((adv > 0) & (s < 1.2)) | ((adv < 0) & (s > 0.8))
    n_tok = mask.sum(-1, keepdim=True).clamp(min=1)
    n_seq = (mask.sum(-1) > 0).sum()
    expected = torch.where(active, -adv * s, torch.zeros_like(s)) * mask / n_tok / n_seq
    torch.testing.assert_close(lp.grad, expected)


@pytest.mark.parametrize("mode", AGG_MODES)
@pytest.mark.parametrize("kind", ["ppo", "gspo", "turn"])
def test_micro_batches_sum_to_the_full_batch(mode, kind):
    old, logp, adv, mask = batch(B=6, T=5, seed=2)
    seg = torch.arange(5).div(2, rounding_mode="floor").expand(6, 5).clone()

    def loss_fn(o, lp, a, m, s, **kw):
        if kind == "ppo":
            return compute_policy_loss(o, lp, a, m, loss_agg_mode=mode, norm_constant=5, **kw)
        return compute_policy_loss_gspo(o, lp, a, m, loss_agg_mode=mode, norm_constant=5,
                                        segment_ids=s if kind == "turn" else None, **kw)

    full_lp = logp.clone().requires_grad_(True)
    full = loss_fn(old, full_lp, adv, mask, seg)
    full.loss.backward()
    tokens, seqs = global_counts(mask)
    micro_lp = logp.clone().requires_grad_(True)
    total = 0.0
    metrics_sum = {k: 0.0 for k in full.metrics}
    for sl in (slice(0, 1), slice(1, 4), slice(4, 6)):
        out = loss_fn(old[sl], micro_lp[sl], adv[sl], mask[sl], seg[sl], global_tokens=tokens, global_seqs=seqs)
        out.loss.backward()
        total += float(out.loss.detach())
        for k, v in out.metrics.items():
            metrics_sum[k] += float(v)
    assert total == pytest.approx(float(full.loss.detach()), abs=1e-12)
    torch.testing.assert_close(micro_lp.grad, full_lp.grad)
    for k, v in full.metrics.items():
        assert metrics_sum[k] == pytest.approx(float(v), abs=1e-12)


def test_dual_clip_caps_negative_advantages():
    old = torch.zeros(1, 2, dtype=torch.float64)
    logp = torch.tensor([[3.0, 0.0]], dtype=torch.float64)  # ratio e^3 ≈ 20 on the first token
    adv = torch.tensor([[-1.0, 1.0]], dtype=torch.float64)
    mask = torch.tensor([[1, 0]])
    out = compute_policy_loss(old, logp, adv, mask, clip_ratio_c=3.0)
    assert float(out.loss) == pytest.approx(3.0)
    assert float(out.metrics["dual_clip_frac"]) == 1.0
    no_dual = compute_policy_loss(old, logp, adv, mask, clip_ratio_c=None)
    assert float(no_dual.loss) == pytest.approx(torch.exp(torch.tensor(3.0)).item())


def test_clip_higher_and_clip_scale():
    old = torch.zeros(1, 1, dtype=torch.float64)
    logp = torch.log(torch.tensor([[1.25]], dtype=torch.float64))
    adv = torch.ones(1, 1, dtype=torch.float64)
    mask = torch.ones(1, 1)
    sym = compute_policy_loss(old, logp, adv, mask, clip_ratio_low=0.2, clip_ratio_high=0.2)
    dapo = compute_policy_loss(old, logp, adv, mask, clip_ratio_low=0.2, clip_ratio_high=0.28)
    assert float(sym.loss) == pytest.approx(-1.2) and float(sym.metrics["clip_frac_high"]) == 1.0
    assert float(dapo.loss) == pytest.approx(-1.25) and float(dapo.metrics["clip_frac"]) == 0.0
    scaled = compute_policy_loss(old, logp, adv, mask, clip_scale=torch.tensor([1.3], dtype=torch.float64))
    assert float(scaled.loss) == pytest.approx(-1.25)  # ε = 0.2 × 1.3 = 0.26


def test_gspo_uses_the_sequence_ratio_and_turns_use_the_turn_ratio():
    old = torch.zeros(1, 4, dtype=torch.float64)
    logp = torch.tensor([[0.1, -0.1, 0.3, 0.1]], dtype=torch.float64)
    mask = torch.ones(1, 4)
    seq = segment_mean(logp - old, mask, None)
    torch.testing.assert_close(seq, torch.full((1, 4), 0.1, dtype=torch.float64))
    turns = segment_mean(logp - old, mask, torch.tensor([[0, 0, 1, 1]]))
    torch.testing.assert_close(turns, torch.tensor([[0.0, 0.0, 0.2, 0.2]], dtype=torch.float64))
    # one segment per token: the turn-level loss is token-level PPO without dual clip
    old2, logp2, adv2, mask2 = batch(seed=3)
    per_token = torch.arange(7).expand(5, 7)
    a = compute_policy_loss_gspo(old2, logp2, adv2, mask2, segment_ids=per_token, clip_ratio_low=0.2, clip_ratio_high=0.2)
    b = compute_policy_loss(old2, logp2, adv2, mask2, clip_ratio_c=None, loss_agg_mode="seq-mean-token-mean")
    assert float(a.loss) == pytest.approx(float(b.loss), abs=1e-12)


def test_aggregation_modes_by_hand():
    loss = torch.tensor([[1.0, 2.0, 3.0], [4.0, 0.0, 0.0], [9.0, 9.0, 9.0]])
    mask = torch.tensor([[1, 1, 1], [1, 0, 0], [0, 0, 0]])
    assert float(agg_loss(loss, mask, "token-mean")) == pytest.approx(10 / 4)
    assert float(agg_loss(loss, mask, "seq-mean-token-mean")) == pytest.approx((2 + 4) / 2)
    assert float(agg_loss(loss, mask, "seq-mean-token-sum")) == pytest.approx((6 + 4) / 2)
    assert float(agg_loss(loss, mask, "seq-mean-token-sum-norm", norm_constant=10)) == pytest.approx(10 / (10 * 2))
    assert float(agg_loss(loss, torch.zeros_like(mask), "token-mean")) == 0.0
    with pytest.raises(ValueError, match="token-mean"):
        agg_loss(loss, mask, "mean")


def test_kl_estimators():
    lp = torch.tensor([-1.0, -2.0, -0.5])
    ref = torch.tensor([-1.5, -2.0, 0.0])
    torch.testing.assert_close(kl_penalty(lp, ref, "k1"), lp - ref)
    torch.testing.assert_close(kl_penalty(lp, ref, "k2"), 0.5 * (lp - ref) ** 2)
    k3 = kl_penalty(lp, ref, "k3")
    torch.testing.assert_close(k3, torch.exp(ref - lp) - (ref - lp) - 1)
    assert torch.all(k3 >= 0)
    assert float(kl_penalty(torch.tensor([0.0]), torch.tensor([30.0]), "low_var_kl")) == 10.0
    with pytest.raises(ValueError, match="k3"):
        kl_penalty(lp, ref, "k4")


def test_entropy_and_total():
    logits = torch.randn(3, 4, 11)
    expected = torch.distributions.Categorical(logits=logits).entropy()
    torch.testing.assert_close(entropy_from_logits(logits), expected)
    pg, h, kl = torch.tensor(1.0), torch.tensor(2.0), torch.tensor(0.5)
    assert float(total_loss(pg, entropy=h, kl=kl, entropy_coef=0.01, kl_coef=0.1)) == pytest.approx(1 - 0.02 + 0.05)


def test_segments_from_advantage_runs_merge_equal_neighbours():
    adv = torch.tensor([[0.5, 0.5, 9.0, 0.5, 0.2, 0.2], [1.0, 1.0, 1.0, 1.0, 0.0, 0.0]])
    mask = torch.tensor([[1, 1, 0, 1, 1, 1], [1, 1, 1, 1, 0, 0]])
    seg = segments_from_advantage_runs(adv, mask)
    # the two 0.5 turns around the env token merge (the reference quirk)
    assert seg.tolist() == [[0, 0, -1, 0, 1, 1], [0, 0, 0, 0, -1, -1]]


def test_bad_clip_values():
    old, logp, adv, mask = batch()
    with pytest.raises(ValueError, match="clip_ratio_c"):
        compute_policy_loss(old, logp, adv, mask, clip_ratio_c=0.5)
    with pytest.raises(ValueError, match="clip_ratio_low"):
        compute_policy_loss(old, logp, adv, mask, clip_ratio_low=1.5)


def test_entropy_bonus_is_differentiable_and_aggregated():
    logits = torch.randn(2, 3, 5, dtype=torch.float64, requires_grad=True)
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]])
    h = compute_entropy_loss(logits, mask)
    expected = torch.distributions.Categorical(logits=logits).entropy()
    assert float(h.detach()) == pytest.approx(float((expected * mask).sum().detach() / 3))
    h.backward()
    assert logits.grad[0, 2].abs().sum() == 0 and logits.grad[0, 0].abs().sum() > 0
