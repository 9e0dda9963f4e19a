"""Small helpers for scoring token sequences with any HF causal LM (``model(input_ids=...,
attention_mask=...).logits``): padding, per-token log-probs. Used by the information gain, the
OPRL implicit PRM and the entropy helpers, so every one of them aligns tokens the same way:
position ``t`` of a log-prob tensor is the log-prob of ``input_ids[t]`` given the tokens before it
(position 0 has no prediction and is 0).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def pad_right(seqs: Sequence[Sequence[int]], pad_id: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ``input_ids`` and ``attention_mask``; right padding keeps default positions valid."""
    if not seqs:
        raise ValueError("need at least one sequence")
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        if len(s):
            ids[i, : len(s)] = torch.as_tensor(list(s), dtype=torch.long)
            mask[i, : len(s)] = 1
    return ids, mask


def token_logprobs(model: torch.nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """``(B, L)`` log-prob of each token given its prefix (column 0 is 0); keeps the graph."""
    logits = model(input_ids=input_ids, attention_mask=attention_mask).logits[:, :-1].float()
    logp = torch.log_softmax(logits, dim=-1).gather(-1, input_ids[:, 1:, None]).squeeze(-1)
    return torch.nn.functional.pad(logp, (1, 0))
