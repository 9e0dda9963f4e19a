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


def decoder_and_head(model: torch.nn.Module) -> tuple[torch.nn.Module, torch.nn.Module] | None:
    """The transformer body and the LM head of an HF causal LM (peft-wrapped or not)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    get_decoder = getattr(base, "get_decoder", None)
    get_head = getattr(base, "get_output_embeddings", None)
    if get_decoder is None or get_head is None:
        return None
    decoder, head = get_decoder(), get_head()
    if decoder is None or head is None or decoder is base:
        return None
    return decoder, head


def next_token_logprobs(
    model: torch.nn.Module,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    predict: torch.Tensor,
    *,
    temperature: float = 1.0,
    with_entropy: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(B, L-1)`` log-prob of token ``t+1`` given the tokens up to ``t``, where ``predict`` (a
    ``(B, L-1)`` bool mask) is true; 0 elsewhere. Keeps the graph.

    The vocabulary projection and softmax run only on the selected hidden states: with step rows,
    responses are a few tokens of a long prompt, and the LM head dominates small models.
    """
    sel = predict.bool()
    parts = decoder_and_head(model)
    if parts is None:  # not a standard HF causal LM: project every position
        logits = model(input_ids=input_ids, attention_mask=attention_mask).logits[:, :-1][sel].float()
    else:
        decoder, head = parts
        hidden = decoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state[:, :-1]
        logits = head(hidden[sel]).float()
    if temperature != 1.0:
        logits = logits / temperature
    logp_all = torch.log_softmax(logits, dim=-1)
    picked = logp_all.gather(-1, input_ids[:, 1:][sel].unsqueeze(-1)).squeeze(-1)
    logp = torch.zeros(sel.shape, dtype=logp_all.dtype, device=logp_all.device).masked_scatter(sel, picked)
    entropy = None
    if with_entropy:
        entropy = torch.zeros_like(logp).masked_scatter(sel, -(logp_all.exp() * logp_all).sum(-1))
    return logp, entropy


def token_logprobs(model: torch.nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """``(B, L)`` log-prob of each token given its prefix (column 0 is 0); keeps the graph."""
    predict = torch.ones((input_ids.shape[0], input_ids.shape[1] - 1), dtype=torch.bool, device=input_ids.device)
    logp, _ = next_token_logprobs(model, input_ids, attention_mask, predict)
    return torch.nn.functional.pad(logp, (1, 0))
