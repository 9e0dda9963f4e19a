"""MatchTIR: turn rewards from matching predicted tool calls to gold calls, and its dual-level
advantage (ALGOS.md §4).

The reward side (:func:`turn_rewards`) scores each predicted call by the gold call it is matched
to, so a redundant or wrong call earns nothing while the turn that made the right call is credited.
The estimator (:func:`matchtir`) combines a trajectory-level GRPO over the summed turn rewards with
a turn-level advantage over discounted turn returns at the same turn index.

Presets:
- ``paper``: hard assignment is a true maximum-weight matching (Kuhn–Munkres, scipy's
  ``linear_sum_assignment``); advantages combine as ``A_g + A_l``.
- ``reference``: quchangle1/MatchTIR @ f614ce1135dcb38819ebae5967318084b3cb016b,
  ``Code/verl/trainer/ppo/core_algos.py`` (the advantage) and ``Code/verl/utils/reward_score/tool.py``
  with ``Code/utils/parse_output.py`` (``compute_process_KM`` / ``compute_process_ot``), checked
  against the official outputs in ``tests/algos/test_golden_reference.py``. Quirks, kept: its
  "Hungarian" ``hungarian_assignment`` is **greedy** (pairs by descending similarity, only S > 0),
  which can differ from the optimum; unmatched calls earn 0 (the caller's value, not the
  function's −0.5 default); calls inside the answer turn are ignored; argument values compare
  with Python ``==`` (``"2" != 2``); λ = 0.9 is hard-coded; the levels combine as
  ``(A_g + A_l) / 2``; OT rewards carry the 1/P marginal. Not reproduced: OT with no gold call
  raises ``ZeroDivisionError`` inside POT there; here every call gets 0.
"""

from __future__ import annotations

import json
import string
from collections import Counter
from collections.abc import Mapping, Sequence
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
from turngym.algos.outcome import traj_group_codes
from turngym.core.table import TurnTable

ASSIGNMENTS = ("km", "greedy", "ot")


