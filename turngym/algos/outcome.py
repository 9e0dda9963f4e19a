"""Outcome estimators: GRPO (and Dr.GRPO), RLOO, REINFORCE++ (ALGOS.md §2).

Every turn of a trajectory gets the trajectory's advantage (GRPO/RLOO) or its whitened return
(REINFORCE++). These are the baselines the turn-level estimators are compared against, and GRPO's
normaliser is reused by GiGPO, MatchTIR and OPRL.

Presets (GRPO only; RLOO and REINFORCE++ are the same in both):
- ``paper``: statistics over trajectories (one score per trajectory, the penalty counted for each
  invalid turn); a lone trajectory gets 0.
- ``reference``: verl-agent @ d0b97244c50f17fb43a6ef0a15bca0e95a044ff7,
  ``verl/trainer/ppo/core_algos.py::compute_grpo_outcome_advantage`` on step rows, after
  ``ray_trainer.py::apply_invalid_action_penalty`` (checked against the official outputs in
  ``tests/algos/test_golden_reference.py``). Quirks, kept: each row's score is the episode
  reward minus *that row's* penalty; with ``cross_steps=True`` (verl-agent's default) the
  statistics are over every step row; with ``cross_steps=False`` they are over the **first row in
  table order** of each trajectory, with that row's own penalty (a first-seen baseline, so the
  result depends on the batch order), while every row is normalised from its own score; when one
  score enters a group's statistics, mean 0 and std 1: ``A = R / (1 + eps)`` (``R`` with
  Dr.GRPO).
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


def traj_return(table: TurnTable, idx: TrajIndex) -> np.ndarray:
    """Return of each trajectory (indexed by trajectory code): the ``outcome`` column (read on the
    first row) if present, else the sum of the trajectory's turn rewards."""
    if table.outcome is not None:
        return table.outcome[idx.first_rows]
    return idx.per_traj_sum(table.reward)


def episode_return(table: TurnTable, idx: TrajIndex) -> np.ndarray:
    """:func:`traj_return` broadcast to every row of the trajectory."""
    return traj_return(table, idx)[idx.traj_codes]


def traj_group_codes(table: TurnTable, idx: TrajIndex) -> tuple[np.ndarray, int]:
    """Group code of each trajectory (indexed by trajectory code) and the number of codes."""
    codes, n = combine_keys(table.group)
    return codes[idx.first_rows], n


def episode_scores(
    table: TurnTable, idx: TrajIndex, *, cross_steps: bool, invalid_penalty: float, row_penalty: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """The scores an outcome estimator normalises and which rows are counted (None: all rows).

    ``row_penalty`` (verl-agent): each row's score is the return minus the penalty of *that* row's
    action; with ``cross_steps`` every row enters the group statistics, without it only the first
    row of each trajectory in table order does (with its own penalty), while every row is still
    normalised from its own score. Otherwise (``row_penalty=False``, the paper's view): one score
    per trajectory, the return minus the penalty for each of its invalid turns, counted once per
    trajectory unless ``cross_steps``.
    """
    ret = episode_return(table, idx)
    invalid = (~table.valid).astype(np.float64)
    if row_penalty:
        return ret - invalid_penalty * invalid, None if cross_steps else idx.first_seen
    score = ret - invalid_penalty * idx.traj_sum(invalid)
    return score, None if cross_steps else idx.first


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
    """Group-normalised outcome advantage.

    - ``norm_by_std`` (bool, default True): divide by the group's unbiased std + ``eps``;
      False is Dr.GRPO (``norm_adv_by_std_in_grpo`` in verl).
    - ``cross_steps`` (bool; paper False, reference True): group statistics over every step row
      (verl-agent's ``compute_mean_std_cross_steps``) instead of one score per trajectory.
    - ``row_penalty`` (bool; paper False, reference True): the invalid-action penalty lowers only
      the invalid row's own score; without ``cross_steps`` the baseline then uses the first row
      of each trajectory in table order (see :func:`episode_scores`).
    - ``lone`` (``raw``|``zero``; paper zero, reference raw): what a group with one counted score
      gets: its raw score (mean 0, std 1, as verl) or 0.
    - ``invalid_penalty`` (float ≥ 0, default 0.1): subtracted for an invalid action.
    - ``eps`` (float in [0, 1], default 1e-6): added to the std.
    """

    norm_by_std: bool = True
    cross_steps: bool | None = None
    row_penalty: bool | None = None
    lone: str | None = None
    eps: float = 1e-6
    invalid_penalty: float = 0.1

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "paper": {"cross_steps": False, "row_penalty": False, "lone": "zero"},
        "reference": {"cross_steps": True, "row_penalty": True, "lone": "raw"},
    }

    def validate(self) -> None:
        check_bool("norm_by_std", self.norm_by_std)
        check_bool("cross_steps", self.cross_steps)
        check_bool("row_penalty", self.row_penalty)
        check_choice("lone", self.lone, ("raw", "zero"))
        check_range("eps", self.eps, 0.0, 1.0)
        check_range("invalid_penalty", self.invalid_penalty, 0.0, None)


def grpo(table: TurnTable, cfg: GRPOConfig, preset: str) -> AdvantageResult:
    idx = TrajIndex.of(table)
    codes, n_groups = group_codes(table)
    score, counted = episode_scores(
        table, idx, cross_steps=bool(cfg.cross_steps), invalid_penalty=cfg.invalid_penalty, row_penalty=bool(cfg.row_penalty)
    )
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
    idx = TrajIndex.of(table)
    codes, n_groups = group_codes(table)
    # RLOO has one convention: row scores exactly when every step row is counted.
    score, counted = episode_scores(
        table, idx, cross_steps=cfg.cross_steps, invalid_penalty=cfg.invalid_penalty, row_penalty=cfg.cross_steps
    )
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
    idx = TrajIndex.of(table)
    r = table.reward - cfg.invalid_penalty * (~table.valid)
    ret = idx.discounted(r, cfg.gamma)
    if len(ret) < 2:
        return AdvantageResult(np.zeros_like(ret), None, {"returns": ret})
    mu = ret.mean()
    var = ret.var(ddof=1)
    return AdvantageResult((ret - mu) / np.sqrt(var + cfg.var_eps), None, {"returns": ret})
