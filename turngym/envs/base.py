"""``TextEnv``: the contract of a multi-turn text environment (DESIGN.md §3.1).

A ``TextEnv`` is a ``gymnasium.Env`` whose observations and actions are strings. Subclasses write
the game in three hooks (``_reset``, ``_step``, and optionally ``admissible_actions`` and
``expert_action``); the base class owns what every env must do the same way, so that no env can get
it wrong:

- invalid input never raises: a non-string or undecodable action becomes a string, and an
  ``InvalidAction`` raised in ``_step`` becomes ``action_valid=False`` with its message as the
  observation and the state untouched (subclasses must not mutate state before validating, which
  is what ``check_env`` verifies). Any *other* exception in ``_step`` is a bug in the env and is
  not swallowed: ``step`` raises it; the rollout engine then ends that episode with ``error`` set
  and ``truncated=True`` (the rest of the batch goes on), and ``turngym check`` reports it;
- truncation by a turn limit (``max_turns``), reported as ``truncated=True``;
- the fixed ``info`` keys: ``task_id``, ``anchor``, ``action_valid``, ``admissible_actions``,
  ``won``, and ``expert_action`` when made with ``expert=True``;
- stepping a finished episode is answered (terminated, an error in ``info``), not undefined.
"""

from __future__ import annotations

import re
from abc import abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

#: Info keys with a fixed meaning, and the type each must have when present.
INFO_KEY_TYPES: dict[str, type | tuple[type, ...]] = {
    "task_id": str,
    "admissible_actions": list,
    "anchor": str,
    "action_valid": bool,
    "won": bool,
    "score": (int, float),
    "tool_calls": list,
    "agent": str,
    "error": str,
    "expert_action": str,
    "gold_tool_calls": list,
    "answer": str,
}

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")



def check_choice(name: str, value: object, allowed: object) -> None:
    """Raise the constructor-argument error every env gives for a setting outside its choices."""
    if value not in allowed:  # type: ignore[operator]
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")


class TextSpace(gym.spaces.Space[str]):
    """Any Python string up to ``max_length`` characters.

    ``gymnasium.spaces.Text`` restricts the charset, which model output does not respect; this
    space accepts every string so that ``contains`` means "is a string the env must handle".
    """

    def __init__(self, max_length: int = 1 << 20, seed: int | None = None) -> None:
        self.max_length = max_length
        super().__init__(shape=None, dtype=None, seed=seed)

    @property
    def is_np_flattenable(self) -> bool:
        return False

    def sample(self, mask: Any = None, probability: Any = None) -> str:
        length = int(self.np_random.integers(0, 32))
        codes = self.np_random.integers(32, 127, size=length)
        return "".join(map(chr, codes))

    def contains(self, x: Any) -> bool:
        return isinstance(x, str) and len(x) <= self.max_length

    def __repr__(self) -> str:
        return f"TextSpace(max_length={self.max_length})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TextSpace) and other.max_length == self.max_length


@dataclass
class StepResult:
    """What a subclass's ``_step`` returns; the base class adds truncation and the fixed keys."""

    observation: str
    reward: float = 0.0
    terminated: bool = False
    valid: bool = True
    won: bool | None = None
    info: dict[str, Any] = field(default_factory=dict)


class InvalidAction(Exception):
    """Raised inside ``_step`` to reject an action; the message becomes the observation."""


