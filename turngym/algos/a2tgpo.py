"""A²TGPO: information-gain turn advantages with turn-group normalisation, variance-rescaled
accumulation and adaptive per-turn clipping (ALGOS.md §5).

Reads ``info_gain`` (one value per tool turn; NaN where there is none, e.g. the answer turn; see
:mod:`turngym.algos.info_gain` to compute it) and the trajectory outcome (``outcome`` column, else
the sum of ``reward``). The last row of each trajectory is its answer turn and gets ``Õ`` only.
Returns ``clip_scale`` per row: the factor that widens (informative turn) or narrows the PPO clip
range of that turn's tokens in :func:`turngym.algos.losses.compute_policy_loss_gspo`.

Presets:
- ``paper``: every non-final row with a finite ``info_gain`` is an IG turn.
- ``reference`` (official code): an IG of exactly 0 is treated as no turn (it gets ``Õ``, clip 1,
  and does not count in ``n`` or in the turn-index groups). The reference loss also infers turn
  spans from runs of equal advantage; pass explicit turn ids to the loss instead (see
  :func:`turngym.algos.losses.segments_from_advantage_runs` to reproduce it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from turngym.algos._grouping import TrajIndex, combine_keys, normalize
from turngym.algos.base import AdvantageResult, EstimatorConfig, check_bool, check_range
from turngym.algos.outcome import episode_return
from turngym.core.table import TurnTable


@dataclass
class A2TGPOConfig(EstimatorConfig):
    """``alpha`` weighs the IG term, ``gamma`` discounts it, ``clip_coef`` bounds the clip scale to
    ``1 ± clip_coef``; ``var_eps`` sits inside the population std's sqrt."""

    alpha: float = 0.3
    gamma: float = 1.0
    clip_coef: float = 0.3
    var_eps: float = 1e-8
    zero_ig_is_no_turn: bool | None = None

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "paper": {"zero_ig_is_no_turn": False},
        "reference": {"zero_ig_is_no_turn": True},
    }

    def validate(self) -> None:
        check_range("alpha", self.alpha, 0.0, None)
        check_range("gamma", self.gamma, 0.0, 1.0)
        check_range("clip_coef", self.clip_coef, 0.0, 1.0, hi_open=True)
        check_range("var_eps", self.var_eps, 0.0, 1.0)
        check_bool("zero_ig_is_no_turn", self.zero_ig_is_no_turn)


def a2tgpo(table: TurnTable, cfg: A2TGPOConfig, preset: str) -> AdvantageResult:
    ig = table.column("info_gain")
    n = len(table)
    idx = TrajIndex(table.traj, table.turn)
    g_codes, n_groups = combine_keys(table.group)
    outcome_z = normalize(
        episode_return(table, idx), g_codes, n_groups, counted=idx.first, std="population",
        var_eps=cfg.var_eps, eps=0.0, lone="zero",
    )

    is_ig = ~table.final & np.isfinite(ig)
    if cfg.zero_ig_is_no_turn:
        is_ig &= ig != 0
    adv = outcome_z.copy()
    clip = np.ones(n)
    ig_norm = np.zeros(n)
    rows = np.flatnonzero(is_ig)
    if len(rows):
        sub = TrajIndex(table.traj[rows], table.turn[rows])
        k = sub.position
        k_codes, n_k = combine_keys(table.group[rows], k)
        z = normalize(ig[rows], k_codes, n_k, std="population", var_eps=cfg.var_eps, eps=0.0, lone="zero")
        acc = sub.discounted(z, cfg.gamma) / np.sqrt(sub.length - k)
        adv[rows] = cfg.alpha * acc + outcome_z[rows]
        clip[rows] = 1.0 + cfg.clip_coef * (2.0 / (1.0 + np.exp(-z)) - 1.0)
        ig_norm[rows] = z
    return AdvantageResult(adv, clip, {"outcome_z": outcome_z, "ig_norm": ig_norm, "is_ig_turn": is_ig})
