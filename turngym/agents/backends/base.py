"""The policy-backend protocol shared by the in-process, vLLM and OpenAI-compatible engines.

A backend turns prompts into completions and reports what training needs: the sampled token ids
and their logprobs under the rollout policy. Prompts are token ids (the exact context, used by the
concatenated layout so that env tokens are never re-tokenised), raw text, or chat messages (the
backend applies the tokenizer's chat template with ``add_generation_prompt=True``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

#: token ids | raw text | chat messages
BackendPrompt = list[int] | str | list[dict[str, Any]]


@dataclass
class SamplingParams:
    max_new_tokens: int = 256
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0  # 0 = disabled
    stop: list[str] = field(default_factory=list)  # stop strings; the stop string is kept in the text
    seed: int | None = None  # makes sampling reproducible where the engine supports it
    logprobs: bool = True

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0 (0 = greedy), got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.top_k < 0:
            raise ValueError(f"top_k must be >= 0, got {self.top_k}")


@dataclass
class Completion:
    text: str
    token_ids: list[int]
    logprobs: list[float] | None = None  # one per token in token_ids, under the rollout policy
    finish_reason: Literal["stop", "length", "error"] = "stop"
    prompt_token_ids: list[int] | None = None  # the prompt as the engine tokenised it
    error: str | None = None  # set when this prompt failed (timeout, garbage); the rollout marks it


@runtime_checkable
class PolicyBackend(Protocol):
    name: str

    def generate(self, prompts: list[BackendPrompt], sampling: SamplingParams) -> list[Completion]:
        """One completion per prompt, in order. Per-prompt failures are returned, not raised."""
        ...

    def load_weights(self, source: Any) -> None:
        """Replace the full weights (a state dict or an HF checkpoint directory)."""
        ...

    def load_adapter(self, path: str, name: str = "default") -> None:
        """Activate a LoRA adapter saved in peft format."""
        ...

    def close(self) -> None: ...
