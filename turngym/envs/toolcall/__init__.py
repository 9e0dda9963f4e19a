"""``ToolCall-v0``: multi-step questions answered through deterministic tools, with gold call traces."""

from turngym.envs.toolcall.env import ToolCallEnv

__all__ = ["ToolCallEnv"]
