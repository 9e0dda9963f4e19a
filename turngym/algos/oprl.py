"""OPRL (iStar): an implicit process reward model trained online, and its two-level advantage
(ALGOS.md §7).

The PRM ``π_φ`` is a copy of the policy. A turn's step reward is ``β·Σ(log π_φ − log π_old)`` over
its response tokens: the PRM learns, with a trajectory-level DPO loss on (better, worse) pairs of a
group, to put probability mass on the actions of better trajectories, and the log-ratio then says
how much each turn contributed. No step labels and no extra rollouts are needed.

Estimator presets:
- ``paper``: the step level compares every turn's step reward with all turns of its group; the DPO
  ``Q`` of a trajectory is the *sum* of its step rewards; no invalid penalty.
- ``reference``: Tongyi-ConvAI/Tongyi-Character @ dfee104ed75b3c0d568514153ee6d82bbd67c303,
  ``CharacterRL-iStar/istar/core_istar.py::compute_istar_rloo_advantage`` after its
  ``ray_trainer.py::apply_invalid_action_penalty`` and ``episode.py`` reward manager, checked
  against the official outputs in ``tests/algos/test_golden_reference.py``. Quirks, kept: each
  level's group baseline uses the **first row in table order** of each trajectory (so results
  depend on the batch order, e.g. after ``balance_batch``); the invalid penalty lowers each row's
  own episode score but is a **no-op on the step rewards** (it edits a temporary); ``Q`` is the
  *mean* over the trajectory's turns.
The torch part (:class:`ImplicitPRM`) is imported lazily so the estimators stay numpy-only.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from turngym.algos._grouping import TrajIndex, combine_keys, normalize
from turngym.algos.base import (
    AdvantageResult,
    EstimatorConfig,
    check_bool,
    check_choice,
    check_range,
)
from turngym.algos.outcome import episode_return, rloo_normalize
from turngym.core.table import TurnTable

if TYPE_CHECKING:
    import torch

LEVELS = ("rloo", "grpo")
Q_REDUCE = {"paper": "sum", "reference": "mean"}


# -- estimator -------------------------------------------------------------------------------
@dataclass
class OPRLConfig(EstimatorConfig):
    """Episode-level plus step-level advantage, ``A = A_E + w·A_S``.

    - ``levels`` (``rloo``|``grpo``, default rloo as the reference): the baseline at both levels.
    - ``step_advantage_w`` (float ≥ 0, default 1.0): ``w``, the weight of the step level.
    - ``invalid_penalty`` (float ≥ 0; paper 0, reference 0.1 as iStar's run scripts): subtracted
      from an invalid row's episode score. It never reaches the step rewards: in the reference the
      penalty edits a temporary (``torch.sum(rm_scores)``), a no-op kept here.
    - ``first_row_baseline`` (bool; paper False, reference True): each level's group baseline uses
      the first row *in table order* of each trajectory, so results depend on the batch order.
    - ``lone`` (``raw``|``zero``; GRPO levels only): what a lone group member gets.
    - ``eps`` (float in [0, 1], default 1e-6): added to the std of GRPO levels.
    """

    levels: str = "rloo"
    step_advantage_w: float = 1.0
    invalid_penalty: float | None = None
    eps: float = 1e-6
    first_row_baseline: bool | None = None
    lone: str | None = None

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "paper": {"first_row_baseline": False, "lone": "zero", "invalid_penalty": 0.0},
        "reference": {"first_row_baseline": True, "lone": "raw", "invalid_penalty": 0.1},
    }

    def validate(self) -> None:
        check_choice("levels", self.levels, LEVELS)
        check_range("step_advantage_w", self.step_advantage_w, 0.0, None)
        check_range("invalid_penalty", self.invalid_penalty, 0.0, None)
        check_range("eps", self.eps, 0.0, 1.0)
        check_bool("first_row_baseline", self.first_row_baseline)
        check_choice("lone", self.lone, ("raw", "zero"))


def _level(x: np.ndarray, codes: np.ndarray, n: int, counted: np.ndarray | None, cfg: OPRLConfig) -> np.ndarray:
    if cfg.levels == "rloo":
        return rloo_normalize(x, codes, n, counted)
    return normalize(x, codes, n, counted=counted, eps=cfg.eps, lone=cfg.lone)  # type: ignore[arg-type]


def oprl(table: TurnTable, cfg: OPRLConfig, preset: str) -> AdvantageResult:
    """Needs ``step_reward`` (normalised PRM rewards, see :func:`normalize_step_rewards`).

    Episode level: each row's score is the trajectory outcome minus that row's invalid penalty;
    the baseline is over one row per trajectory (the first seen with ``first_row_baseline``, else
    the first turn). Step level: the rows' step rewards against the first-seen rows' (reference)
    or against every turn of the group (paper).
    """
    step = table.column("step_reward")
    if not np.all(np.isfinite(step)):
        raise ValueError("OPRL needs a finite step_reward on every row")
    idx = TrajIndex.of(table)
    codes, n = combine_keys(table.group)
    score = episode_return(table, idx) - cfg.invalid_penalty * (~table.valid)
    a_e = _level(score, codes, n, idx.first_seen if cfg.first_row_baseline else idx.first, cfg)
    a_s = _level(step, codes, n, idx.first_seen if cfg.first_row_baseline else None, cfg)
    w = cfg.step_advantage_w
    return AdvantageResult(a_e + w * a_s, None, {"episode_advantage": a_e, "step_advantage": a_s})


def normalize_step_rewards(rewards: np.ndarray, traj: np.ndarray, turn: np.ndarray) -> np.ndarray:
    """Divide by the batch max of |reverse cumulative sum| so every return-to-go lies in [−1, 1]."""
    rewards = np.asarray(rewards, dtype=np.float64)
    rc = TrajIndex(np.asarray(traj), np.asarray(turn)).discounted(rewards, 1.0)
    scale = float(np.abs(rc).max()) if len(rc) else 0.0
    return rewards / scale if scale > 0 else rewards.copy()


# -- implicit PRM ----------------------------------------------------------------------------
class ImplicitPRM:
    """A copy of the policy LM trained online with the trajectory-level DPO loss.

    Rows are step rows: ``input_ids`` (N, L) holds one turn's prompt + response, ``response_mask``
    marks the response tokens, ``old_logprobs`` (N, L) the rollout policy's log-prob of each token
    (aligned with ``input_ids``, see :func:`turngym.algos.lm.token_logprobs`).
    """

    def __init__(
        self,
        policy: torch.nn.Module,
        *,
        beta: float = 0.05,
        lr: float = 1e-6,
        grad_clip: float = 10.0,
        preset: str = "reference",
        q_reduce: str | None = None,
        optimizer: torch.optim.Optimizer | None = None,
    ) -> None:
        import torch

        check_range("beta", beta, 0.0, None, lo_open=True)
        check_range("lr", lr, 0.0, None, lo_open=True)
        check_range("grad_clip", grad_clip, 0.0, None, lo_open=True)
        check_choice("preset", preset, tuple(Q_REDUCE))
        self.q_reduce = q_reduce or Q_REDUCE[preset]
        check_choice("q_reduce", self.q_reduce, ("sum", "mean"))
        self.beta, self.grad_clip = beta, grad_clip
        self.model = copy.deepcopy(policy)
        self.model.train()
        self.optimizer = optimizer or torch.optim.AdamW(self.model.parameters(), lr=lr, weight_decay=0.0)

    def _scores(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, response_mask: torch.Tensor, old_logprobs: torch.Tensor) -> torch.Tensor:
        from turngym.algos.lm import token_logprobs

        logp = token_logprobs(self.model, input_ids, attention_mask)
        mask = response_mask.to(logp.dtype).clone()
        mask[:, 0] = 0  # the first token has no prediction
        return self.beta * ((logp - old_logprobs.to(logp.dtype)) * mask).sum(-1)

    def step_rewards(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, response_mask: torch.Tensor, old_logprobs: torch.Tensor) -> np.ndarray:
        """Raw per-turn step rewards ``β·Σ(log π_φ − log π_old)`` (before normalisation)."""
        import torch

        with torch.no_grad():
            return self._scores(input_ids, attention_mask, response_mask, old_logprobs).double().numpy()

    def dpo_loss(self, scores: torch.Tensor, traj: np.ndarray, group: np.ndarray, outcome: np.ndarray) -> tuple[torch.Tensor, int]:
        """Mean of ``−log σ(Q(τ⁺) − Q(τ⁻))`` over all pairs of a group with a strictly better τ⁺."""
        import torch

        _, t_codes = np.unique(np.asarray(traj), return_inverse=True)
        t_codes = t_codes.reshape(-1)
        n_traj = int(t_codes.max()) + 1 if len(t_codes) else 0
        idx = torch.as_tensor(t_codes)
        q = torch.zeros(n_traj, dtype=scores.dtype).index_add(0, idx, scores)
        if self.q_reduce == "mean":
            q = q / torch.bincount(idx, minlength=n_traj).to(scores.dtype)
        first = np.full(n_traj, len(t_codes), dtype=np.int64)
        np.minimum.at(first, t_codes, np.arange(len(t_codes)))
        g = np.asarray(group)[first]
        o = np.asarray(outcome, dtype=np.float64)[first]
        better = torch.as_tensor((g[:, None] == g[None, :]) & (o[:, None] > o[None, :]))
        n_pairs = int(better.sum())
        if n_pairs == 0:
            return scores.sum() * 0.0, 0
        margin = q[:, None] - q[None, :]
        return torch.nn.functional.softplus(-margin)[better].mean(), n_pairs

    def update(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        response_mask: torch.Tensor,
        old_logprobs: torch.Tensor,
        *,
        traj: np.ndarray,
        group: np.ndarray,
        outcome: np.ndarray,
    ) -> dict[str, float]:
        """One optimiser step on the DPO loss (skipped when a batch has no preference pair)."""
        import torch

        self.model.train()
        scores = self._scores(input_ids, attention_mask, response_mask, old_logprobs)
        loss, n_pairs = self.dpo_loss(scores, traj, group, outcome)
        grad_norm = 0.0
        if n_pairs:
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = float(torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip))
            self.optimizer.step()
        return {"prm_loss": float(loss.detach()), "prm_pairs": float(n_pairs), "prm_grad_norm": grad_norm}

    def step(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        response_mask: torch.Tensor,
        old_logprobs: torch.Tensor,
        *,
        traj: np.ndarray,
        turn: np.ndarray,
        group: np.ndarray,
        outcome: np.ndarray,
    ) -> tuple[np.ndarray, dict[str, float]]:
        """Normalised step rewards from the forward pass *before* the update, then one update."""
        raw = self.step_rewards(input_ids, attention_mask, response_mask, old_logprobs)
        stats = self.update(input_ids, attention_mask, response_mask, old_logprobs, traj=traj, group=group, outcome=outcome)
        return normalize_step_rewards(raw, traj, turn), stats
