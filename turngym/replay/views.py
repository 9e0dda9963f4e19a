"""Views computed from records for the page: per-token strings and GiGPO anchor groups.

Anchor groups are recomputed here from the group's turns rather than read from the trainer, so the
viewer shows them for any run (even one trained with GRPO): within a task group, all turns of all
rollouts whose ``anchor`` text is identical form one group, each with its discounted step return
``R_t = Σ_{k≥t} γ^{k−t} r_k`` (ALGOS.md §3). A lone turn is its own group and is not shown.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from turngym.core.episode import Episode


def step_returns(rewards: list[float], gamma: float) -> list[float]:
    """Discounted return from each turn to the end of the trajectory."""
    out = [0.0] * len(rewards)
    acc = 0.0
    for t in range(len(rewards) - 1, -1, -1):
        acc = rewards[t] + gamma * acc
        out[t] = acc
    return out


def anchor_groups(episodes: list[Episode], gamma: float) -> list[dict[str, Any]]:
    """Anchor groups with ≥ 2 members (turns of the same state that GiGPO compares), largest first."""
    members: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for ep in episodes:
        returns = step_returns([t.reward for t in ep.turns], gamma)
        for t, ret in zip(ep.turns, returns, strict=True):
            if t.anchor is None:
                continue
            members[t.anchor].append(
                {
                    "episode_id": ep.episode_id,
                    "turn": t.index,
                    "action": t.action,
                    "reward": t.reward,
                    "step_return": ret,
                }
            )
    groups = []
    for anchor, items in members.items():
        if len(items) < 2:
            continue
        mean = sum(i["step_return"] for i in items) / len(items)
        for i in items:
            i["relative_return"] = i["step_return"] - mean
        groups.append(
            {
                "anchor": anchor,
                "size": len(items),
                "num_episodes": len({i["episode_id"] for i in items}),
                "mean_return": mean,
                "members": items,
            }
        )
    groups.sort(key=lambda g: (-g["size"], g["anchor"]))
    for n, g in enumerate(groups):
        g["id"] = n
    return groups
