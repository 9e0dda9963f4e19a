"""Multi-agent credit: any estimator applied per agent, and a turn-wise GRPO for per-turn rewards.

In a multi-agent episode (``Discussion-v0``) the rows of one trajectory belong to several agents
(``TurnTable.agent``). ``per_agent_table`` re-keys the table so that each (trajectory, agent) is a
trajectory of its own and each (task group, agent) a group: every estimator then normalises an
agent's returns only against the same agent's returns on the same task, which is Dr.MAS's
per-agent GRPO when the estimator is ``grpo`` (Dr.MAS: agents' reward distributions differ, so a
shared baseline mis-scales them), and GiGPO / MatchTIR / ... "applied per agent" for the
turn-level ones. In the re-keyed table an agent's ``turn`` is its own message count (its round in
a debate), and the trajectory return is the sum of that agent's turn rewards (the ``outcome``
column, which holds the whole episode's outcome, is dropped): with ``Discussion-v0``'s ``team``
credit that sum is the team outcome, so every agent is credited with it.

``turn_grpo`` normalises each row's own reward within its (group, turn index) — with
``per_agent=True`` within (task, agent, round), the agent- and turn-wise grouping of AT-GRPO
(Zhao et al., "Stronger-MAS", PettingLLMs) — which is what per-turn rewards that already carry
their future, such as MAPoRL's (``credit: maporl``), need: MAPoRL trains each (turn, agent) response
on its own reward.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from turngym.algos._grouping import combine_keys, normalize
from turngym.algos.base import (
    AdvantageResult,
    EstimatorConfig,
    check_bool,
    check_choice,
    check_range,
)
from turngym.core.table import TurnTable, factorize


def per_agent_table(table: TurnTable) -> TurnTable:
    """``table`` with (trajectory, agent) as trajectories and (group, agent) as groups, rows in the
    same order (so advantages map back row by row). Needs the ``agent`` column."""
    agent = table.column("agent")
    codes = factorize(agent.tolist())
    group, _ = combine_keys(table.group, codes, dense=True)
    traj, _ = combine_keys(table.traj_key, codes, dense=True)
    n = len(table)
    # An agent's k-th row (in turn order) gets turn k: rank rows within their new trajectory.
    order = np.lexsort((table.turn, traj))
    starts = np.r_[True, traj[order][1:] != traj[order][:-1]] if n else np.zeros(0, bool)
    run_start = np.maximum.accumulate(np.where(starts, np.arange(n), 0)) if n else np.zeros(0, np.int64)
    turn = np.empty(n, dtype=np.int64)
    turn[order] = np.arange(n) - run_start
    cols = {c: getattr(table, c) for c in table.columns if c not in ("group", "traj", "turn", "final", "outcome", "agent")}
    out = TurnTable(group=group, traj=traj, turn=turn, **cols)
    out.agent = agent
    out.source = table.source
    return out


@dataclass
class TurnGRPOConfig(EstimatorConfig):
    """Each row's reward normalised within its (group, turn index).

    - ``norm_by_std`` (bool, default True): divide by the unbiased std + ``eps`` (False: mean only).
    - ``lone`` (``raw``|``zero``, default zero): what a (group, turn) with one row gets.
    - ``invalid_penalty`` (float >= 0, default 0): subtracted from an invalid row's reward first.
    - ``eps`` (float in [0, 1], default 1e-6).
    """

    norm_by_std: bool = True
    lone: str = "zero"
    invalid_penalty: float = 0.0
    eps: float = 1e-6

    def validate(self) -> None:
        check_bool("norm_by_std", self.norm_by_std)
        check_choice("lone", self.lone, ("raw", "zero"))
        check_range("invalid_penalty", self.invalid_penalty, 0.0, None)
        check_range("eps", self.eps, 0.0, 1.0)


def turn_grpo(table: TurnTable, cfg: TurnGRPOConfig, preset: str) -> AdvantageResult:
    x = table.reward - cfg.invalid_penalty * (~table.valid)
    codes, n = combine_keys(table.group, table.turn)
    adv = normalize(x, codes, n, by_std=cfg.norm_by_std, eps=cfg.eps, lone=cfg.lone)  # type: ignore[arg-type]
    return AdvantageResult(adv, None, {"score": x})
