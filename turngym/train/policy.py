"""Builds the LLM agent the trainer rolls out with, from the policy section of the config."""

from __future__ import annotations

import dataclasses
from typing import Any

from turngym.agents.backends.base import SamplingParams


def make_llm_agent(
    backend: Any,
    *,
    env_id: str,
    template: str = "auto",
    projection: str = "auto",
    layout: str = "step",
    history_k: int = 2,
    max_new_tokens: int = 16,
    max_prompt_tokens: int | None = None,
    temperature: float = 1.0,
    top_p: float = 1.0,
    seed: int | None = None,
    concat_reply: str = "chat",
) -> Any:
    from turngym.agents.llm import LLMAgent

    if projection == "auto":
        projection = "plain"
    sampling = SamplingParams(max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, seed=seed)
    return LLMAgent(
        backend, template=template, projection=projection, layout=layout, sampling=sampling, history_k=history_k,
        max_prompt_tokens=max_prompt_tokens, concat_reply=concat_reply,  # type: ignore[arg-type]
    )


def set_sampling_seed(agent: Any, seed: int) -> None:
    """Re-seed an agent's sampling: each training step draws fresh, reproducible samples."""
    agent.sampling = dataclasses.replace(agent.sampling, seed=seed)


def agent_settings_of(cfg: Any) -> dict[str, Any]:
    """How a run's policy is prompted and read (``turngym_agent.json`` in every checkpoint; what
    ``turngym rollout --run`` starts from): the policy section plus the env and eval context."""
    from turngym.agents.parsing import make_projection

    p = cfg.policy
    projection = "plain" if p.projection == "auto" else p.projection
    return {
        "template": p.template, "projection": projection, "layout": p.layout, "concat_reply": p.concat_reply,
        "history_k": p.history_k, "max_new_tokens": p.max_new_tokens, "max_prompt_tokens": p.max_prompt_tokens,
        "stop": list(getattr(make_projection(projection), "stop", ()) or ()),
        "env_id": cfg.env.id, "env_kwargs": cfg.env.kwargs, "eval_split": cfg.env.eval_split, "eval_temperature": p.eval_temperature,
    }
