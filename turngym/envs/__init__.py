"""Multi-turn text environments: the contract, the registry, the checker and the vector env."""

from turngym.envs.base import INFO_KEY_TYPES, InvalidAction, StepResult, TextEnv, TextSpace
from turngym.envs.registration import (
    ENTRY_POINT_GROUP,
    EnvSpec,
    UnknownEnvError,
    list_envs,
    load_plugins,
    make,
    register,
    registry,
    spec,
)

import turngym.envs.builtin  # noqa: E402,F401  (built-ins visible to gymnasium.make right after import)

__all__ = [
    "ENTRY_POINT_GROUP",
    "INFO_KEY_TYPES",
    "EnvCheckError",
    "EnvSpec",
    "InvalidAction",
    "StepResult",
    "TextEnv",
    "TextSpace",
    "UnknownEnvError",
    "check_env",
    "check_env_id",
    "list_envs",
    "load_plugins",
    "make",
    "register",
    "registry",
    "spec",
]


def __getattr__(name: str):  # the checker pulls in more; load it on first use
    if name in ("check_env", "check_env_id", "EnvCheckError", "CheckReport"):
        from turngym.envs import checker

        return getattr(checker, name)
    raise AttributeError(name)
