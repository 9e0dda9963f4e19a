"""Scripted agents: the env's oracle and a random player, for tests, demos and BC warm starts."""

from __future__ import annotations

from typing import Any

import numpy as np

from turngym.agents.base import AgentAction, AgentInput


class OracleAgent:
    """Plays ``info["expert_action"]``; the env must be made with ``expert=True``."""

    env_requirements: dict[str, Any] = {"expert": True}

    def act(self, inputs: list[AgentInput]) -> list[AgentAction]:
        out = []
        for item in inputs:
            action = item.info.get("expert_action")
            if action is None:
                raise RuntimeError(
                    f"{item.episode.env_id} gave no info['expert_action']: the oracle agent needs an env "
                    "made with expert=True, and the env must have an oracle"
                )
            out.append(AgentAction(action=action))
        return out


class RandomAgent:
    """Picks uniformly among ``info["admissible_actions"]``; with ``garbage_prob`` types nonsense."""

    env_requirements: dict[str, Any] = {}

    def __init__(self, seed: int | None = 0, garbage_prob: float = 0.0) -> None:
        if not 0.0 <= garbage_prob <= 1.0:
            raise ValueError(f"garbage_prob must be in [0, 1], got {garbage_prob}")
        self.rng = np.random.default_rng(seed)
        self.garbage_prob = garbage_prob

    def act(self, inputs: list[AgentInput]) -> list[AgentAction]:
        out = []
        for item in inputs:
            admissible = item.info.get("admissible_actions") or []
            if not admissible or self.rng.random() < self.garbage_prob:
                letters = self.rng.integers(97, 123, size=int(self.rng.integers(1, 12)))
                out.append(AgentAction(action="".join(map(chr, letters))))
            else:
                out.append(AgentAction(action=admissible[int(self.rng.integers(len(admissible)))]))
        return out


SCRIPTED_AGENTS = {"oracle": OracleAgent, "random": RandomAgent}
