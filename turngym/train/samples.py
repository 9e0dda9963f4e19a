"""From episodes to token tensors: training samples, length-bucketed micro-batches, logprobs.

Both layouts produce the same ``Sample``: token ids with a per-token loss mask, advantage, rollout
logprob and clip scale, aligned so that position ``t`` holds the values for *predicting* token
``t + 1``. Step rows give one sample per turn (prompt + response); the concatenated layout gives
one sample per episode (the final transcript), with each turn's response span located by the
length of its prompt, which works because every turn's prompt extends the previous one.

Micro-batches are formed by sorting samples by length and filling a token budget (length
bucketing), so short step rows are not padded to the longest transcript of the batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from turngym.algos.lm import next_token_logprobs
from turngym.core.episode import Episode


@dataclass
class Sample:
    input_ids: list[int]
    loss_mask: list[int]  # per predicted position (len = len(input_ids) - 1)
    advantages: list[float]
    old_logprobs: list[float]
    clip_scale: list[float]
    #: (episode index, turn index, first predicted position, number of response tokens)
    spans: list[tuple[int, int, int, int]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.input_ids)


class SampleError(ValueError):
    """Episodes whose token record cannot be turned into a training sample."""


def _turn_values(turn, n: int, what: str) -> list[float]:
    value = getattr(turn, what)
    if value is None:
        return [0.0] * n
    if isinstance(value, list):
        if len(value) != n:
            raise SampleError(f"turn {turn.index}: {what} has {len(value)} values for {n} response tokens")
        return [float(v) for v in value]
    return [float(value)] * n


def _span_values(turn, n: int) -> tuple[list[int], list[float], list[float], list[float]]:
    mask = list(turn.loss_mask) if turn.loss_mask is not None else [1] * n
    if len(mask) != n:
        raise SampleError(f"turn {turn.index}: loss_mask has {len(mask)} entries for {n} response tokens")
    logps = list(turn.rollout_logprobs) if turn.rollout_logprobs is not None else [0.0] * n
    if len(logps) != n:
        raise SampleError(f"turn {turn.index}: rollout_logprobs has {len(logps)} entries for {n} response tokens")
    adv = _turn_values(turn, n, "advantage")
    clip = [float(turn.clip_scale if turn.clip_scale is not None else 1.0)] * n
    return mask, adv, logps, clip


def _trainable(turn, drop_zero: bool, require_advantage: bool = True) -> bool:
    if not turn.response_token_ids:
        return False
    if turn.advantage is None:
        return not require_advantage
    if drop_zero:
        adv = turn.advantage
        return any(a != 0 for a in adv) if isinstance(adv, list) else adv != 0
    return True


def build_samples(
    episodes: Sequence[Episode], *, layout: str = "step", drop_zero_advantage: bool = False, require_advantage: bool = True
) -> list[Sample]:
    """Training samples from episodes whose turns carry token ids (and advantages, unless
    ``require_advantage=False``, used to score turns before advantages exist)."""
    samples: list[Sample] = []
    for e_idx, ep in enumerate(episodes):
        if layout == "step":
            for t_idx, turn in enumerate(ep.turns):
                if not _trainable(turn, drop_zero_advantage, require_advantage):
                    continue
                if turn.prompt_token_ids is None:
                    raise SampleError(f"episode {ep.episode_id} turn {turn.index} has no prompt_token_ids")
                resp = list(turn.response_token_ids)
                prompt = list(turn.prompt_token_ids)
                mask, adv, logps, clip = _span_values(turn, len(resp))
                pad = len(prompt) - 1
                samples.append(
                    Sample(
                        input_ids=prompt + resp,
                        loss_mask=[0] * pad + mask,
                        advantages=[0.0] * pad + adv,
                        old_logprobs=[0.0] * pad + logps,
                        clip_scale=[1.0] * pad + clip,
                        spans=[(e_idx, t_idx, pad, len(resp))],
                    )
                )
        elif layout == "concat":
            turns = [t for t in ep.turns if t.response_token_ids]
            if not turns or not any(_trainable(t, drop_zero_advantage, require_advantage) for t in turns):
                continue
            last = turns[-1]
            if last.prompt_token_ids is None:
                raise SampleError(f"episode {ep.episode_id}: concatenated layout needs prompt_token_ids")
            ids = list(last.prompt_token_ids) + list(last.response_token_ids)
            n_pred = len(ids) - 1
            sample = Sample(ids, [0] * n_pred, [0.0] * n_pred, [0.0] * n_pred, [1.0] * n_pred)
            for turn in turns:
                start = len(turn.prompt_token_ids or [])
                resp = list(turn.response_token_ids)
                if ids[start:start + len(resp)] != resp:
                    raise SampleError(
                        f"episode {ep.episode_id} turn {turn.index}: its response is not at position {start} of the "
                        "final transcript (each turn's prompt must extend the previous one in the concat layout)"
                    )
                t_idx = ep.turns.index(turn)
                if not _trainable(turn, drop_zero_advantage, require_advantage):
                    continue
                mask, adv, logps, clip = _span_values(turn, len(resp))
                pos = start - 1
                sample.loss_mask[pos:pos + len(resp)] = mask
                sample.advantages[pos:pos + len(resp)] = adv
                sample.old_logprobs[pos:pos + len(resp)] = logps
                sample.clip_scale[pos:pos + len(resp)] = clip
                sample.spans.append((e_idx, t_idx, pos, len(resp)))
            samples.append(sample)
        else:
            raise ValueError(f"layout must be 'step' or 'concat', got {layout!r}")
    return samples


def length_buckets(samples: Sequence[Sample], token_budget: int) -> list[list[int]]:
    """Indices of samples grouped into micro-batches of similar length within ``token_budget``.

    ``token_budget`` bounds ``rows × longest row`` of each micro-batch (the padded size); a sample
    longer than the budget gets a micro-batch of its own.
    """
    order = sorted(range(len(samples)), key=lambda i: len(samples[i]))
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        longest = len(samples[i])  # sorted ascending: the newest is the longest
        if current and longest * (len(current) + 1) > token_budget:
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


def padded_batches(samples: Sequence[Sample], rows: int) -> list[list[int]]:
    """The baseline the benchmark compares against: fixed row count in arrival order."""
    return [list(range(i, min(i + rows, len(samples)))) for i in range(0, len(samples), rows)]


@dataclass
class Batch:
    input_ids: torch.Tensor  # (B, T)
    attention_mask: torch.Tensor  # (B, T)
    loss_mask: torch.Tensor  # (B, T-1)
    advantages: torch.Tensor  # (B, T-1)
    old_logprobs: torch.Tensor  # (B, T-1)
    clip_scale: torch.Tensor  # (B, T-1)
    index: list[int]  # sample indices

    @property
    def padded_tokens(self) -> int:
        return int(self.input_ids.numel())

    @property
    def real_tokens(self) -> int:
        return int(self.attention_mask.sum())


def collate(samples: Sequence[Sample], index: Sequence[int], pad_id: int) -> Batch:
    rows = [samples[i] for i in index]
    width = max(len(s) for s in rows)
    B = len(rows)
    input_ids = torch.full((B, width), pad_id, dtype=torch.long)
    attention = torch.zeros((B, width), dtype=torch.long)
    mask = torch.zeros((B, width - 1), dtype=torch.float32)
    adv = torch.zeros((B, width - 1), dtype=torch.float32)
    old = torch.zeros((B, width - 1), dtype=torch.float32)
    clip = torch.ones((B, width - 1), dtype=torch.float32)
    for r, s in enumerate(rows):
        n = len(s)
        input_ids[r, :n] = torch.tensor(s.input_ids)
        attention[r, :n] = 1
        mask[r, : n - 1] = torch.tensor(s.loss_mask, dtype=torch.float32)
        adv[r, : n - 1] = torch.tensor(s.advantages)
        old[r, : n - 1] = torch.tensor(s.old_logprobs)
        clip[r, : n - 1] = torch.tensor(s.clip_scale)
    return Batch(input_ids, attention, mask, adv, old, clip, list(index))


def token_logprobs(model: torch.nn.Module, batch: Batch, *, temperature: float = 1.0, with_entropy: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Log-probability (and entropy) of each next token (B, T-1) at the batch's trained positions;
    see :func:`turngym.algos.lm.next_token_logprobs`."""
    return next_token_logprobs(model, batch.input_ids, batch.attention_mask, batch.loss_mask > 0, temperature=temperature, with_entropy=with_entropy)
