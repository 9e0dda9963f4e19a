"""One policy update over a batch of episodes: samples → micro-batches → PPO-clip loss → step.

Loss normalisation uses the token/sequence counts of the whole batch (``global_counts``), so the
micro-batch split (length buckets) does not change the gradient. On N learner ranks the counts are
summed over the ranks and every rank runs the same number of micro-batches (empty ones where it
has fewer), so N ranks compute the update one process computes on the same batch
(:mod:`turngym.train.parallel`). The first epoch's forward pass
runs on the weights that generated the rollout, so its logprobs are the trainer-side logprobs that
the off-policy guard compares with the rollout engine's.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import torch

from turngym.algos import losses
from turngym.core.episode import Episode
from turngym.train.config import OptimConfig
from turngym.train.parallel import SINGLE, DistContext, all_reduce
from turngym.train.samples import Batch, Sample, collate, length_buckets, padded_batches, token_logprobs


def autocast_context(mode: str, device: str = "cpu") -> contextlib.AbstractContextManager[Any]:
    if mode == "none":
        return contextlib.nullcontext()
    if mode == "auto" and device == "cpu":
        return contextlib.nullcontext()  # fp32 on CPU unless asked: tiny models gain nothing
    return torch.autocast(device_type=device, dtype=torch.bfloat16)


def policy_update(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    samples: Sequence[Sample],
    episodes: Sequence[Episode],
    cfg: OptimConfig,
    *,
    pad_id: int,
    temperature: float = 1.0,
    ref_model: torch.nn.Module | None = None,
    device: str = "cpu",
    bucketing: bool = True,
    ctx: DistContext = SINGLE,
) -> dict[str, float]:
    """Run ``cfg.epochs`` optimizer steps over ``samples``; returns averaged metrics.

    Writes the first epoch's logprobs to ``Turn.trainer_logprobs`` of the episodes. With ``ctx``
    of several ranks, ``samples`` are this rank's share (whole groups) and every rank must call.
    """
    if not samples and not ctx.enabled:
        return {"update/samples": 0.0}
    if not samples:
        buckets = []
    elif bucketing:
        buckets = length_buckets(samples, cfg.micro_batch_tokens)
    else:  # the baseline: fixed row count in arrival order, each micro-batch padded to its longest row
        rows = max(1, cfg.micro_batch_tokens // max(len(s) for s in samples))
        buckets = padded_batches(samples, rows)
    batches = [collate(samples, idx, pad_id) for idx in buckets]
    local_tokens, local_seqs = losses.global_counts([b.loss_mask for b in batches])
    longest = float(max((len(s) for s in samples), default=0))
    global_tokens, global_seqs, total_samples = (int(v) for v in all_reduce([local_tokens, local_seqs, len(samples)], ctx))
    norm_constant, n_batches = all_reduce([longest, len(batches)], ctx, op="max")
    if total_samples == 0:
        return {"update/samples": 0.0}
    batches += [empty_batch(pad_id)] * (int(n_batches) - len(batches))  # same collectives on every rank
    sums: dict[str, float] = defaultdict(float)
    mismatch_abs, mismatch_n = 0.0, 0
    model.train()
    for epoch in range(cfg.epochs):
        optimizer.zero_grad(set_to_none=True)
        for batch in batches:
            batch = _to(batch, device)
            with autocast_context(cfg.autocast, device):
                logp, entropy = token_logprobs(model, batch, temperature=temperature, with_entropy=cfg.entropy_coef > 0 or epoch == 0)
            logp = logp.float()
            pg = losses.compute_policy_loss(
                batch.old_logprobs,
                logp,
                batch.advantages,
                batch.loss_mask,
                clip_ratio_low=cfg.clip_low,
                clip_ratio_high=cfg.clip_high,
                clip_ratio_c=cfg.dual_clip,
                clip_scale=batch.clip_scale,
                loss_agg_mode=cfg.loss_agg,
                global_tokens=global_tokens,
                global_seqs=global_seqs,
                norm_constant=norm_constant,
            )
            ent = None
            if entropy is not None:
                ent = losses.agg_loss(entropy, batch.loss_mask, "token-mean", global_tokens=global_tokens)
            kl = None
            if ref_model is not None and cfg.kl_coef > 0:
                with torch.no_grad():
                    ref_logp, _ = token_logprobs(ref_model, batch, temperature=temperature)
                kl_mat = losses.kl_penalty(logp, ref_logp.float(), cfg.kl_kind)
                kl = losses.agg_loss(kl_mat, batch.loss_mask, "token-mean", global_tokens=global_tokens)
            loss = losses.total_loss(pg.loss, entropy=ent, kl=kl, entropy_coef=cfg.entropy_coef, kl_coef=cfg.kl_coef)
            (loss * ctx.loss_scale if ctx.enabled else loss).backward()
            real_batch = bool(batch.index)  # an empty micro-batch runs the collectives and reports 0
            if epoch == 0 and real_batch:
                _record_trainer_logprobs(samples, batch, logp.detach(), episodes)
                diff = (logp.detach() - batch.old_logprobs).abs() * batch.loss_mask
                mismatch_abs += float(diff.sum())
                mismatch_n += int(batch.loss_mask.sum())
            for k, v in pg.metrics.items():
                sums[f"update/{k}"] += float(v) / cfg.epochs if real_batch else 0.0
            sums["update/pg_loss"] += float(pg.loss.detach()) / cfg.epochs if real_batch else 0.0
            if ent is not None and epoch == 0:
                sums["update/entropy"] += float(ent.detach()) if real_batch else 0.0
            if kl is not None:
                sums["update/kl"] += float(kl) / cfg.epochs if real_batch else 0.0
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
        if hasattr(grad_norm, "full_tensor"):  # a DTensor under FSDP: already the global norm
            grad_norm = grad_norm.full_tensor()
        sums["update/grad_norm"] += float(grad_norm) / cfg.epochs
        optimizer.step()
    model.eval()
    real = sum(b.real_tokens for b in batches if b.index)
    padded = sum(b.padded_tokens for b in batches if b.index)
    grad_norm_sum = sums.pop("update/grad_norm")
    keys = sorted(sums)
    summed = all_reduce([sums[k] for k in keys] + [real, padded, mismatch_abs, mismatch_n, len(buckets)], ctx)
    out = dict(zip(keys, summed[: len(keys)]))
    real, padded, mismatch_abs, mismatch_n, n_real_batches = summed[len(keys):]
    out.update(
        {
            "update/grad_norm": grad_norm_sum,
            "update/samples": float(total_samples),
            "update/micro_batches": float(n_real_batches),
            "update/tokens": float(global_tokens),
            "update/pad_fraction": 1.0 - real / max(padded, 1),
            "offpolicy/logprob_abs_diff": mismatch_abs / max(mismatch_n, 1),
        }
    )
    return out


def empty_batch(pad_id: int) -> Batch:
    """A micro-batch with nothing to train: it runs the forward/backward collectives of a rank
    that has fewer micro-batches than the others, and adds exactly zero to every gradient."""
    return dataclasses.replace(collate([Sample([pad_id, pad_id], [0], [0.0], [0.0], [1.0])], [0], pad_id), index=[])


def _to(batch: Any, device: str) -> Any:
    if device == "cpu":
        return batch
    for name in ("input_ids", "attention_mask", "loss_mask", "advantages", "old_logprobs", "clip_scale"):
        setattr(batch, name, getattr(batch, name).to(device))
    return batch


def _record_trainer_logprobs(samples: Sequence[Sample], batch: Any, logp: torch.Tensor, episodes: Sequence[Episode]) -> None:
    rows = logp.cpu()
    for r, s_idx in enumerate(batch.index):
        for e_idx, t_idx, start, n in samples[s_idx].spans:
            episodes[e_idx].turns[t_idx].trainer_logprobs = [round(float(x), 6) for x in rows[r, start:start + n]]
