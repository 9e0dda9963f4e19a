"""Agents and rollouts: who acts in an env, and the engine that plays many episodes at once.

- ``RolloutEngine`` runs N tasks × G rollouts over env slots (in process or in worker processes),
  batching every agent call, and returns (or streams into an ``EpisodeStore``) ``Episode`` records.
- ``make_tasks`` / ``TaskSpec``: the tasks to play (seed + reset options such as the split).
- ``LLMAgent`` prompts a policy backend (``HFBackend``, ``VLLMBackend``, ``OpenAIBackend``; one
  ``PolicyBackend`` protocol, ``SamplingParams``) and parses its replies into actions;
  ``OracleAgent``/``RandomAgent`` are the scripted baselines.

Engines are imported on first use, so ``import turngym.agents`` stays light::

    from turngym.agents import HFBackend, LLMAgent, RolloutEngine, SamplingParams, make_tasks

    backend = HFBackend.from_pretrained("runs/demo/checkpoints/step_000040")
    agent = LLMAgent(backend, template="compact", history_k=0, sampling=SamplingParams(max_new_tokens=6))
    with RolloutEngine("KeyDoor-v0", agent, num_envs=16) as engine:
        episodes = engine.run(make_tasks(32, seed=0, split="test"), group_size=1)
"""

from __future__ import annotations

import importlib
from typing import Any

from turngym.agents.backends.base import Completion, PolicyBackend, SamplingParams
from turngym.agents.rollout import RolloutEngine, TaskSpec, make_tasks

_LAZY = {
    "LLMAgent": "turngym.agents.llm",
    "HFBackend": "turngym.agents.backends.hf",
    "VLLMBackend": "turngym.agents.backends.vllm",
    "OpenAIBackend": "turngym.agents.backends.openai",
    "OracleAgent": "turngym.agents.scripted",
    "RandomAgent": "turngym.agents.scripted",
    "SCRIPTED_AGENTS": "turngym.agents.scripted",
}

__all__ = ["Completion", "PolicyBackend", "RolloutEngine", "SamplingParams", "TaskSpec", "make_tasks", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'turngym.agents' has no attribute {name!r}")
