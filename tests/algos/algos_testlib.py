"""Helpers shared by the algos tests (a uniquely named module: test dirs have no __init__.py)."""

from __future__ import annotations

import numpy as np

from turngym.algos import TurnTable


def make_table(trajs: list[dict], **extra_cols: list) -> TurnTable:
    """Build a table from per-trajectory dicts: {"group", "reward": [...], "anchor"?, "valid"?, ...}."""
    cols: dict[str, list] = {k: [] for k in ("group", "traj", "turn", "reward", "valid", "anchor")}
    opt: dict[str, list] = {}
    for i, t in enumerate(trajs):
        n = len(t["reward"])
        cols["group"] += [t.get("group", 0)] * n
        cols["traj"] += [i] * n
        cols["turn"] += list(range(n))
        cols["reward"] += list(t["reward"])
        cols["valid"] += list(t.get("valid", [True] * n))
        cols["anchor"] += list(t.get("anchor", [f"u{i}-{k}" for k in range(n)]))
        for name in ("info_gain", "entropy", "step_reward", "outcome", "tool_match_reward"):
            if name in t:
                v = t[name]
                opt.setdefault(name, []).extend(v if isinstance(v, list) else [v] * n)
    return TurnTable(**cols, **{k: np.asarray(v, dtype=float) for k, v in opt.items()}, **extra_cols)


def random_trajs(draw, st, *, max_groups: int = 3, max_g: int = 4, max_len: int = 5) -> list[dict]:
    """A hypothesis-drawn batch: groups of trajectories with tied rewards and recurring anchors."""
    trajs = []
    n_groups = draw(st.integers(1, max_groups))
    small = st.sampled_from([0.0, 0.5, 1.0, 2.0])
    for g in range(n_groups):
        for _ in range(draw(st.integers(1, max_g))):
            n = draw(st.integers(1, max_len))
            trajs.append({
                "group": g,
                "reward": draw(st.lists(small, min_size=n, max_size=n)),
                "valid": draw(st.lists(st.booleans(), min_size=n, max_size=n)),
                "anchor": draw(st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=n, max_size=n)),
                "entropy": draw(st.lists(st.floats(0.0, 3.0), min_size=n, max_size=n)),
                "step_reward": draw(st.lists(st.floats(-1.0, 1.0), min_size=n, max_size=n)),
                "info_gain": draw(st.lists(st.sampled_from([0.0, -0.2, 0.1, 0.3, 0.7]), min_size=n, max_size=n)),
                "outcome": draw(small),
            })
    return trajs
