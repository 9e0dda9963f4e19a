"""Information gain of each turn, by teacher-forcing the ground truth (A²TGPO / IGPO, ALGOS.md §5).

A turn is useful when, after it (and its tool result), the policy finds the ground-truth answer
more likely. For every context prefix we score the ground-truth tokens appended to it in one
batched forward of any HF causal LM (``model(input_ids=..., attention_mask=...).logits``).

Variants (settings, with preset defaults):
- ``variant="logprob"``: the score is the mean log-prob of the ground-truth tokens (A²TGPO);
  ``"prob"``: its exponential, the length-normalised probability (IGPO).
- ``baseline="prompt"``: turn 1 is compared with the prompt-only context (IGPO, the A²TGPO paper);
  ``"first_turn"``: turn 1 is the baseline and gets IG 0, later turns the difference to the
  previous turn (the reference A²TGPO code; with the estimator's reference preset that IG of 0
  makes turn 1 "no turn").
Preset ``paper`` = (logprob, prompt); ``reference`` = (logprob, first_turn).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from turngym.algos.base import check_choice
from turngym.algos.lm import pad_right, token_logprobs

PRESETS = {"paper": ("logprob", "prompt"), "reference": ("logprob", "first_turn")}


def ground_truth_logprob(
    model: torch.nn.Module,
    contexts: Sequence[Sequence[int]],
    ground_truth: Sequence[int],
    *,
    batch_size: int = 8,
    pad_id: int = 0,
) -> np.ndarray:
    """Mean log-prob of ``ground_truth`` teacher-forced after each context, one value per context."""
    gt = list(ground_truth)
    if not gt:
        raise ValueError("ground_truth must hold at least one token id")
    if any(len(c) == 0 for c in contexts):
        raise ValueError("every context needs at least one token (the ground truth's first token needs a prefix)")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    was_training = model.training
    model.eval()
    out: list[np.ndarray] = []
    try:
        with torch.no_grad():
            for start in range(0, len(contexts), batch_size):
                chunk = [list(c) for c in contexts[start : start + batch_size]]
                ids, attn = pad_right([c + gt for c in chunk], pad_id)
                logp = token_logprobs(model, ids, attn).double()
                gt_mask = torch.zeros_like(logp)
                for i, c in enumerate(chunk):
                    gt_mask[i, len(c) : len(c) + len(gt)] = 1.0
                out.append(((logp * gt_mask).sum(-1) / len(gt)).numpy())
    finally:
        model.train(was_training)
    return np.concatenate(out) if out else np.zeros(0)


def information_gain(
    model: torch.nn.Module,
    contexts: Sequence[Sequence[int]],
    ground_truth: Sequence[int],
    *,
    preset: str = "paper",
    variant: str | None = None,
    baseline: str | None = None,
    batch_size: int = 8,
    pad_id: int = 0,
) -> np.ndarray:
    """IG of each turn of one trajectory.

    ``contexts[0]`` is the prompt-only context and ``contexts[t]`` the context through the end of
    turn ``t`` (tool result included), so ``len(contexts) − 1`` values come back. With
    ``baseline="first_turn"`` the prompt-only context is not scored.
    """
    check_choice("preset", preset, tuple(PRESETS))
    variant = variant or PRESETS[preset][0]
    baseline = baseline or PRESETS[preset][1]
    check_choice("variant", variant, ("logprob", "prob"))
    check_choice("baseline", baseline, ("prompt", "first_turn"))
    if len(contexts) < 2:
        raise ValueError("contexts must hold the prompt-only context and at least one turn")
    scored = contexts if baseline == "prompt" else contexts[1:]
    s = ground_truth_logprob(model, scored, ground_truth, batch_size=batch_size, pad_id=pad_id)
    if variant == "prob":
        s = np.exp(s)
    diff = np.diff(s)
    return diff if baseline == "prompt" else np.r_[0.0, diff]
