"""The agent protocol: what the rollout engine asks of anything that acts in an env.

An agent receives a batch of ``AgentInput`` (one per episode waiting for an action) and returns one
``AgentAction`` each. Scripted agents fill only ``action``; policy-backed agents also fill what
training needs (prompt, response token ids, rollout logprobs, loss mask). Batching is the agent's
to exploit: an LLM backend generates for the whole batch in one call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from turngym.core.episode import Episode, Prompt


@dataclass
class AgentInput:
    episode: Episode  # the episode so far (turns already taken), read-only for the agent
    observation: str
    info: dict[str, Any]


@dataclass
class AgentAction:
    action: str
    response_text: str | None = None  # raw model output; defaults to the action
    parsed: bool = True  # False when the response could not be parsed into an action
    prompt: Prompt = None
    prompt_token_ids: list[int] | None = None
    response_token_ids: list[int] | None = None
    rollout_logprobs: list[float] | None = None
    loss_mask: list[int] | None = None
    entropy: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    #: Set by an agent that can no longer act on this episode (e.g. context budget exhausted,
    #: backend failure); the engine ends the episode as truncated with this error.
    stop: str | None = None


@runtime_checkable
class Agent(Protocol):
    #: env kwargs the agent needs (e.g. ``{"expert": True}`` for the oracle).
    env_requirements: dict[str, Any]

    def act(self, inputs: list[AgentInput]) -> list[AgentAction]: ...
