"""KeyDoor: take the key in one room of a small house, then open the door in another.

A grid of rooms named by position ("north-west room", "center room", ...). Identical states recur
within an episode (walking back into a room) and across the rollouts of a task, which is what makes
GiGPO's anchor grouping matter. With ``hint=True`` (default) the observation says in which direction
the current target lies, so acting is reading rather than map memorising: small models learn it on
a CPU in minutes.

Tasks are (start, key room, door room) triples. The ``train``/``test`` split is a fixed hash
partition of all triples, so the same (size, split, seed) gives the same task on every machine.
"""

from __future__ import annotations

import hashlib
from collections import deque
from typing import Any

from turngym.envs.base import InvalidAction, StepResult, TextEnv, check_choice

_ROW_NAMES = {3: ["north", "", "south"], 4: ["far north", "north", "south", "far south"]}
_COL_NAMES = {3: ["west", "", "east"], 4: ["far west", "west", "east", "far east"]}
_MOVES = {"north": (-1, 0), "south": (1, 0), "west": (0, -1), "east": (0, 1)}
SPLITS = ("train", "test", "all")


def room_name(size: int, cell: tuple[int, int]) -> str:
    r, c = cell
    row = _ROW_NAMES[size][r]
    col = _COL_NAMES[size][c]
    if not row and not col:
        return "center room"
    return f"{row}-{col} room" if row and col else f"{row or col} room"


def _direction(src: tuple[int, int], dst: tuple[int, int]) -> str:
    dr, dc = dst[0] - src[0], dst[1] - src[1]
    vertical = "north" if dr < 0 else "south" if dr > 0 else ""
    horizontal = "west" if dc < 0 else "east" if dc > 0 else ""
    return "-".join(p for p in (vertical, horizontal) if p) or "here"


def _split_of(task_id: str) -> str:
    """Every fifth task (by a stable hash) is held out for evaluation."""
    return "test" if hashlib.sha256(task_id.encode()).digest()[0] % 5 == 0 else "train"


