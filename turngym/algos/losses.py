"""Policy losses over per-token tensors and masks, verl ``core_algos`` style (ALGOS.md §1).

Every function is pure: ``(B, T)`` tensors in, a scalar loss (and metric tensors) out. Tokens count
only where ``response_mask`` is 1 (policy tokens; env/tool tokens are 0).

Micro-batching: pass ``global_tokens`` / ``global_seqs`` (see :func:`global_counts`) computed on
the *whole* mini-batch, and the losses of the micro-batches sum to the loss of the whole batch, so
gradient accumulation does not change the gradient. Metrics are normalised the same way and are
therefore additive across micro-batches too. Without them the local counts are used.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

AGG_MODES = ("token-mean", "seq-mean-token-mean", "seq-mean-token-sum", "seq-mean-token-sum-norm")
KL_KINDS = ("k1", "k2", "k3", "low_var_kl")


class PolicyLoss(NamedTuple):
    loss: torch.Tensor
    metrics: dict[str, torch.Tensor]


def global_counts(response_masks: list[torch.Tensor] | torch.Tensor) -> tuple[int, int]:
    """(valid tokens, sequences with ≥1 valid token) over a batch or its list of micro-batches."""
    masks = [response_masks] if isinstance(response_masks, torch.Tensor) else list(response_masks)
    tokens = sum(int(m.sum()) for m in masks)
    seqs = sum(int((m.sum(-1) > 0).sum()) for m in masks)
    return tokens, seqs


def agg_loss(
    loss_mat: torch.Tensor,
    loss_mask: torch.Tensor,
    loss_agg_mode: str = "token-mean",
    *,
    global_tokens: float | None = None,
    global_seqs: float | None = None,
    norm_constant: float | None = None,
) -> torch.Tensor:
    """Reduce a ``(B, T)`` loss matrix to a scalar.

    - ``token-mean``: Σ over valid tokens / number of valid tokens (global).
    - ``seq-mean-token-mean``: Σ over sequences with ≥1 valid token of their token mean / their
      number (global); empty sequences contribute nothing and are not counted.
    - ``seq-mean-token-sum``: Σ of per-sequence token sums / number of non-empty sequences.
    - ``seq-mean-token-sum-norm`` (Dr.GRPO): Σ of all token losses / (``norm_constant`` × number of
      non-empty sequences); ``norm_constant`` defaults to ``T`` and should be a fixed maximum length.
    """
    if loss_agg_mode not in AGG_MODES:
        raise ValueError(f"loss_agg_mode must be one of {AGG_MODES}, got {loss_agg_mode!r}")
    if loss_mat.shape != loss_mask.shape:
        raise ValueError(f"loss_mat {tuple(loss_mat.shape)} and loss_mask {tuple(loss_mask.shape)} differ in shape")
    mask = loss_mask.to(loss_mat.dtype)
    masked = loss_mat * mask
    if loss_agg_mode == "token-mean":
        denom = mask.sum() if global_tokens is None else torch.as_tensor(float(global_tokens), dtype=loss_mat.dtype)
        return masked.sum() / denom.clamp(min=1.0)
    seq_tokens = mask.sum(-1)
    if global_seqs is None:
        global_seqs = float((seq_tokens > 0).sum())
    n_seqs = max(float(global_seqs), 1.0)
    if loss_agg_mode == "seq-mean-token-mean":
        return (masked.sum(-1) / seq_tokens.clamp(min=1.0)).sum() / n_seqs
    if loss_agg_mode == "seq-mean-token-sum":
        return masked.sum() / n_seqs
    constant = float(loss_mat.shape[-1] if norm_constant is None else norm_constant)
    if constant <= 0:
        raise ValueError(f"norm_constant must be > 0, got {norm_constant}")
    return masked.sum() / (constant * n_seqs)


def _token_mean(x: torch.Tensor, mask: torch.Tensor, global_tokens: float | None) -> torch.Tensor:
    return agg_loss(x.detach().to(torch.float64), mask, "token-mean", global_tokens=global_tokens)


def _broadcast_adv(advantages: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return advantages.unsqueeze(-1).expand_as(like) if advantages.dim() == 1 else advantages


def _epsilons(clip_low: float, clip_high: float, clip_scale: torch.Tensor | None, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if not 0.0 <= clip_low < 1.0:
        raise ValueError(f"clip_ratio_low must be in [0, 1), got {clip_low}")
    if not clip_high >= 0.0:
        raise ValueError(f"clip_ratio_high must be in [0, inf), got {clip_high}")
    scale = torch.ones_like(like) if clip_scale is None else _broadcast_adv(clip_scale.to(like.dtype), like)
    return clip_low * scale, clip_high * scale


def compute_policy_loss(
    old_log_prob: torch.Tensor,
    log_prob: torch.Tensor,
    advantages: torch.Tensor,
    response_mask: torch.Tensor,
    *,
    clip_ratio_low: float = 0.2,
    clip_ratio_high: float = 0.2,
    clip_ratio_c: float | None = 3.0,
    clip_scale: torch.Tensor | None = None,
    loss_agg_mode: str = "token-mean",
    global_tokens: float | None = None,
    global_seqs: float | None = None,
    norm_constant: float | None = None,
) -> PolicyLoss:
    """PPO-clip with clip-higher (``clip_ratio_high`` > ``clip_ratio_low``, DAPO 0.2/0.28) and dual
    clip (for A < 0 the loss is capped at ``−A·c``; ``clip_ratio_c=None`` disables it).

    ``advantages`` and ``clip_scale`` are ``(B, T)`` or ``(B,)`` (one per sequence); ``clip_scale``
    multiplies both ε per token (A²TGPO's adaptive clip).
    """
    if clip_ratio_c is not None and clip_ratio_c <= 1.0:
        raise ValueError(f"clip_ratio_c must be > 1 (or None to disable dual clip), got {clip_ratio_c}")
    adv = _broadcast_adv(advantages, log_prob).to(log_prob.dtype)
    eps_low, eps_high = _epsilons(clip_ratio_low, clip_ratio_high, clip_scale, log_prob)
    log_ratio = torch.clamp(log_prob - old_log_prob, -20.0, 20.0)
    ratio = torch.exp(log_ratio)
    pg1 = -adv * ratio
    pg2 = -adv * torch.clamp(ratio, 1.0 - eps_low, 1.0 + eps_high)
    clipped = torch.maximum(pg1, pg2)
    if clip_ratio_c is not None:
        pg3 = -adv * clip_ratio_c
        dual = torch.minimum(pg3, clipped)
        losses = torch.where(adv < 0, dual, clipped)
        dual_active = (clipped > pg3) & (adv < 0)
    else:
        losses = clipped
        dual_active = torch.zeros_like(adv, dtype=torch.bool)
    loss = agg_loss(losses, response_mask, loss_agg_mode, global_tokens=global_tokens, global_seqs=global_seqs, norm_constant=norm_constant)
    metrics = {
        "clip_frac": _token_mean((pg2 > pg1).float(), response_mask, global_tokens),
        "clip_frac_high": _token_mean(((ratio > 1.0 + eps_high) & (adv > 0)).float(), response_mask, global_tokens),
        "clip_frac_low": _token_mean(((ratio < 1.0 - eps_low) & (adv < 0)).float(), response_mask, global_tokens),
        "dual_clip_frac": _token_mean(dual_active.float(), response_mask, global_tokens),
        "approx_kl": _token_mean(-log_ratio, response_mask, global_tokens),
    }
    return PolicyLoss(loss, metrics)


def segment_mean(x: torch.Tensor, mask: torch.Tensor, segment_ids: torch.Tensor | None) -> torch.Tensor:
    """Per-token value of the masked mean of ``x`` over the token's segment (its sequence when
    ``segment_ids`` is None; ids < 0 mark tokens outside every segment)."""
    m = mask.to(x.dtype)
    if segment_ids is None:
        seq = (x * m).sum(-1) / m.sum(-1).clamp(min=1.0)
        return seq.unsqueeze(-1).expand_as(x)
    seg = segment_ids.long()
    inside = (seg >= 0) & (m > 0)
    n_seg = int(seg.max().item()) + 1 if seg.numel() else 1
    n_seg = max(n_seg, 1)
    key = torch.arange(x.shape[0], device=x.device).unsqueeze(-1) * n_seg + seg.clamp(min=0)
    w = inside.to(x.dtype)
    sums = torch.zeros(x.shape[0] * n_seg, dtype=x.dtype, device=x.device).index_add(0, key.reshape(-1), (x * w).reshape(-1))
    cnts = torch.zeros_like(sums).index_add(0, key.reshape(-1), w.reshape(-1))
    return (sums / cnts.clamp(min=1.0))[key] * w


def compute_policy_loss_gspo(
    old_log_prob: torch.Tensor,
    log_prob: torch.Tensor,
    advantages: torch.Tensor,
    response_mask: torch.Tensor,
    *,
    segment_ids: torch.Tensor | None = None,
    clip_ratio_low: float = 3e-4,
    clip_ratio_high: float = 4e-4,
    clip_scale: torch.Tensor | None = None,
    loss_agg_mode: str = "seq-mean-token-mean",
    global_tokens: float | None = None,
    global_seqs: float | None = None,
    norm_constant: float | None = None,
) -> PolicyLoss:
    """GSPO: the importance ratio is the geometric mean over a sequence, applied per token as
    ``exp(logp − sg(logp) + sg(log s))`` (clamped at ``log s ≤ 10``), PPO-clip without dual clip.

    With ``segment_ids`` (one id per turn) the ratio is averaged over each turn instead: the
    turn-level ratio of A²TGPO; pass its ``clip_scale`` per token (reference ε 3e-3/4e-3).
    """
    adv = _broadcast_adv(advantages, log_prob).to(log_prob.dtype)
    eps_low, eps_high = _epsilons(clip_ratio_low, clip_ratio_high, clip_scale, log_prob)
    neg_kl = log_prob - old_log_prob
    seg_log_ratio = segment_mean(neg_kl, response_mask, segment_ids)
    log_ratio = torch.clamp(log_prob - log_prob.detach() + seg_log_ratio.detach(), max=10.0)
    ratio = torch.exp(log_ratio)
    pg1 = -adv * ratio
    pg2 = -adv * torch.clamp(ratio, 1.0 - eps_low, 1.0 + eps_high)
    losses = torch.maximum(pg1, pg2)
    loss = agg_loss(losses, response_mask, loss_agg_mode, global_tokens=global_tokens, global_seqs=global_seqs, norm_constant=norm_constant)
    metrics = {
        "clip_frac": _token_mean((pg2 > pg1).float(), response_mask, global_tokens),
        "clip_frac_high": _token_mean(((ratio > 1.0 + eps_high) & (adv > 0)).float(), response_mask, global_tokens),
        "clip_frac_low": _token_mean(((ratio < 1.0 - eps_low) & (adv < 0)).float(), response_mask, global_tokens),
        "approx_kl": _token_mean(-neg_kl, response_mask, global_tokens),
    }
    return PolicyLoss(loss, metrics)


def segments_from_advantage_runs(advantages: torch.Tensor, response_mask: torch.Tensor) -> torch.Tensor:
    """Turn ids as the A²TGPO reference loss infers them: a new turn starts wherever the advantage
    of the next valid token differs, so two adjacent turns with equal advantage merge. Prefer
    explicit turn ids; this exists to reproduce the reference."""
    valid = response_mask > 0
    B, T = advantages.shape
    flat_adv = advantages[valid]
    rows = torch.arange(B, device=advantages.device).unsqueeze(-1).expand(B, T)[valid]
    change = torch.ones_like(flat_adv, dtype=torch.long)
    if flat_adv.numel() > 1:
        change[1:] = ((rows[1:] != rows[:-1]) | (flat_adv[1:] != flat_adv[:-1])).long()
    run = torch.cumsum(change, 0) - 1
    first_run = torch.full((B,), 0, dtype=torch.long, device=advantages.device)
    if run.numel():
        first_run = first_run.scatter_reduce(0, rows, run, reduce="amin", include_self=False)
    out = torch.full((B, T), -1, dtype=torch.long, device=advantages.device)
    out[valid] = run - first_run[rows]
    return out


def kl_penalty(log_prob: torch.Tensor, ref_log_prob: torch.Tensor, kind: str = "low_var_kl") -> torch.Tensor:
    """Per-token KL estimate to a reference policy: k1 ``logp − ref``, k2 ``½(logp − ref)²``,
    k3/``low_var_kl`` ``exp(ref − logp) − (ref − logp) − 1`` clamped to [−10, 10]."""
    if kind not in KL_KINDS:
        raise ValueError(f"kind must be one of {KL_KINDS}, got {kind!r}")
    diff = log_prob - ref_log_prob
    if kind == "k1":
        return diff
    if kind == "k2":
        return 0.5 * diff.square()
    kl = -diff
    return torch.clamp(torch.exp(kl) - kl - 1.0, -10.0, 10.0)


def entropy_from_logits(logits: torch.Tensor) -> torch.Tensor:
    """Token entropy of the softmax over the last dim, ``logsumexp(z) − Σ softmax(z)·z`` (half
    precision is computed in float32)."""
    if logits.dtype in (torch.float16, torch.bfloat16):
        logits = logits.float()
    p = torch.softmax(logits, dim=-1)
    return torch.logsumexp(logits, dim=-1) - (p * logits).sum(-1)


def compute_entropy_loss(
    logits: torch.Tensor,
    response_mask: torch.Tensor,
    loss_agg_mode: str = "token-mean",
    *,
    global_tokens: float | None = None,
    global_seqs: float | None = None,
    norm_constant: float | None = None,
) -> torch.Tensor:
    """Aggregated token entropy (keeps the graph: it is the entropy *bonus* term of the loss)."""
    return agg_loss(entropy_from_logits(logits), response_mask, loss_agg_mode, global_tokens=global_tokens,
                    global_seqs=global_seqs, norm_constant=norm_constant)


def total_loss(
    pg_loss: torch.Tensor,
    *,
    entropy: torch.Tensor | None = None,
    kl: torch.Tensor | None = None,
    entropy_coef: float = 0.0,
    kl_coef: float = 0.0,
) -> torch.Tensor:
    """``pg − entropy_coef·H + kl_coef·KL`` with ``H`` and ``KL`` already aggregated (:func:`agg_loss`)."""
    out = pg_loss
    if entropy is not None and entropy_coef:
        out = out - entropy_coef * entropy
    if kl is not None and kl_coef:
        out = out + kl_coef * kl
    return out
