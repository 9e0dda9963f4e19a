"""AEM: rescale any estimator's advantages by response-level uncertainty (ALGOS.md §6).

The paper shows that entropy drift is driven by advantage × (surprisal − entropy) at the response
level; its practical proxy down-weights uncertain responses and up-weights confident ones inside a
group, so that the same advantage moves the policy more where the policy is already decisive.
Per row (one response per turn): min–max normalise the mean token entropy ``H`` inside the scope,
``α = exp(−λ·H̃) / mean(exp(−λ·H̃))`` and ``A' = α·A``. A scope whose entropies are all equal
(``max − min ≤ eps``) gets α = 1, and λ = 0 is the identity.

No official code is public, so both presets compute the same thing; the base estimator still gets
the preset. Entropies come from rollout time or from :func:`turngym.algos.entropy.response_entropy`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from turngym.algos._grouping import combine_keys, group_min_max
from turngym.algos.base import (
    AdvantageResult,
    EstimatorConfig,
    check_choice,
    check_range,
)
from turngym.core.table import TurnTable

SCOPES = ("group", "trajectory")


@dataclass
class AEMConfig(EstimatorConfig):
    """``base``/``base_params``: the estimator whose advantages are modulated; ``lam``: strength;
    ``scope``: normalise over a task's rollouts (``group``) or a trajectory's turns."""

    base: str = "grpo"
    base_params: dict[str, Any] = field(default_factory=dict)
    lam: float = 1.0
    scope: str = "group"
    eps: float = 1e-8

    def validate(self) -> None:
        from turngym.algos.registry import estimators

        allowed = tuple(n for n in estimators if n != "aem")
        check_choice("base", self.base, allowed)
        if not isinstance(self.base_params, dict):
            raise ValueError(f"base_params must be a dict of the base estimator's parameters, got {self.base_params!r}")  # noqa: TRY004 (bad input values raise ValueError, the estimator contract)
        check_range("lam", self.lam, 0.0, None)
        check_choice("scope", self.scope, SCOPES)
        check_range("eps", self.eps, 0.0, None)


def entropy_weights(entropy: np.ndarray, codes: np.ndarray, n_groups: int, lam: float, eps: float) -> np.ndarray:
    """α per row (mean 1 inside every scope group)."""
    if not np.all(np.isfinite(entropy)):
        raise ValueError("AEM needs a finite entropy on every row (record it at rollout time or recompute it)")
    lo, hi = group_min_max(entropy, codes, n_groups)
    span = (hi - lo)[codes]
    flat = span <= eps
    h = np.where(flat, 0.0, (entropy - lo[codes]) / np.where(flat, 1.0, span))
    w = np.exp(-lam * h)
    count = np.bincount(codes, minlength=n_groups)
    mean_w = np.bincount(codes, weights=w, minlength=n_groups) / np.maximum(count, 1)
    return np.where(flat, 1.0, w / mean_w[codes])


def aem(table: TurnTable, cfg: AEMConfig, preset: str) -> AdvantageResult:
    from turngym.algos.registry import compute_advantages

    entropy = table.column("entropy")
    base = compute_advantages(cfg.base, table, preset, **cfg.base_params)
    key = table.group if cfg.scope == "group" else table.traj_key
    codes, n = combine_keys(key)
    alpha = entropy_weights(entropy, codes, n, cfg.lam, cfg.eps)
    diagnostics = dict(base.diagnostics, base_advantage=base.advantage, alpha=alpha)
    return AdvantageResult(alpha * base.advantage, base.clip_scale, diagnostics)
