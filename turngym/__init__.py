"""turngym: a gym for training LLM agents with multi-turn RL and turn-level credit assignment."""

from turngym.core import Episode, Turn, TurnTable
from turngym.envs.registration import list_envs, make, mirror_into_gymnasium, register, spec

mirror_into_gymnasium()  # gymnasium.make("turngym/<id>") works for built-ins and plugins alike

__version__ = "0.1.0"
__all__ = ["Episode", "Turn", "TurnTable", "__version__", "list_envs", "make", "register", "spec"]
