"""Envs that misbehave on purpose, importable by spawned vector-env workers."""

from __future__ import annotations

import os
import time

from turngym.envs.base import StepResult
from turngym.envs.toys.keydoor import KeyDoorEnv


class CrashyKeyDoor(KeyDoorEnv):
    """KeyDoor whose ``crash`` action kills the process and ``hang`` action blocks for an hour."""

    def _step(self, action: str) -> StepResult:
        if action == "crash":
            os._exit(3)
        if action == "hang":
            time.sleep(3600)
        if action == "raise":
            raise RuntimeError("bug in the env")
        return super()._step(action)
