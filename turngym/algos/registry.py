"""The estimator registry and the one entry point, :func:`compute_advantages`.

``estimators[name]`` holds the function, its config dataclass and the columns it reads, so a
trainer config can name an estimator and its parameters and get them validated before a rollout
is spent.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from turngym.algos.a2tgpo import A2TGPOConfig, a2tgpo
from turngym.algos.aem import AEMConfig, aem
from turngym.algos.base import PRESET_NAMES, AdvantageResult, Estimator, check_choice
from turngym.algos.gigpo import GiGPOConfig, gigpo
from turngym.algos.matchtir import MatchTIRConfig, matchtir
from turngym.algos.multiagent import TurnGRPOConfig, per_agent_table, turn_grpo
from turngym.algos.oprl import OPRLConfig, oprl
from turngym.algos.outcome import (
    GRPOConfig,
    ReinforcePPConfig,
    RLOOConfig,
    grpo,
    reinforce_pp,
    rloo,
)
from turngym.core.table import TurnTable

estimators: dict[str, Estimator] = {
    e.name: e
    for e in (
        Estimator("grpo", GRPOConfig, grpo, (), "group-normalised outcome (Dr.GRPO with norm_by_std=False)"),
        Estimator("rloo", RLOOConfig, rloo, (), "leave-one-out outcome baseline"),
        Estimator("reinforce_pp", ReinforcePPConfig, reinforce_pp, (), "discounted returns whitened over the batch"),
        Estimator("gigpo", GiGPOConfig, gigpo, (), "episode GRPO + anchor-state step advantage"),
        Estimator("matchtir", MatchTIRConfig, matchtir, (), "trajectory + turn-index advantage of matched tool-call rewards"),
        Estimator("a2tgpo", A2TGPOConfig, a2tgpo, ("info_gain",), "information-gain turn advantage + per-turn clip scale"),
        Estimator("aem", AEMConfig, aem, ("entropy",), "entropy-modulated advantages of a base estimator"),
        Estimator("oprl", OPRLConfig, oprl, ("step_reward",), "episode + implicit-PRM step advantage"),
        Estimator("turn_grpo", TurnGRPOConfig, turn_grpo, (), "each turn's reward normalised per (group, turn index); AT-GRPO with per_agent"),
    )
}


def compute_advantages(name: str, table: TurnTable, preset: str = "paper", *, per_agent: bool = False, **params: Any) -> AdvantageResult:
    """Per-row advantages of ``table`` with estimator ``name``.

    ``preset="paper"`` follows the published formulas, ``"reference"`` the official code (quirks
    included; each estimator's module docstring names the official file and commit and lists the
    differences). The default is ``paper`` because a library call should mean the formula a reader
    finds in the paper; the shipped training configs choose ``reference`` explicitly, so that runs
    reproduce the published recipes' numbers. Unknown names, presets or
    parameter values raise ``ValueError``; a missing input column raises ``KeyError``.

    ``per_agent=True`` (any estimator; multi-agent episodes) runs the estimator on the table
    re-keyed by agent (:func:`~turngym.algos.multiagent.per_agent_table`): each agent is normalised
    against itself on the same task, its turns indexed by its own message count. It needs the
    ``agent`` column (``TurnTable.from_episodes`` fills it from ``Turn.agent``).
    """
    check_choice("estimator", name, tuple(estimators))
    check_choice("preset", preset, PRESET_NAMES)
    if not isinstance(table, TurnTable):
        raise TypeError(f"compute_advantages needs a TurnTable, got {type(table).__name__}")
    if not isinstance(per_agent, (bool, np.bool_)):
        raise ValueError(f"per_agent must be True or False, got {per_agent!r}")  # noqa: TRY004 (bad values raise ValueError, the estimator contract)
    if per_agent:
        table = per_agent_table(table)
    return estimators[name](table, preset, **params)
