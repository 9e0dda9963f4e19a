"""Envs with the bugs env authors actually write, one bug each, for the ``check_env`` tests.

Each is a working game except for its bug, so a failure of ``check_env`` can only come from the
bug the env is named after.
"""

from __future__ import annotations

import itertools
import random
from typing import Any

import gymnasium as gym
import numpy as np

from turngym.envs.base import InvalidAction, StepResult, TextEnv, TextSpace
from turngym.envs.toys.keydoor import KeyDoorEnv
from turngym.envs.toys.toolcalc import ToolCalcEnv

_RESETS = itertools.count()


class BirdsongKeyDoor(KeyDoorEnv):
    """Non-deterministic: step observations use the global ``random`` instead of ``self.np_random``."""

    def _step(self, action: str) -> StepResult:
        result = super()._step(action)
        result.observation += f" A bird sings {random.randint(1, 1000)} times."
        return result


class LeakyResetKeyDoor(KeyDoorEnv):
    """Non-deterministic reset: the task comes from a process-wide counter, not from the seed."""

    def _reset(self, options: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        tasks = self.task_ids()
        return super()._reset({"task_id": tasks[next(_RESETS) % len(tasks)]})


class Countdown(TextEnv):
    """Take 1 or 2 from a pile of 7 with ``take N``; the player who empties it wins.

    Bug: the action is parsed with ``int(action.split()[1])``, so garbage raises instead of being
    rejected with ``InvalidAction``.
    """

    default_max_turns = 10

    def _reset(self, options: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        self.pile = 7
        self.task_id = "countdown-7"
        return f"There are {self.pile} stones. take 1 or take 2.", {}

    def admissible_actions(self) -> list[str]:
        return [f"take {n}" for n in (1, 2) if n <= self.pile]

    def expert_action(self) -> str:
        return "take 1" if self.pile == 1 else "take 2"

    def _step(self, action: str) -> StepResult:
        n = int(action.split()[1])  # the bug
        if n not in (1, 2) or n > self.pile:
            raise InvalidAction(f"You cannot take {n}.")
        self.pile -= n
        if self.pile == 0:
            return StepResult("You took the last stone. You win!", reward=1.0, terminated=True, won=True)
        return StepResult(f"There are {self.pile} stones. take 1 or take 2.")


class ShoutingKeyDoor(KeyDoorEnv):
    """Raises only on hostile text: it logs the action as UTF-8, which a lone surrogate cannot be."""

    def _step(self, action: str) -> StepResult:
        self.last_bytes = action.encode("utf-8")  # the bug: UnicodeEncodeError on "\udcff"
        return super()._step(action)


class EchoKeyDoor(KeyDoorEnv):
    """Echoes the raw action into the observation, so a lone surrogate ends up in the text."""

    def _step(self, action: str) -> StepResult:
        try:
            return super()._step(action)
        except InvalidAction:
            raise InvalidAction(f"I do not understand '{action[:40]}'.") from None


class StumblingKeyDoor(KeyDoorEnv):
    """Mutates state on an invalid action: the player 'stumbles' into the center room first."""

    def _step(self, action: str) -> StepResult:
        if self.normalize_action(action) not in self.admissible_actions():
            self.pos = (1, 1)  # the bug: state changes before the action is rejected
            raise InvalidAction("You stumble around. Nothing happens.")
        return super()._step(action)


class EagerToolCalc(ToolCalcEnv):
    """Mutates hidden state on an invalid action: it marks the calculator as used before parsing."""

    def _step(self, action: str) -> StepResult:
        self.calculated = True  # the bug: the oracle now skips the calculation
        return super()._step(action)


class NumpyInfoKeyDoor(KeyDoorEnv):
    """Wrong info types: ``won`` as ``numpy.bool_`` and ``task_id`` as an int."""

    def _step(self, action: str) -> StepResult:
        result = super()._step(action)
        result.info["won"] = np.bool_(bool(result.won))
        result.info["task_id"] = 7
        return result


class LyingOracleKeyDoor(KeyDoorEnv):
    """An oracle that never wins: it always says ``look``."""

    def expert_action(self) -> str:
        return "look"


class CrashOnResetKeyDoor(KeyDoorEnv):
    """Every reset raises: the checker must report it on every check, not crash."""

    def _reset(self, options: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        raise RuntimeError("task file not found")


class HangOnHugeInputKeyDoor(KeyDoorEnv):
    """Hangs (busy loop) on actions longer than 100,000 characters."""

    def _step(self, action: str) -> StepResult:
        while len(action) > 100_000:
            pass
        return super()._step(action)


class _PlainTextEnv(gym.Env):
    """A hand-written gymnasium env (not a ``TextEnv``): a parrot that repeats what you say."""

    def __init__(self) -> None:
        self.observation_space = TextSpace()
        self.action_space = TextSpace()
        self.turns = 0

    def _obs(self, text: str) -> Any:
        return text

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        super().reset(seed=seed)
        self.turns = 0
        return self._obs("The parrot looks at you. say hello or say bye."), {"task_id": "parrot", "admissible_actions": ["say hello", "say bye"]}

    def step(self, action: str) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
        self.turns += 1
        valid = action in ("say hello", "say bye")
        text = "The parrot repeats: " + action[3:] if valid else "The parrot ignores you."
        info = {"task_id": "parrot", "admissible_actions": ["say hello", "say bye"], "action_valid": valid, "anchor": "parrot"}
        return self._obs(text), self._reward(), False, self._truncated(), info

    def _reward(self) -> Any:
        return 0.0

    def _truncated(self) -> bool:
        return self.turns >= 10


class BytesParrot(_PlainTextEnv):
    """Returns the observation as bytes (it reads a subprocess's output and forgets to decode)."""

    def _obs(self, text: str) -> Any:
        return text.encode()


class StringRewardParrot(_PlainTextEnv):
    """Returns the reward as a string."""

    def _reward(self) -> Any:
        return "0.0"


class EndlessParrot(_PlainTextEnv):
    """Has a ``max_turns`` attribute but never ends an episode."""

    max_turns = 10

    def _truncated(self) -> bool:
        return False


class LimitlessParrot(_PlainTextEnv):
    """Has no turn limit at all."""

    def _truncated(self) -> bool:
        return False


class NotAnEnv:
    """Has reset and step but is not a gymnasium.Env and has string-less spaces."""

    observation_space = gym.spaces.Discrete(3)
    action_space = gym.spaces.Discrete(3)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        return "start", {}

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        return "end", 0.0, True, False, {"action_valid": True}


class SkippingCounter(TextEnv):
    """Press ``inc`` until the counter reaches 5. Its anchor is the observation (the default).

    Bug: an invalid action adds 10 to the counter before it is rejected. Neither the anchor (the
    error message) nor the admissible actions show it; only the next valid action does.
    """

    default_max_turns = 8

    def _reset(self, options: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        self.n = 0
        self.task_id = "counter-5"
        return "Counter at 0. Type inc.", {}

    def admissible_actions(self) -> list[str]:
        return ["inc"]

    def _step(self, action: str) -> StepResult:
        if action != "inc":
            self.n += 10  # the bug
            raise InvalidAction("Unknown command.")
        self.n += 1
        return StepResult(f"Counter at {self.n}.", reward=float(self.n == 5), terminated=self.n >= 5, won=self.n == 5)


class UpperCaseOracleKeyDoor(KeyDoorEnv):
    """The oracle's actions work (the parser lower-cases) but are not in ``admissible_actions``."""

    def expert_action(self) -> str:
        return super().expert_action().upper()
