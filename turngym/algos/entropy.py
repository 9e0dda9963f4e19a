"""Per-response and per-turn policy entropy, for AEM (recorded at rollout time or recomputed).

AEM's uncertainty proxy is the mean token entropy of a response. In the step-row layout each row
is one response (:func:`response_entropy`); in the concatenated layout one sequence holds several
turns, and :func:`turn_entropy` averages inside each turn's span. Results are detached numbers,
never part of the graph: AEM only rescales advantages.
"""

from __future__ import annotations

import numpy as np
import torch

from turngym.algos.lm import token_logprobs  # noqa: F401  (re-exported alignment helper)
from turngym.algos.losses import entropy_from_logits


def response_entropy(logits: torch.Tensor, mask: torch.Tensor) -> np.ndarray:
    """``(B,)`` mean entropy over the masked positions; ``logits[b, t]`` must be the distribution
    the token at mask position ``t`` was sampled from. Rows without a masked position give NaN."""
    with torch.no_grad():
        h = entropy_from_logits(logits)
        m = mask.to(h.dtype)
        n = m.sum(-1)
        out = (h * m).sum(-1) / n.clamp(min=1.0)
        out[n == 0] = float("nan")
    return out.double().cpu().numpy()


def turn_entropy(logits: torch.Tensor, mask: torch.Tensor, turn_ids: torch.Tensor, n_turns: int | None = None) -> np.ndarray:
    """``(B, n_turns)`` mean entropy per turn span (``turn_ids`` per position, < 0 outside turns);
    NaN for a turn a row does not have."""
    with torch.no_grad():
        h = entropy_from_logits(logits).double()
        ids = turn_ids.long()
        inside = (ids >= 0) & (mask > 0)
        k = int(ids.max().item()) + 1 if n_turns is None else n_turns
        k = max(k, 1)
        key = (torch.arange(h.shape[0]).unsqueeze(-1) * k + ids.clamp(min=0, max=k - 1))[inside]
        sums = torch.zeros(h.shape[0] * k, dtype=torch.float64).index_add(0, key, h[inside])
        cnts = torch.zeros_like(sums).index_add(0, key, torch.ones_like(h[inside]))
        out = torch.where(cnts > 0, sums / cnts.clamp(min=1.0), torch.full_like(sums, float("nan")))
    return out.reshape(h.shape[0], k).numpy()


def model_response_entropy(
    model: torch.nn.Module,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    response_mask: torch.Tensor,
    turn_ids: torch.Tensor | None = None,
) -> np.ndarray:
    """Recompute entropies with a causal LM: position ``t``'s token was drawn from the logits at
    ``t − 1``. Returns ``(B,)`` per response, or ``(B, n_turns)`` with ``turn_ids``."""
    with torch.no_grad():
        logits = model(input_ids=input_ids, attention_mask=attention_mask).logits[:, :-1]
    mask = response_mask[:, 1:]
    if turn_ids is None:
        return response_entropy(logits, mask)
    return turn_entropy(logits, mask, turn_ids[:, 1:])
