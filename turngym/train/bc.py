"""Behaviour cloning warm start from the env's oracle, made deliberately imperfect.

A perfect demonstrator would leave RL nothing to do; DESIGN.md §4 ("A CPU demo that learns")
measured that a demonstrator replacing a share of its actions by random admissible ones gives a
policy that often succeeds but not always, which is where RL shows its effect. The demonstrations
are recorded through the same LLM agent the policy uses (same prompt construction, same token
ids), with the demonstrator's action as the response, so BC trains exactly what RL will sample.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from turngym.agents.base import AgentAction, AgentInput
from turngym.core.episode import Episode
from turngym.train.parallel import SINGLE, DistContext, all_reduce
from turngym.train.samples import build_samples, collate, length_buckets, token_logprobs


class NoisyDemonstrator:
    """Plays the oracle's action, or with probability ``noise`` a random admissible one, and
    records it as the response of ``policy_agent``'s prompt (teacher forcing)."""

    env_requirements: dict[str, Any] = {"expert": True}

    def __init__(self, policy_agent: Any, *, noise: float, seed: int) -> None:
        self.policy_agent = policy_agent
        self.noise = noise
        self.rng = np.random.default_rng(seed)

    def act(self, inputs: list[AgentInput]) -> list[AgentAction]:
        actions = []
        for item in inputs:
            admissible = item.info.get("admissible_actions") or []
            action = item.info["expert_action"]
            if admissible and self.rng.random() < self.noise:
                action = admissible[int(self.rng.integers(len(admissible)))]
            actions.append(action)
        return teacher_force(self.policy_agent, inputs, actions)


def teacher_force(agent: Any, inputs: list[AgentInput], actions: list[str]) -> list[AgentAction]:
    """The ``AgentAction`` the LLM agent would record had it answered ``actions``: same prompt and
    prompt token ids, the action's tokens followed by the end-of-turn token as the response."""
    tokenizer = agent.tokenizer
    end_id = tokenizer.convert_tokens_to_ids("<|im_end|>")
    if end_id is None or end_id == tokenizer.unk_token_id:
        end_id = tokenizer.eos_token_id
    out = []
    for item, action in zip(inputs, actions):
        prepared = agent.prepare(item)
        if isinstance(prepared, AgentAction):  # the agent refused (e.g. context budget)
            out.append(prepared)
            continue
        ids = tokenizer.encode(action, add_special_tokens=False) + [end_id]
        out.append(
            AgentAction(
                action=action,
                response_text=action,
                prompt=prepared.prompt,
                prompt_token_ids=prepared.prompt_ids,
                response_token_ids=ids,
                loss_mask=[1] * len(ids),
                meta={**prepared.meta, "demonstration": True},
            )
        )
    return out


def bc_loss_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, samples: Sequence[Any], index: Sequence[int], pad_id: int,
                 total_tokens: int, ctx: DistContext = SINGLE) -> float:
    """Backward of this rank's part of one BC batch; ``total_tokens`` counts the whole batch, so
    the ranks' gradients sum to the one-process gradient (FSDP averages, hence ``loss_scale``)."""
    from turngym.train.update import empty_batch

    batch = collate(samples, index, pad_id) if index else empty_batch(pad_id)
    logp, _ = token_logprobs(model, batch)
    loss = -(logp * batch.loss_mask).sum() / max(total_tokens, 1)
    (loss * ctx.loss_scale if ctx.enabled else loss).backward()
    return float(loss.detach())


def behaviour_clone(
    model: torch.nn.Module,
    episodes: Sequence[Episode],
    *,
    pad_id: int,
    layout: str,
    epochs: int,
    lr: float,
    batch_tokens: int,
    seed: int,
    on_batch: Callable[[float, int], None] | None = None,
    ctx: DistContext = SINGLE,
) -> dict[str, float]:
    """Maximise the likelihood of the demonstrated responses (every turn weighted 1).

    Under several ranks every rank holds the same demonstrations and the same batch order; each
    rank trains on its slice of every batch (``index[rank::world]``), so N ranks take exactly the
    steps one process takes."""
    for ep in episodes:
        for t in ep.turns:
            t.advantage = 1.0
    samples = build_samples(episodes, layout=layout)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    rng = np.random.default_rng(seed)
    buckets = length_buckets(samples, batch_tokens)
    model.train()
    losses = []
    for _ in range(epochs):
        for b in rng.permutation(len(buckets)):
            index = buckets[b]
            tokens = sum(sum(samples[i].loss_mask) for i in index)
            optimizer.zero_grad(set_to_none=True)
            loss = bc_loss_step(model, optimizer, samples, index[ctx.rank::ctx.world], pad_id, tokens, ctx)
            if ctx.enabled:
                loss = all_reduce([loss], ctx)[0]
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)  # global norm under FSDP (DTensor grads)
            optimizer.step()
            losses.append(loss)
            if on_batch is not None:
                on_batch(loss, epochs * len(buckets))
    model.eval()
    for ep in episodes:
        for t in ep.turns:
            t.advantage = None
    return {"bc/loss_first": losses[0] if losses else 0.0, "bc/loss_last": float(np.mean(losses[-10:])) if losses else 0.0, "bc/samples": float(len(samples))}
