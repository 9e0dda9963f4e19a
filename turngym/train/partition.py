"""Split a batch between learner ranks: whole groups, balanced by token count.

Group- and anchor-level estimators compare the members of a group, and the loss of a group's
samples is what the ranks' gradients sum to, so a group never straddles two ranks. Within that
constraint the ranks should do the same amount of work: groups are dealt longest first to the
least-loaded rank (LPT, the sorted-length greedy verl uses to balance sequence lengths), which is
within 4/3 of the optimum and deterministic (ties go to the lower rank).
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable, Sequence
from typing import Any


def balanced_groups(group_of: Sequence[Hashable], tokens: Sequence[int], world: int) -> list[list[int]]:
    """Item indices per rank. ``group_of[i]`` is item ``i``'s group, ``tokens[i]`` its cost.

    Every rank gets whole groups; a rank may get none when there are fewer groups than ranks.
    """
    if world < 1:
        raise ValueError(f"world must be >= 1, got {world}")
    if len(group_of) != len(tokens):
        raise ValueError(f"group_of has {len(group_of)} items, tokens {len(tokens)}")
    members: dict[Hashable, list[int]] = {}
    for i, g in enumerate(group_of):
        members.setdefault(g, []).append(i)
    cost = {g: sum(int(tokens[i]) for i in idx) for g, idx in members.items()}
    order = sorted(members, key=lambda g: (-cost[g], members[g][0]))  # longest first, stable
    heap = [(0, r) for r in range(world)]
    parts: list[list[int]] = [[] for _ in range(world)]
    for g in order:
        load, r = heapq.heappop(heap)
        parts[r].extend(members[g])
        heapq.heappush(heap, (load + cost[g], r))
    return [sorted(p) for p in parts]


def imbalance(parts: Sequence[Sequence[int]], tokens: Sequence[int]) -> float:
    """Largest rank load over the mean load (1.0 is perfect), for metrics."""
    loads = [sum(int(tokens[i]) for i in p) for p in parts]
    mean = sum(loads) / max(len(loads), 1)
    return max(loads) / mean if mean else 1.0


def samples_for_rank(samples: Sequence[Any], episodes: Sequence[Any], rank: int, world: int) -> list[Any]:
    """This rank's share of ``samples`` (``build_samples`` output over ``episodes``): the samples of
    whole task groups (``Episode.group_id``; an episode without one is its own group), balanced by
    token count. Every rank computes the same partition from the same batch."""
    if world == 1:
        return list(samples)

    def group(s: Any) -> Hashable:
        ep = episodes[s.spans[0][0]]
        return ep.group_id or ep.episode_id

    parts = balanced_groups([group(s) for s in samples], [len(s) for s in samples], world)
    return [samples[i] for i in parts[rank]]