class TextEnv(gym.Env[str, str]):
    """Base class for multi-turn text envs. See the module docstring for the contract."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi", "human"], "render_fps": 0}
    #: Default turn limit; ``make(..., max_turns=N)`` overrides it.
    default_max_turns: ClassVar[int] = 50
    #: Bump when the task generator changes, so (version, seed, split) pins a task set.
    task_version: ClassVar[str] = "1"

    def __init__(
        self,
        *,
        max_turns: int | None = None,
        expert: bool = False,
        invalid_penalty: float = 0.0,
        render_mode: str | None = None,
    ) -> None:
        if max_turns is not None and max_turns < 1:
            raise ValueError(f"max_turns must be >= 1, got {max_turns}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']}, got {render_mode!r}")
        self.max_turns = max_turns or self.default_max_turns
        self.expert = expert
        self.invalid_penalty = float(invalid_penalty)
        self.render_mode = render_mode
        self.observation_space = TextSpace()
        self.action_space = TextSpace()
        self.turn_count = 0
        self.task_id: str | None = None
        self._done = True
        self._last_obs = ""

    # -- hooks for subclasses ----------------------------------------------------------------
    @abstractmethod
    def _reset(self, options: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """Start a task (use ``self.np_random``, already seeded) and return (obs, extra info).

        Set ``self.task_id``. ``options`` may hold ``task_id`` or ``split``.
        """

    @abstractmethod
    def _step(self, action: str) -> StepResult:
        """Apply an action. Reject it with ``InvalidAction`` *before* changing any state."""

    def admissible_actions(self) -> list[str] | None:
        """Actions valid now, or None when the action set is not enumerable."""
        return None

    def expert_action(self) -> str | None:
        """The oracle's next action, or None when the env has no oracle."""
        return None

    def anchor(self, observation: str) -> str:
        """State text for grouping identical states; the observation by default."""
        return observation

    def task_info(self) -> dict[str, Any]:
        """Task-level info keys (e.g. ``ground_truth``) repeated in every info, invalid steps
        included, so any single turn of a recorded episode carries them."""
        return {}

    # -- the gymnasium API -------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        super().reset(seed=seed)
        self.turn_count = 0
        obs, extra = self._reset(dict(options or {}))
        self._done = False
        self._last_obs = obs
        return obs, self._info(obs, extra, valid=True, won=False)

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        action = self.coerce_action(action)
        if self._done:
            info = self._info(self._last_obs, {"error": "step() called on a finished episode; call reset()"}, valid=False, won=False)
            return self._last_obs, 0.0, True, False, info
        try:
            result = self._step(action)
        except InvalidAction as exc:
            result = StepResult(observation=str(exc) or "Nothing happens.", valid=False)
        self.turn_count += 1
        reward = float(result.reward)
        if not result.valid:
            reward -= self.invalid_penalty
        terminated = bool(result.terminated)
        truncated = not terminated and self.turn_count >= self.max_turns
        self._done = terminated or truncated
        self._last_obs = result.observation
        info = self._info(result.observation, result.info, valid=result.valid, won=bool(result.won))
        return result.observation, reward, terminated, truncated, info

    def render(self) -> str | None:
        if self.render_mode == "ansi":
            return self._last_obs
        if self.render_mode == "human":
            print(self._last_obs)
        return None

    # -- helpers -----------------------------------------------------------------------------
    @staticmethod
    def coerce_action(action: Any) -> str:
        """Model output arrives as str; be forgiving with bytes and other types, never raise.

        Always a plain ``str``: a subclass could override the methods env code calls (``strip``,
        ``lower``, ``__eq__``), so only the base type's own methods are used to convert. An object
        whose ``__str__`` raises becomes ``""``, which every env rejects as an invalid action.
        """
        if type(action) is str:
            return action
        if isinstance(action, str):
            return str.__str__(action)
        if isinstance(action, bytes):
            return bytes.decode(action, "utf-8", "replace")
        if isinstance(action, bytearray):
            return bytearray.decode(action, "utf-8", "replace")
        if action is None:
            return ""
        try:
            text = str(action)
        except Exception:
            return ""
        return str.__str__(text)

    @staticmethod
    def normalize_action(action: str) -> str:
        """Lower-case, drop control characters and collapse whitespace: the usual command match."""
        return " ".join(_CONTROL.sub(" ", action).strip().lower().split())

    def _info(self, obs: str, extra: dict[str, Any], *, valid: bool, won: bool) -> dict[str, Any]:
        info: dict[str, Any] = {"task_id": self.task_id or "", "anchor": self.anchor(obs), "action_valid": valid, "won": won, **self.task_info()}
        if not self._done:
            admissible = self.admissible_actions()
            if admissible is not None:
                info["admissible_actions"] = list(admissible)
            if self.expert:
                expert = self.expert_action()
                if expert is not None:
                    info["expert_action"] = expert
        else:
            info["admissible_actions"] = []
        info.update(extra)
        return info

    def rng_choice(self, items: list[Any]) -> Any:
        return items[int(self.np_random.integers(len(items)))]


def seeded_rng(*parts: int | str) -> np.random.Generator:
    """A generator fixed by its parts, the same on every machine (for pinned task sets)."""
    import hashlib

    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))