# -- similarity ------------------------------------------------------------------------------
def _call_parts(call: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """(lower-cased name, arguments dict) of a call given OpenAI-style or flat."""
    if not isinstance(call, Mapping):
        raise ValueError(f"a tool call must be a mapping with 'name' and 'arguments', got {type(call).__name__}")  # noqa: TRY004 (bad input values raise ValueError, the estimator contract)
    fn = call.get("function", call)
    name = fn.get("name")
    if not isinstance(name, str):
        raise ValueError(f"tool call without a string 'name': {call!r}")  # noqa: TRY004 (bad input values raise ValueError, the estimator contract)
    args = fn.get("arguments", fn.get("parameters", {}))
    if isinstance(args, str):
        try:
            args = json.loads(args) if args.strip() else {}
        except json.JSONDecodeError:
            args = {}
    if not isinstance(args, Mapping):
        args = {}
    return name.lower(), dict(args)


def _keyset_match(pred_keys: list[str], gold_keys: list[str]) -> float:
    if sorted(pred_keys) == sorted(gold_keys):
        return 1.0
    if not pred_keys or not gold_keys:
        return 0.0
    p, g = Counter(pred_keys), Counter(gold_keys)
    return sum((p & g).values()) / sum((p | g).values())


def call_similarity(pred: Mapping[str, Any], gold: Mapping[str, Any]) -> float:
    """``(1 + keyset_match + #exactly matching gold params) / (2 + #gold params)``; 0 on a name mismatch."""
    p_name, p_args = _call_parts(pred)
    g_name, g_args = _call_parts(gold)
    if p_name != g_name:
        return 0.0
    exact = sum(1 for k, v in g_args.items() if k in p_args and p_args[k] == v)
    return (1.0 + _keyset_match(list(p_args), list(g_args)) + exact) / (2.0 + len(g_args))


def similarity_matrix(pred_calls: Sequence[Mapping[str, Any]], gold_calls: Sequence[Mapping[str, Any]]) -> np.ndarray:
    return np.array([[call_similarity(p, g) for g in gold_calls] for p in pred_calls], dtype=np.float64).reshape(
        len(pred_calls), len(gold_calls)
    )


# -- assignment ------------------------------------------------------------------------------
def km_rewards(S: np.ndarray, *, unmatched: float = 0.0) -> np.ndarray:
    """Maximum-weight bipartite matching (scipy); each matched predicted call earns its S, the
    others ``unmatched``."""
    from scipy.optimize import linear_sum_assignment

    out = np.full(S.shape[0], float(unmatched))
    if S.size:
        rows, cols = linear_sum_assignment(S, maximize=True)
        out[rows] = S[rows, cols]
    return out


def greedy_rewards(S: np.ndarray, *, unmatched: float = 0.0) -> np.ndarray:
    """The reference matcher: take pairs by descending S (ties in row-major order), S > 0 only;
    predicted calls left over earn ``unmatched``."""
    out = np.full(S.shape[0], float(unmatched))
    used_p: set[int] = set()
    used_g: set[int] = set()
    flat = np.argsort(-S.ravel(), kind="stable")
    for k in flat:
        i, j = divmod(int(k), S.shape[1])
        if S[i, j] <= 0:
            break
        if i in used_p or j in used_g:
            continue
        used_p.add(i)
        used_g.add(j)
        out[i] = S[i, j]
    return out


def sinkhorn(a: np.ndarray, b: np.ndarray, M: np.ndarray, reg: float, *, max_iter: int = 1000, tol: float = 1e-9) -> np.ndarray:
    """Entropic OT plan as ``ot.sinkhorn`` (POT's ``sinkhorn_knopp``) computes it, in log domain.

    The iteration order and stopping rule are POT's: start from ``u = 1/P``, update the column
    scaling, then the row scaling; every 10th iteration stop when the 2-norm of the column-marginal
    error is below ``tol``. When it does not converge in ``max_iter`` iterations (POT warns), the
    plan is the one those iterations reach, so the rewards equal the reference's even then.
    """
    from scipy.special import logsumexp

    logK = -M / reg
    log_a, log_b = np.log(a), np.log(b)
    f = np.full_like(a, -np.log(len(a)))  # log u, u = 1/P
    g = np.zeros_like(b)
    for it in range(max_iter):
        g = log_b - logsumexp(logK + f[:, None], axis=0)
        f = log_a - logsumexp(logK + g[None, :], axis=1)
        if it % 10 == 0 and np.linalg.norm(np.exp(f[:, None] + logK + g[None, :]).sum(axis=0) - b) < tol:
            break
    return np.exp(f[:, None] + logK + g[None, :])


def ot_rewards(S: np.ndarray, reg: float = 0.1) -> np.ndarray:
    """Soft assignment: reward of call i is ``Σ_j T_ij S_ij`` (it carries the 1/P marginal)."""
    P, G = S.shape
    if P == 0 or G == 0:
        return np.zeros(P)
    T = sinkhorn(np.full(P, 1.0 / P), np.full(G, 1.0 / G), -S, reg)
    return (T * S).sum(axis=1)


# -- turn rewards ----------------------------------------------------------------------------
_PUNCT = str.maketrans({c: " " for c in string.punctuation})


def answer_f1(pred: str, gold: str) -> float:
    """Token-set F1 after lower-casing and replacing ASCII punctuation (``string.punctuation``,
    as the reference does) by spaces."""
    p = set(pred.lower().translate(_PUNCT).split())
    g = set(gold.lower().translate(_PUNCT).split())
    common = len(p & g)
    if common == 0:
        return 0.0
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


def _turn_parts(turn: Any) -> tuple[list[Mapping[str, Any]], str | None]:
    if isinstance(turn, Mapping):
        calls = turn.get("tool_calls") or []
        answer = turn.get("answer")
        return list(calls), answer if isinstance(answer, str) else None
    if isinstance(turn, Sequence) and not isinstance(turn, str):
        return list(turn), None
    raise ValueError(f"a predicted turn must be a mapping {{'tool_calls': [...], 'answer': str?}} or a list of calls, got {turn!r}")


def turn_rewards(
    pred_turns: Sequence[Any],
    gold_calls: Sequence[Mapping[str, Any]],
    assignment: str = "km",
    *,
    preset: str = "paper",
    gold_answer: str | None = None,
    answer: Mapping[str, Any] | None = None,
    unmatched_penalty: float = 0.0,
    reg: float = 0.1,
) -> np.ndarray:
    """One reward per predicted turn of one trajectory (plus one for ``answer``, when given).

    ``pred_turns[i]`` is ``{"tool_calls": [{"name", "arguments"}, ...], "answer": str | None}`` (or a
    bare list of calls). All calls of the trajectory are matched against all ``gold_calls`` at once.
    ``assignment="km"`` is Kuhn–Munkres in the ``paper`` preset and the greedy matcher in the
    ``reference`` preset (the official ``hungarian_assignment``); ``"greedy"`` forces the greedy
    matcher; ``"ot"`` is Sinkhorn transport with entropic ``reg``. A turn's reward is the mean of
    its calls' rewards; a predicted call left unmatched by a hard assignment earns
    ``unmatched_penalty`` (0, what the official caller passes; the function default there is
    −0.5). A turn with an answer gets the answer's token-set F1 against ``gold_answer`` (0 without
    one); a turn with neither gets 0.

    ``answer`` is the official harness's form of the final turn, ``{"pred", "gold", "calls"?}``: an
    extra answer turn is appended, scored by F1 of ``pred`` against ``gold``. In the ``reference``
    preset the calls of any answer turn are ignored (not matched, not rewarded), as the official
    parser skips them.
    """
    check_choice("assignment", assignment, ASSIGNMENTS)
    check_choice("preset", preset, ("paper", "reference"))
    check_range("reg", reg, 0.0, None, lo_open=True)
    check_range("unmatched_penalty", unmatched_penalty)
    parts = [_turn_parts(t) for t in pred_turns]
    if answer is not None:
        if not isinstance(answer, Mapping) or not isinstance(answer.get("pred"), str):
            raise ValueError(f"answer must be a mapping with a string 'pred' (and 'gold'), got {answer!r}")
        parts.append((list(answer.get("calls") or []), answer["pred"]))
        gold_answer = answer.get("gold", gold_answer)
    if preset == "reference":
        parts = [([] if ans is not None else calls, ans) for calls, ans in parts]
    flat = [c for calls, _ in parts for c in calls]
    S = similarity_matrix(flat, list(gold_calls))
    if assignment == "ot":
        call_r = ot_rewards(S, reg)
    else:
        matcher = greedy_rewards if assignment == "greedy" or preset == "reference" else km_rewards
        call_r = matcher(S, unmatched=unmatched_penalty)
    out = np.zeros(len(parts))
    k = 0
    for i, (calls, ans) in enumerate(parts):
        if ans is not None:
            out[i] = answer_f1(ans, gold_answer) if gold_answer is not None else 0.0
        elif calls:
            out[i] = float(call_r[k : k + len(calls)].mean())
        k += len(calls)
    return out


# -- estimator -------------------------------------------------------------------------------
@dataclass
class MatchTIRConfig(EstimatorConfig):
    """Dual-level advantage over turn rewards.

    - ``lam`` (float in [0, 1], default 0.9, hard-coded in the reference): discount of the turn
      returns ``R_j = Σ_{k≥j} λ^{k−j} r_k``.
    - ``combine`` (``sum``|``half_sum``; paper sum, reference half_sum): ``A_g + A_l`` or
      ``(A_g + A_l) / 2``.
    - ``norm_by_std`` (bool, default True; ``norm_adv_by_std_in_grpo``): divide both levels by
      their unbiased std + ``eps``; False keeps the mean-centred values.
    - ``eps`` (float in [0, 1], default 1e-6).
    """

    lam: float = 0.9
    combine: str | None = None
    norm_by_std: bool = True
    eps: float = 1e-6

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {"paper": {"combine": "sum"}, "reference": {"combine": "half_sum"}}

    def validate(self) -> None:
        check_range("lam", self.lam, 0.0, 1.0)
        check_choice("combine", self.combine, ("sum", "half_sum"))
        check_bool("norm_by_std", self.norm_by_std)
        check_range("eps", self.eps, 0.0, 1.0)


def matchtir(table: TurnTable, cfg: MatchTIRConfig, preset: str) -> AdvantageResult:
    """Turn rewards come from ``tool_match_reward`` when present, else ``reward``.

    ``A_g``: GRPO over the trajectory sums (one per trajectory); ``A_l``: the turn returns
    normalised over the trajectories of the group that have that turn index. Either level's lone
    member keeps its raw value (mean 0, std 1), as the reference's GRPO normaliser does.
    """
    r = table.tool_match_reward if table.tool_match_reward is not None else table.reward
    idx = TrajIndex.of(table)
    g_traj, n_groups = traj_group_codes(table, idx)
    by_std = bool(cfg.norm_by_std)
    a_g = normalize(idx.per_traj_sum(r), g_traj, n_groups, by_std=by_std, eps=cfg.eps, lone="raw")[idx.traj_codes]
    turn_return = idx.discounted(r, cfg.lam)
    t_codes, n_t = combine_keys(table.group, idx.position)
    a_l = normalize(turn_return, t_codes, n_t, by_std=by_std, eps=cfg.eps, lone="raw")
    adv = a_g + a_l if cfg.combine == "sum" else (a_g + a_l) / 2.0
    return AdvantageResult(adv, None, {"traj_advantage": a_g, "turn_advantage": a_l, "turn_return": turn_return})
