"""Policy backends: one protocol (``PolicyBackend``), several engines (hf, vllm, openai)."""

from turngym.agents.backends.base import Completion, PolicyBackend, SamplingParams

__all__ = ["Completion", "PolicyBackend", "SamplingParams"]
