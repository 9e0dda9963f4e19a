"""``Code-v0``: function synthesis (HumanEval + generated problems) graded in the sandbox."""

from turngym.envs.code.env import CodeEnv

__all__ = ["CodeEnv"]
