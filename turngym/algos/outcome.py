"""Outcome estimators: GRPO (and Dr.GRPO), RLOO, REINFORCE++ (ALGOS.md §2).

Every turn of a trajectory gets the trajectory's advantage (GRPO/RLOO) or its whitened return
(REINFORCE++). These are the baselines the turn-level estimators are compared against, and GRPO's
normaliser is reused by GiGPO, MatchTIR and OPRL.

Presets (GRPO only; RLOO and REINFORCE++ are the same in both):
- ``paper``: statistics over trajectories (one score per trajectory); a lone trajectory gets 0.
- ``reference`` (verl / verl-agent): statistics over *step rows* (``cross_steps=True``: a trajectory
  with k turns is counted k times and the invalid-action penalty lowers only that row's score); a
  group with one member gets mean 0 and std 1, i.e. ``A = R / (1 + eps)`` (``R`` with Dr.GRPO).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from turngym.algos._grouping import TrajIndex, combine_keys, normalize
from turngym.algos.base import (
    AdvantageResult,
    EstimatorConfig,
    check_bool,
    check_choice,
    check_range,
)
from turngym.core.table import TurnTable


def episode_return(table: TurnTable, idx: TrajIndex) -> np.ndarray:
    """Per-row trajectory return: the ``outcome`` column (first row of each trajectory) if present,
    else the sum of the trajectory's turn rewards."""
    if table.outcome is not None:
        per_traj = np.empty(idx.n_traj)
        per_traj[idx.traj_codes[idx.first]] = table.outcome[idx.first]
        return per_traj[idx.traj_codes]
    return idx.traj_sum(table.reward)


def episode_scores(
    table: TurnTable, idx: TrajIndex, *, cross_steps: bool, invalid_penalty: float
) -> tuple[np.ndarray, np.ndarray | None]:
    """The scores an outcome estimator normalises and which rows are counted (None: all rows).

    ``cross_steps``: every row counts, the penalty hits only the invalid row (verl-agent).
    Otherwise: one counted row per trajectory, whose score is the return minus the penalty for
    each of its invalid turns.
    """
    ret = episode_return(table, idx)
    invalid = (~table.valid).astype(np.float64)
    if cross_steps:
        return ret - invalid_penalty * invalid, None
    return ret - invalid_penalty * idx.traj_sum(invalid), idx.first


def group_codes(table: TurnTable) -> tuple[np.ndarray, int]:
    return combine_keys(table.group)


def rloo_normalize(x: np.ndarray, codes: np.ndarray, n_groups: int, counted: np.ndarray | None) -> np.ndarray:
    """``n/(n−1)·(x − mean)`` (= x minus the mean of the others); a lone member keeps ``x``."""
    if counted is None:
        counted = np.ones(len(x), dtype=bool)
    count = np.bincount(codes, weights=counted.astype(np.float64), minlength=n_groups)
    total = np.bincount(codes, weights=np.where(counted, x, 0.0), minlength=n_groups)
    n = count[codes]
    mean = total[codes] / np.maximum(n, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(n > 1, (x - mean) * n / np.maximum(n - 1, 1), x)
    return out


# -- GRPO ------------------------------------------------------------------------------------
@dataclass
class GRPOConfig(EstimatorConfig):
    """``norm_by_std=False`` is Dr.GRPO; ``cross_steps``/``lone`` default by preset (see module)."""

    norm_by_std: bool = True
    cross_steps: bool | None = None
    lone: str | None = None
    eps: float = 1e-6
    invalid_penalty: float = 0.1

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "paper": {"cross_steps": False, "lone": "zero"},
        "reference": {"cross_steps": True, "lone": "raw"},
    }

    def validate(self) -> None:
        check_bool("norm_by_std", self.norm_by_std)
        check_bool("cross_steps", self.cross_steps)
        check_choice("lone", self.lone, ("raw", "zero"))
        check_range("eps", self.eps, 0.0, 1.0)
        check_range("invalid_penalty", self.invalid_penalty, 0.0, None)


def grpo(table: TurnTable, cfg: GRPOConfig, preset: str) -> AdvantageResult:
    idx = TrajIndex(table.traj, table.turn)
    codes, n_groups = group_codes(table)
    score, counted = episode_scores(table, idx, cross_steps=bool(cfg.cross_steps), invalid_penalty=cfg.invalid_penalty)
    adv = normalize(score, codes, n_groups, counted=counted, by_std=cfg.norm_by_std, eps=cfg.eps, lone=cfg.lone)  # type: ignore[arg-type]
    return AdvantageResult(adv, None, {"score": score})


# -- RLOO ------------------------------------------------------------------------------------
@dataclass
class RLOOConfig(EstimatorConfig):
    cross_steps: bool = False
    invalid_penalty: float = 0.1

    def validate(self) -> None:
        check_bool("cross_steps", self.cross_steps)
        check_range("invalid_penalty", self.invalid_penalty, 0.0, None)


def rloo(table: TurnTable, cfg: RLOOConfig, preset: str) -> AdvantageResult:
    idx = TrajIndex(table.traj, table.turn)
    codes, n_groups = group_codes(table)
    score, counted = episode_scores(table, idx, cross_steps=cfg.cross_steps, invalid_penalty=cfg.invalid_penalty)
    return AdvantageResult(rloo_normalize(score, codes, n_groups, counted), None, {"score": score})


# -- REINFORCE++ -----------------------------------------------------------------------------
@dataclass
class ReinforcePPConfig(EstimatorConfig):
    """Discounted turn returns (``reward`` column, invalid rows penalised), whitened over the batch."""

    gamma: float = 1.0
    invalid_penalty: float = 0.1
    var_eps: float = 1e-8

    def validate(self) -> None:
        check_range("gamma", self.gamma, 0.0, 1.0)
        check_range("invalid_penalty", self.invalid_penalty, 0.0, None)
        check_range("var_eps", self.var_eps, 0.0, 1.0)


def reinforce_pp(table: TurnTable, cfg: ReinforcePPConfig, preset: str) -> AdvantageResult:
    idx = TrajIndex(table.traj, table.turn)
    r = table.reward - cfg.invalid_penalty * (~table.valid)
    ret = idx.discounted(r, cfg.gamma)
    if len(ret) < 2:
        return AdvantageResult(np.zeros_like(ret), None, {"returns": ret})
    mu = ret.mean()
    var = ret.var(ddof=1)
    return AdvantageResult((ret - mu) / np.sqrt(var + cfg.var_eps), None, {"returns": ret})
