"""Policy backends: one protocol (``PolicyBackend``), several engines (hf, vllm, openai)."""

from turngym.agents.backends.base import Completion, PolicyBackend, SamplingParams
from turngym.agents.backends.errors import BackendNotInstalled, BackendUnavailable

__all__ = ["BackendNotInstalled", "BackendUnavailable", "Completion", "PolicyBackend", "SamplingParams"]
