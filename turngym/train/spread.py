"""How a step's work is spread over learner ranks and brought back together.

Rollouts: every rank draws the same tasks (the task sampler is seeded identically), generates its
share with its own backend, and the episodes are all-gathered in rank order, so every rank holds
the same full batch. Advantages are then computed redundantly on that batch (group and anchor
statistics need every member; the estimators are cheap next to a forward pass), and the update
is split by whole groups (:func:`turngym.train.partition.samples_for_rank`). Rank 0 writes the
store, so what it writes must carry every rank's trainer logprobs: :func:`share_trainer_logprobs`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from turngym.core.episode import Episode
from turngym.train.parallel import DistContext, all_gather_objects


def my_share(n: int, ctx: DistContext) -> list[int]:
    """Indices of the ``n`` tasks this rank runs: round-robin, so shares differ by at most one."""
    return list(range(ctx.rank, n, ctx.world))


def gather_episodes(mine: list[Episode], ctx: DistContext) -> list[Episode]:
    """Every rank's episodes, concatenated in rank order (the same list on every rank)."""
    if not ctx.enabled:
        return mine
    out: list[Episode] = []
    for part in all_gather_objects(mine, ctx):
        out.extend(part)
    return out


def share_trainer_logprobs(episodes: Sequence[Episode], samples: Sequence[Any], ctx: DistContext) -> None:
    """Copy the ``Turn.trainer_logprobs`` each rank recorded for its own samples to every rank."""
    if not ctx.enabled:
        return
    local: dict[tuple[int, int], list[float] | None] = {}
    for s in samples:
        for e_idx, t_idx, _start, _n in s.spans:
            local[(e_idx, t_idx)] = episodes[e_idx].turns[t_idx].trainer_logprobs
    for part in all_gather_objects(local, ctx):
        for (e_idx, t_idx), values in part.items():
            episodes[e_idx].turns[t_idx].trainer_logprobs = values
