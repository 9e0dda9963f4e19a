"""GiGPO: episode-level GRPO plus a step-level advantage over anchor-state groups (ALGOS.md §3).

Turns from any trajectory of the same task group that stand in the same env state (``anchor``)
form an anchor group; a turn's step advantage compares its discounted return with theirs. That is
what gives per-turn credit without a critic when states recur (ALFWorld rooms, KeyDoor rooms).

Presets:
- ``paper``: episode statistics over trajectories (a lone trajectory gets ``A_E = 0``); the
  invalid-action penalty is part of the turn reward *before* discounting (earlier turns feel it)
  and of the episode return.
- ``reference``: verl-agent @ d0b97244c50f17fb43a6ef0a15bca0e95a044ff7,
  ``gigpo/core_gigpo.py`` (``compute_step_discounted_returns``, ``compute_gigpo_outcome_advantage``)
  with ``ray_trainer.py::apply_invalid_action_penalty`` and the episode reward manager, in the
  ``ray_trainer.fit`` order; checked against the official code's outputs in
  ``tests/algos/test_golden_reference.py``. Its quirks, kept:
  episode statistics over *step rows* (a trajectory with k turns counts k times; a group with one
  row keeps its raw score, mean 0 and std 1); the penalty lowers only the invalid row's score
  and is subtracted from that row's discounted return *after* discounting (earlier turns never
  see it); anchor groups never merge across task groups.
Both: a turn alone in its anchor group gets ``A_S = 0``, so with no repeated anchor GiGPO equals
GRPO with the same normalisation (``mean_std_norm`` ↔ ``norm_by_std=True``). Not reproduced: the
official float32 ``mean_std_norm`` artefact where ≥ 6 identical returns give ``(x−μ)/(0+1e-6)`` ≈
−0.47 instead of 0 (a summation rounding; we compute in float64 and give 0).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from turngym.algos._grouping import (
    TrajIndex,
    combine_keys,
    factorize_objects,
    nested_codes,
    normalize,
)
from turngym.algos.base import (
    AdvantageResult,
    EstimatorConfig,
    check_bool,
    check_choice,
    check_range,
)
from turngym.algos.outcome import episode_scores
from turngym.core.table import TurnTable

MODES = ("mean_norm", "mean_std_norm")


@dataclass
class GiGPOConfig(EstimatorConfig):
    """GiGPO's two levels, ``A = A_E + w·A_S``.

    - ``mode`` (``mean_norm``|``mean_std_norm``, default mean_norm as the reference config): the
      normaliser F is 1 or the unbiased std + ``eps``, at both levels.
    - ``gamma`` (float in [0, 1], default 0.95): discount of the step returns.
    - ``step_advantage_w`` (float ≥ 0, default 1.0): ``w``, the weight of the step level.
    - ``invalid_penalty`` (float ≥ 0, default 0.1): subtracted for an invalid action.
    - ``eps`` (float in [0, 1], default 1e-6): added to the std.
    - ``similarity`` (None or a ratio in (0, 1]): None groups identical anchors; a ratio groups
      anchors greedily by ``difflib.SequenceMatcher`` ratio against each cluster's first member
      (0.95 in the reference's ``enable_similarity``).
    - ``cross_steps``, ``row_penalty``, ``lone`` (preset-dependent): the episode level as in
      :class:`~turngym.algos.outcome.GRPOConfig`.
    - ``penalty_after_discount`` (bool; paper False, reference True): where the penalty enters
      the step return (see the module docstring).
    """

    mode: str = "mean_norm"
    gamma: float = 0.95
    step_advantage_w: float = 1.0
    invalid_penalty: float = 0.1
    eps: float = 1e-6
    similarity: float | None = None
    cross_steps: bool | None = None
    row_penalty: bool | None = None
    penalty_after_discount: bool | None = None
    lone: str | None = None

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "paper": {"cross_steps": False, "row_penalty": False, "penalty_after_discount": False, "lone": "zero"},
        "reference": {"cross_steps": True, "row_penalty": True, "penalty_after_discount": True, "lone": "raw"},
    }

    def validate(self) -> None:
        check_choice("mode", self.mode, MODES)
        check_range("gamma", self.gamma, 0.0, 1.0)
        check_range("step_advantage_w", self.step_advantage_w, 0.0, None)
        check_range("invalid_penalty", self.invalid_penalty, 0.0, None)
        check_range("eps", self.eps, 0.0, 1.0)
        if self.similarity is not None:
            check_range("similarity", self.similarity, 0.0, 1.0, lo_open=True)
        check_bool("cross_steps", self.cross_steps)
        check_bool("row_penalty", self.row_penalty)
        check_bool("penalty_after_discount", self.penalty_after_discount)
        check_choice("lone", self.lone, ("raw", "zero"))


def similarity_clusters(group: np.ndarray, anchor: np.ndarray, threshold: float) -> np.ndarray:
    """Cluster id per row: inside each group, an anchor joins the first cluster whose first member
    is at least ``threshold`` similar (verl-agent's greedy rule); otherwise it starts a cluster.

    Works on the distinct (group, anchor) pairs only, so the quadratic part is over unique states.
    """
    codes = factorize_objects(anchor)
    pair, n_pairs = combine_keys(group, codes, dense=True)
    first_row = np.full(n_pairs, len(group), dtype=np.int64)
    np.minimum.at(first_row, pair, np.arange(len(group)))
    cluster_of_pair = np.empty(n_pairs, dtype=np.int64)
    heads: dict[int, list[tuple[str, int]]] = {}
    next_id = 0
    for p in np.argsort(first_row, kind="stable"):
        row = first_row[p]
        g, text = int(group[row]), str(anchor[row])
        for head_text, cid in heads.setdefault(g, []):
            if head_text == text or difflib.SequenceMatcher(None, head_text, text).ratio() >= threshold:
                cluster_of_pair[p] = cid
                break
        else:
            heads[g].append((text, next_id))
            cluster_of_pair[p] = next_id
            next_id += 1
    return cluster_of_pair[pair]


def anchor_groups(table: TurnTable, similarity: float | None) -> tuple[np.ndarray, int]:
    if similarity is not None:
        return combine_keys(table.group, similarity_clusters(table.group, table.anchor, similarity))
    codes = table.anchor_codes
    return nested_codes(table.group, codes, int(codes.max()) + 1 if len(codes) else 0)


def gigpo(table: TurnTable, cfg: GiGPOConfig, preset: str) -> AdvantageResult:
    idx = TrajIndex.of(table)
    by_std = cfg.mode == "mean_std_norm"
    g_codes, n_groups = combine_keys(table.group)
    score, counted = episode_scores(
        table, idx, cross_steps=bool(cfg.cross_steps), invalid_penalty=cfg.invalid_penalty, row_penalty=bool(cfg.row_penalty)
    )
    a_e = normalize(score, g_codes, n_groups, counted=counted, by_std=by_std, eps=cfg.eps, lone=cfg.lone)  # type: ignore[arg-type]

    penalty = cfg.invalid_penalty * (~table.valid)
    if cfg.penalty_after_discount:
        step_return = idx.discounted(table.reward, cfg.gamma) - penalty
    else:
        step_return = idx.discounted(table.reward - penalty, cfg.gamma)
    a_codes, n_anchor = anchor_groups(table, cfg.similarity)
    a_s = normalize(step_return, a_codes, n_anchor, by_std=by_std, eps=cfg.eps, lone="zero")
    sizes = np.bincount(a_codes, minlength=n_anchor)
    diagnostics = {
        "episode_advantage": a_e,
        "step_advantage": a_s,
        "step_return": step_return,
        "anchor_groups": int((sizes > 0).sum()),
        "repeated_state_fraction": float(sizes[sizes > 1].sum() / max(len(a_codes), 1)),
    }
    adv = a_e + a_s if cfg.step_advantage_w == 1.0 else a_e + cfg.step_advantage_w * a_s
    return AdvantageResult(adv, None, diagnostics)