class KeyDoorEnv(TextEnv):
    """Take the key in one room, then open the door in another (recurring states, oracle)."""

    default_max_turns = 15
    task_version = "1"

    def __init__(
        self,
        *,
        size: int = 3,
        hint: bool = True,
        split: str = "train",
        win_reward: float = 1.0,
        max_turns: int | None = None,
        expert: bool = False,
        invalid_penalty: float = 0.0,
        render_mode: str | None = None,
    ) -> None:
        super().__init__(max_turns=max_turns, expert=expert, invalid_penalty=invalid_penalty, render_mode=render_mode)
        if size not in _ROW_NAMES:
            raise ValueError(f"size must be one of {sorted(_ROW_NAMES)}, got {size}")
        check_choice("split", split, SPLITS)
        self.size = size
        self.hint = hint
        self.split = split
        self.win_reward = float(win_reward)
        self._cells = [(r, c) for r in range(size) for c in range(size)]
        self._names = {cell: room_name(size, cell) for cell in self._cells}
        self._tasks = {s: self._task_list(s) for s in SPLITS}
        self.pos = self.key_room = self.door_room = (0, 0)
        self.has_key = False

    # -- tasks -------------------------------------------------------------------------------
    def _task_id(self, start: tuple[int, int], key: tuple[int, int], door: tuple[int, int]) -> str:
        enc = lambda cell: f"{cell[0]}{cell[1]}"  # noqa: E731
        return f"keydoor-v{self.task_version}-{self.size}-s{enc(start)}-k{enc(key)}-d{enc(door)}"

    def _task_list(self, split: str) -> list[str]:
        ids = [
            self._task_id(s, k, d)
            for s in self._cells
            for k in self._cells
            for d in self._cells
            if k != d and s != k
        ]
        return ids if split == "all" else [t for t in ids if _split_of(t) == split]

    def task_ids(self, split: str | None = None) -> list[str]:
        """The pinned task list of a split (default: the env's split)."""
        return list(self._tasks[split or self.split])

    def _parse_task(self, task_id: str) -> tuple[tuple[int, int], ...]:
        try:
            _, _, size, s, k, d = task_id.split("-")
            cells = tuple((int(p[1]), int(p[2])) for p in (s, k, d))
        except (ValueError, IndexError):
            raise ValueError(f"malformed KeyDoor task id {task_id!r}") from None
        if int(size) != self.size or any(c not in self._names for c in cells):
            raise ValueError(f"task {task_id!r} does not fit a {self.size}x{self.size} house")
        return cells

    # -- game --------------------------------------------------------------------------------
    def _reset(self, options: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        task_id = options.get("task_id")
        if task_id is None:
            split = options.get("split", self.split)
            check_choice("split", split, SPLITS)
            task_id = self.rng_choice(self._tasks[split])
        self.pos, self.key_room, self.door_room = self._parse_task(task_id)
        self.task_id = task_id
        self.has_key = False
        task = (
            f"Your task is to: take the key in the {self._names[self.key_room]}, "
            f"then open the door in the {self._names[self.door_room]}."
        )
        return f"{task}\n{self._describe()}", {"task": task}

    def anchor(self, observation: str) -> str:
        return self._describe()

    def _describe(self) -> str:
        parts = [f"You are in the {self._names[self.pos]}."]
        if not self.has_key and self.pos == self.key_room:
            parts.append("There is a key here.")
        if self.pos == self.door_room:
            parts.append("There is a locked door here.")
        parts.append("You carry the key." if self.has_key else "Your hands are empty.")
        if self.hint:
            target = self.door_room if self.has_key else self.key_room
            what = "door" if self.has_key else "key"
            where = _direction(self.pos, target)
            parts.append(f"The {what} is {where}." if where != "here" else f"The {what} is here.")
        parts.append("Exits: " + ", ".join(self._exits()) + ".")
        return " ".join(parts)

    def _exits(self) -> list[str]:
        r, c = self.pos
        return [d for d, (dr, dc) in _MOVES.items() if 0 <= r + dr < self.size and 0 <= c + dc < self.size]

    def admissible_actions(self) -> list[str]:
        actions = ["look"] + [f"go {d}" for d in self._exits()]
        if not self.has_key and self.pos == self.key_room:
            actions.append("take key")
        if self.pos == self.door_room:
            actions.append("open door")
        return actions

    def _step(self, action: str) -> StepResult:
        command = self.normalize_action(action)
        if command not in self.admissible_actions():
            raise InvalidAction(f"Nothing happens. (unknown or impossible action: {action[:80]!r})")
        if command.startswith("go "):
            dr, dc = _MOVES[command[3:]]
            self.pos = (self.pos[0] + dr, self.pos[1] + dc)
            return StepResult(self._describe())
        if command == "take key":
            self.has_key = True
            return StepResult("You take the key. " + self._describe())
        if command == "open door":
            if not self.has_key:
                return StepResult("The door is locked. You need the key. " + self._describe())
            return StepResult("You unlock the door and open it. You win!", reward=self.win_reward, terminated=True, won=True)
        return StepResult(self._describe())  # look

    def expert_action(self) -> str:
        target = self.door_room if self.has_key else self.key_room
        if self.pos == target:
            return "open door" if self.has_key else "take key"
        return "go " + self._shortest_first_move(target)

    def _shortest_first_move(self, target: tuple[int, int]) -> str:
        """BFS with a fixed move order, so the oracle is deterministic."""
        first: dict[tuple[int, int], str | None] = {self.pos: None}
        queue = deque([self.pos])
        while queue:
            cell = queue.popleft()
            if cell == target:
                break
            for d, (dr, dc) in _MOVES.items():
                nxt = (cell[0] + dr, cell[1] + dc)
                if nxt in self._names and nxt not in first:
                    first[nxt] = first[cell] or d
                    queue.append(nxt)
        move = first[target]
        assert move is not None
        return move
