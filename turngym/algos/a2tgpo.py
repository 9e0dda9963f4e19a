"""A²TGPO: information-gain turn advantages with turn-group normalisation, variance-rescaled
accumulation and adaptive per-turn clipping (ALGOS.md §5).

Reads ``info_gain`` (one value per tool turn; NaN where there is none, e.g. the answer turn; see
:mod:`turngym.algos.info_gain` to compute it) and the trajectory outcome (``outcome`` column, else
the answer turn's ``reward``). The last row of each trajectory is its answer turn and gets ``Õ``
only. Returns ``clip_scale`` per row: the factor that widens (informative turn) or narrows the PPO
clip range of that turn's tokens in :func:`turngym.algos.losses.compute_policy_loss_gspo`.

Presets:
- ``paper``: every non-final row with a finite ``info_gain`` is an IG turn; others get ``Õ``.
- ``reference``: ``compute_igpo_step_advantage`` with ``info_gain_norm_mode="turn-group-v1d"`` of
  CuSO4-Chen/A-TGPO @ f3121f77 (a transcription of the official file whose byte-parity is not
  verified), checked against its outputs in ``tests/algos/test_golden_reference.py``. Quirks,
  kept: an IG of exactly 0 (or none written) is no turn boundary: it does not count in ``n`` or
  in the turn-index groups (later IG turns are re-indexed), and its tokens take the **next**
  boundary's advantage and clip scale; the std is the population std ``sqrt(var + 1e-8)`` with
  1e-6 added; a group of size ≤ 1 gives 0 at both levels. The reference loss also infers turn
  spans from runs of equal advantage; pass explicit turn ids to the loss instead (see
  :func:`turngym.algos.losses.segments_from_advantage_runs` to reproduce it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from turngym.algos._grouping import TrajIndex, combine_keys, normalize
from turngym.algos.base import AdvantageResult, EstimatorConfig, check_bool, check_range
from turngym.algos.outcome import traj_group_codes, traj_return
from turngym.core.table import TurnTable


@dataclass
class A2TGPOConfig(EstimatorConfig):
    """Information-gain turn advantages.

    - ``alpha`` (float ≥ 0, default 0.3; ``adv_rescale_alpha``): weight of the accumulated IG term.
    - ``gamma`` (float in [0, 1], default 1.0): discount of the IG accumulation.
    - ``clip_coef`` (float in [0, 1), default 0.3): the clip scale lies in ``1 ± clip_coef``.
    - ``eps`` (float in [0, 1], default 1e-6; ``epsilon``): added to the population std.
    - ``var_eps`` (float in [0, 1], default 1e-8): inside the std's sqrt, ``sqrt(var + var_eps)``.
    - ``zero_ig_is_no_turn`` (bool; paper False, reference True): a turn whose IG is exactly 0 (or
      missing) is no boundary; its tokens take the next boundary's advantage and clip scale.
    """

    alpha: float = 0.3
    gamma: float = 1.0
    clip_coef: float = 0.3
    eps: float = 1e-6
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
        check_range("eps", self.eps, 0.0, 1.0)
        check_range("var_eps", self.var_eps, 0.0, 1.0)
        check_bool("zero_ig_is_no_turn", self.zero_ig_is_no_turn)


def answer_outcome(table: TurnTable, idx: TrajIndex) -> np.ndarray:
    """Each trajectory's outcome (indexed by trajectory code): the ``outcome`` column, else the
    answer turn's ``reward`` (the other rows' rewards are information gains, not the outcome)."""
    if table.outcome is not None:
        return traj_return(table, idx)
    return table.reward[idx.last_rows]


def a2tgpo(table: TurnTable, cfg: A2TGPOConfig, preset: str) -> AdvantageResult:
    ig = table.column("info_gain")
    n = len(table)
    idx = TrajIndex.of(table)
    g_traj, n_groups = traj_group_codes(table, idx)
    z_kwargs = {"std": "population", "var_eps": cfg.var_eps, "eps": cfg.eps, "lone": "zero"}
    outcome_z = normalize(answer_outcome(table, idx), g_traj, n_groups, **z_kwargs)[idx.traj_codes]

    is_ig = ~table.final & np.isfinite(ig)
    if cfg.zero_ig_is_no_turn:
        is_ig &= ig != 0
    adv = outcome_z.copy()
    clip = np.ones(n)
    ig_norm = np.zeros(n)
    rows = np.flatnonzero(is_ig) if idx.sorted else idx.order[is_ig[idx.order]]
    if len(rows):
        # rows taken in (traj, turn) order, so the sub-index needs no sort
        sub = TrajIndex(table.traj_key[rows], table.turn[rows], presorted=True)
        k = sub.position  # ordinal among the trajectory's IG turns: dropped turns re-index the rest
        k_codes, n_k = combine_keys(table.group[rows], k)
        z = normalize(ig[rows], k_codes, n_k, **z_kwargs)
        acc = sub.discounted(z, cfg.gamma) / np.sqrt(sub.length - k)
        adv[rows] = cfg.alpha * acc + outcome_z[rows]
        clip[rows] = 1.0 + cfg.clip_coef * np.tanh(0.5 * z)  # 2·sigmoid(z) − 1
        ig_norm[rows] = z
    boundary = is_ig | table.final
    if cfg.zero_ig_is_no_turn and not boundary.all():
        src = next_boundary(idx, boundary)
        adv, clip = adv[src], clip[src]
    return AdvantageResult(adv, clip, {"outcome_z": outcome_z, "ig_norm": ig_norm, "is_ig_turn": is_ig})


def next_boundary(idx: TrajIndex, boundary: np.ndarray) -> np.ndarray:
    """For each row, the row of the first boundary at or after it in its trajectory (turn order).

    In the reference a turn without a written IG has no boundary token, so its tokens fall into
    the span that ends at the next boundary. The last turn of a trajectory is always one (the
    answer turn); a trajectory that ends without any boundary keeps its own rows.
    """
    order = idx.order
    rows_sorted = np.arange(idx.n)
    is_b = boundary[order] | idx.last[order]
    cand = np.where(is_b, rows_sorted, idx.n)
    nxt = np.minimum.accumulate(cand[::-1])[::-1] if idx.n else cand
    out = np.empty(idx.n, dtype=np.int64)
    out[order] = order[nxt]
    return out
