"""MathTool-v0: math problems solved with a Python tool in a sandbox session (issue 14)."""

from turngym.envs.mathtool.env import MathToolEnv

__all__ = ["MathToolEnv"]
