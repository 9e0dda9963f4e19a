"""Per-(turn, agent) credit rules of a discussion, vectorised over a batch of discussions.

Every rule maps the turns of a batch (one row per message: its discussion, round, agent and verified
score in [0, 1]) to one reward per row; ``Discussion-v0`` applies the rule selected by its ``credit``
setting to each finished discussion and records the result as the turns' rewards.

- ``team``: the team's outcome goes to every agent, on that agent's last message (so the sum of an
  agent's rewards is the team outcome, the return a per-agent GRPO normalises: Dr.MAS-style
  training with ``per_agent`` estimators, :mod:`turngym.algos.multiagent`).
- ``final``: the team outcome on the last message only (a single-agent view of the episode).
- ``maporl``: MAPoRL's influence-aware verification reward plus its incentive bonuses (below).

MAPoRL (Park et al., "MAPoRL: Multi-Agent Post-Co-Training for Collaborative Large Language Models
with Reinforcement Learning", arXiv 2502.18439), as its official code computes it
(github.com/chanwoo-park-official/MAPoRL @ 765ad1f158117caae450eeac9ba5a3b87efc134b,
``trl/trl/trainer/utils_multi_unified.py``: ``score_rule`` with ``rule_horizon="discounted_sum"``,
``rule_agent_share="all"``, plus ``bonus_rule``; the trainer adds the two). With ``s(t, a)`` the
verified score of agent ``a`` in round ``t``, ``x`` the last round the discussion reached and
``m(t') = mean_a' s(t', a')`` over the agents that spoke in round ``t'``::

    r(t, a) = [ s(t, a) + sum_{t'=t+1..x} gamma^(t'-t) m(t') ] / sum_{t'=t..x} gamma^(t'-t) + bonus(t, a)

``bonus`` uses the signed coefficients ``alpha = (a0, a1, a2, a3)`` exactly as the reference's
``alpha`` list, thresholds ``c = w = 0.5`` (strict comparisons), ``o(t)`` the mean score of the
*other* agents in round ``t``:

- own change (``t > 0``): right→wrong (``s(t-1,a) > c``, ``s(t,a) < w``) costs ``a1`` when the others
  were right (a new wrong answer) and ``a0`` when they were wrong (persuaded wrongly); wrong→right
  earns ``a1`` when the others were wrong (self-correction) and ``a0`` when they were right
  (persuaded correctly). Alone (no other agent in round ``t-1``): ``a1`` either way.
- influence on the others (round ``t+1`` exists): the others turned wrong→right (``o(t) < w``,
  ``o(t+1) > c``): ``-a3`` if this agent was right, ``-a2`` if wrong; the others turned right→wrong:
  ``+a3`` if this agent was wrong, ``+a2`` if right. (The reference subtracts in the first case, so
  a persuasion *bonus* is a negative ``a3``; its shipped configs leave ``alpha`` at 0.)

Differences from the reference, all where its padding leaks into the arithmetic: it marks the
rounds after an early stop with a score of -1, which enters ``o(t+1)`` for the last round of a
stopped discussion (giving a spurious influence bonus) and which it "fixes" by adding 0.001 to
any bonus landing exactly on -1; here a round that did not happen has no score and earns no
bonus. Rounds where only some agents spoke (solver–critic–CEO) average over those that did.

Everything is numpy over a (discussion × round × agent) grid, so a batch costs a handful of array
passes; :func:`maporl_credit_loop` is the per-row loop the vectorised version is tested against
(and benchmarked against in ``benchmarks/discussion_credit.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

CREDIT_RULES = ("team", "final", "maporl")
#: MAPoRL's bonus thresholds (``bonus_rule`` defaults).
CORRECT_THRESHOLD = 0.5
WRONG_THRESHOLD = 0.5


def _ints(values: Sequence[int] | np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=np.int64)


def _check(n: int, **cols: np.ndarray) -> None:
    for name, col in cols.items():
        if col.ndim != 1 or len(col) != n:
            raise ValueError(f"credit column {name!r} has shape {col.shape}, expected ({n},)")


def team_credit(episode: Sequence[int] | np.ndarray, agent: Sequence[int] | np.ndarray, team_score: Sequence[float] | np.ndarray) -> np.ndarray:
    """The team outcome (``team_score[episode]``) on each agent's last row of each discussion.

    Rows must be in time order within a discussion (as turns are).
    """
    ep, ag = _ints(episode), _ints(agent)
    team = np.asarray(team_score, dtype=np.float64)
    _check(len(ep), agent=ag)
    out = np.zeros(len(ep), dtype=np.float64)
    if len(ep) == 0:
        return out
    key = ep * (int(ag.max()) + 1) + ag
    rev = key[::-1]
    _, first_in_rev = np.unique(rev, return_index=True)
    last = len(ep) - 1 - first_in_rev
    out[last] = team[ep[last]]
    return out


def final_credit(episode: Sequence[int] | np.ndarray, team_score: Sequence[float] | np.ndarray) -> np.ndarray:
    """The team outcome on the last row of each discussion."""
    ep = _ints(episode)
    team = np.asarray(team_score, dtype=np.float64)
    out = np.zeros(len(ep), dtype=np.float64)
    if len(ep) == 0:
        return out
    last = np.r_[ep[1:] != ep[:-1], True]
    out[last] = team[ep[last]]
    return out


def maporl_credit(
    episode: Sequence[int] | np.ndarray,
    round_: Sequence[int] | np.ndarray,
    agent: Sequence[int] | np.ndarray,
    score: Sequence[float] | np.ndarray,
    *,
    gamma: float = 0.3,
    alpha: Sequence[float] = (0.0, 0.0, 0.0, 0.0),
) -> np.ndarray:
    """MAPoRL reward of every row (see the module docstring); one row per (discussion, round, agent).

    ``episode`` and ``agent`` are small non-negative int codes, ``round_`` starts at 0 in every
    discussion. Raises ``ValueError`` for a (discussion, round, agent) given twice.
    """
    ep, rd, ag = _ints(episode), _ints(round_), _ints(agent)
    s = np.asarray(score, dtype=np.float64)
    n = len(ep)
    _check(n, round=rd, agent=ag, score=s)
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must be in [0, 1], got {gamma}")
    a0, a1, a2, a3 = (float(v) for v in alpha)
    if n == 0:
        return np.zeros(0)
    if rd.min() < 0 or ag.min() < 0 or ep.min() < 0:
        raise ValueError("episode, round and agent codes must be non-negative")
    E, R, A = int(ep.max()) + 1, int(rd.max()) + 1, int(ag.max()) + 1
    flat = (ep * R + rd) * A + ag
    if np.bincount(flat, minlength=E * R * A).max() > 1:  # linear; np.unique would sort or hash
        raise ValueError("a (discussion, round, agent) appears twice; MAPoRL scores one message per agent and round")
    grid = np.full(E * R * A, np.nan)
    grid[flat] = s
    grid = grid.reshape(E, R, A)
    present = ~np.isnan(grid)
    count = present.sum(axis=2)  # (E, R) agents that spoke
    total = np.where(present, grid, 0.0).sum(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, total / np.maximum(count, 1), 0.0)
    spoke = (count > 0).astype(np.float64)
    # Reverse discounted accumulation over rounds, vectorised across discussions.
    acc_m = np.zeros((E, R + 1))
    acc_p = np.zeros((E, R + 1))
    for t in range(R - 1, -1, -1):
        acc_m[:, t] = mean[:, t] + gamma * acc_m[:, t + 1]
        acc_p[:, t] = spoke[:, t] + gamma * acc_p[:, t + 1]
    future = gamma * acc_m[ep, rd + 1]
    denom = acc_p[ep, rd]
    reward = (s + future) / denom

    # Mean score of the *other* agents of each (discussion, round) cell, on the grid: summed over the
    # other agents themselves (total - own can land a hair off a threshold, 0.5 - 1e-17), A*(A-1)
    # array additions over E*R cells, then one gather per row.
    filled = np.where(present, grid, 0.0)
    others_sum = np.zeros_like(grid)
    for a in range(A):
        for b in range(A):
            if b != a:
                others_sum[:, :, a] += filled[:, :, b]
    others_cnt = count[:, :, None] - present
    with np.errstate(invalid="ignore", divide="ignore"):
        others_mean = np.where(others_cnt > 0, others_sum / np.maximum(others_cnt, 1), np.nan)

    def others(rows_round: np.ndarray) -> np.ndarray:
        return others_mean[ep, rows_round, ag]

    c_hi, w_lo = CORRECT_THRESHOLD, WRONG_THRESHOLD
    bonus = np.zeros(n)
    has_prev = rd > 0
    prev_round = np.maximum(rd - 1, 0)
    prev = np.where(has_prev, grid[ep, prev_round, ag], np.nan)
    prev_others = others(prev_round)
    alone = np.isnan(prev_others)
    with np.errstate(invalid="ignore"):
        down = has_prev & (prev > c_hi) & (s < w_lo)
        up = has_prev & (prev < w_lo) & (s > c_hi)
        bonus -= np.where(down & (alone | (prev_others > c_hi)), a1, 0.0)
        bonus -= np.where(down & ~alone & (prev_others < w_lo), a0, 0.0)
        bonus += np.where(up & (alone | (prev_others < w_lo)), a1, 0.0)
        bonus += np.where(up & ~alone & (prev_others > c_hi), a0, 0.0)
        next_round = np.minimum(rd + 1, R - 1)
        has_next = (rd + 1 < R) & (count[ep, next_round] > 0)
        next_others = others(next_round)
        cur_others = others(rd)
        influence = has_next & (A > 1) & ~np.isnan(next_others) & ~np.isnan(cur_others)
        turned_right = influence & (next_others > c_hi) & (cur_others < w_lo)
        turned_wrong = influence & (next_others < w_lo) & (cur_others > c_hi)
        bonus -= np.where(turned_right & (s > c_hi), a3, 0.0)
        bonus -= np.where(turned_right & (s < w_lo), a2, 0.0)
        bonus += np.where(turned_wrong & (s < w_lo), a3, 0.0)
        bonus += np.where(turned_wrong & (s > c_hi), a2, 0.0)
    return reward + bonus


def maporl_credit_loop(
    episode: Sequence[int],
    round_: Sequence[int],
    agent: Sequence[int],
    score: Sequence[float],
    *,
    gamma: float = 0.3,
    alpha: Sequence[float] = (0.0, 0.0, 0.0, 0.0),
) -> list[float]:
    """The same rule row by row with dicts, following the reference's loops (the test oracle and the
    benchmark's baseline)."""
    a0, a1, a2, a3 = (float(v) for v in alpha)
    table: dict[int, dict[int, dict[int, float]]] = {}
    for e, t, a, v in zip(episode, round_, agent, score):
        table.setdefault(int(e), {}).setdefault(int(t), {})[int(a)] = float(v)
    c_hi = w_lo = 0.5

    def mean_others(rounds: dict[int, dict[int, float]], t: int, a: int) -> float | None:
        vals = [v for b, v in rounds.get(t, {}).items() if b != a]
        return sum(vals) / len(vals) if vals else None

    out = []
    for e, t, a, v in zip(episode, round_, agent, score):
        rounds = table[int(e)]
        t, a, v = int(t), int(a), float(v)
        last = max(rounds)
        num, den = v, 1.0
        for tp in range(t + 1, last + 1):
            if tp in rounds:
                vals = list(rounds[tp].values())
                num += gamma ** (tp - t) * sum(vals) / len(vals)
                den += gamma ** (tp - t)
        r = num / den
        if t > 0 and a in rounds.get(t - 1, {}):
            prev = rounds[t - 1][a]
            po = mean_others(rounds, t - 1, a)
            if prev > c_hi and v < w_lo:
                r -= a1 if po is None or po > c_hi else (a0 if po < w_lo else 0.0)
            if prev < w_lo and v > c_hi:
                r += a1 if po is None or po < w_lo else (a0 if po > c_hi else 0.0)
        if t + 1 in rounds:
            no, co = mean_others(rounds, t + 1, a), mean_others(rounds, t, a)
            if no is not None and co is not None:
                if no > c_hi and co < w_lo:
                    r -= a3 if v > c_hi else (a2 if v < w_lo else 0.0)
                if no < w_lo and co > c_hi:
                    r += a3 if v < w_lo else (a2 if v > c_hi else 0.0)
        out.append(r)
    return out
