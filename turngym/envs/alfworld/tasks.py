"""Pinned ALFWorld task sets (generated lazily, cached on disk) and the loader for real game folders.

A generated split is fixed by (generator version, seed, split): task ``i`` is the first attempt
``k = 0, 1, ...`` whose spec, drawn by :class:`StableRng` from (version, seed, split, i, k), yields a
game the handcoded expert wins within the 50-turn episode budget. The expert is deterministic (seeded), so the set is the same on
every machine. Games are only built when asked for and cached as ALFWorld folders
(``<cache>/<split>-seed<seed>/<i>/{game.tw-pddl,traj_data.json}``), which ALFWorld itself can load.

Splits mirror ALFWorld's: ``train`` and ``eval_seen`` use ALFRED's training floor plans (7-30 of
each room type), ``eval_unseen`` the held-out ones (1-6), so its rooms are never seen in training.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from turngym.envs.alfworld.engine import (
    TASK_TYPES,
    AlfredEngine,
    build_game,
    task_text_from_grammar,
)
from turngym.envs.alfworld.expert import EXPERT_MAX_STEPS, HandcodedExpert
from turngym.envs.alfworld.generator import (
    GENERATOR_VERSION,
    VALID_ROOMS,
    StableRng,
    TaskSpec,
    available_floorplans,
    candidate_specs,
    generate_game,
    load_scene,
    room_type,
)

CACHE_ENV_VAR = "TURNGYM_ALFWORLD_CACHE"
#: Split sizes follow ALFWorld's (3553 train, 140 valid_seen, 134 valid_unseen games).
SPLIT_SIZES = {"train": 3553, "eval_seen": 140, "eval_unseen": 134}
SPLIT_ALIASES = {"valid_seen": "eval_seen", "valid_unseen": "eval_unseen", "seen": "eval_seen", "unseen": "eval_unseen"}
MAX_ATTEMPTS = 20
#: The expert seed used to certify a generated game as solvable (and the env's expert seed, so
#: following ``info["expert_action"]`` from reset replays the certified walkthrough).
CERTIFY_SEED = 0
#: A generated game enters a set only if the expert wins it within the default episode budget, so
#: expert demonstrations are complete and an agent is never asked for the impossible in 50 turns.
CERTIFY_MAX_STEPS = 50


def canonical_split(split: str) -> str:
    split = SPLIT_ALIASES.get(split, split)
    if split not in SPLIT_SIZES:
        raise ValueError(f"unknown ALFWorld split {split!r}; choose one of {sorted(SPLIT_SIZES)} (aliases {sorted(SPLIT_ALIASES)})")
    return split


def split_floorplans(split: str) -> tuple[int, ...]:
    held_out = canonical_split(split) == "eval_unseen"
    return tuple(n for n in available_floorplans() if (n % 100 <= 6) == held_out)


def default_cache_dir() -> Path:
    root = os.environ.get(CACHE_ENV_VAR)
    base = Path(root).expanduser() if root else Path("~/.cache/turngym/alfworld").expanduser()
    return base / f"v{GENERATOR_VERSION}"


@dataclass
class GameRecord:
    """One playable game: the ``game.tw-pddl`` payload and the ``traj_data.json`` fields used."""

    task_id: str
    game: dict[str, Any]
    traj: dict[str, Any]
    source: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def task_type(self) -> str:
        return str(self.traj["task_type"])

    @property
    def scene_num(self) -> int | None:
        scene = self.traj.get("scene") or {}
        return int(scene["scene_num"]) if "scene_num" in scene else None

    @property
    def room(self) -> str:
        num = self.scene_num
        return room_type(num) if num is not None else "unknown"


# -- playing a game with the expert ---------------------------------------------------------------
@dataclass
class ExpertRun:
    won: bool
    steps: int
    actions: list[str]


def run_expert(record: GameRecord, *, seed: int = CERTIFY_SEED, max_steps: int = EXPERT_MAX_STEPS, engine: AlfredEngine | None = None) -> ExpertRun:
    """Play a game with the handcoded expert, as ALFWorld's ``AlfredExpert`` drives it."""
    engine = engine or AlfredEngine()
    engine.load(record.game)
    state = engine.reset()
    expert = HandcodedExpert(record.traj["task_type"], record.traj["pddl_params"], seed=seed)
    action = expert.start(state)
    actions: list[str] = []
    while not state.won and len(actions) < max_steps:
        state = engine.step(action)
        actions.append(action)
        if state.won:
            break
        action = expert.advance(state, action)
    return ExpertRun(won=state.won, steps=len(actions), actions=actions)


# -- generated task sets --------------------------------------------------------------------------
def task_spec(split: str, index: int, *, seed: int = 0, attempt: int = 0) -> TaskSpec:
    """The goal of task ``index`` (before placement); cheap, pure, pinned by the version and seed."""
    split = canonical_split(split)
    task_type = TASK_TYPES[index % len(TASK_TYPES)]
    rng = StableRng("alfworld-spec", GENERATOR_VERSION, seed, split, index, attempt)
    scenes = [n for n in split_floorplans(split) if room_type(n) in VALID_ROOMS[task_type]]
    for _ in range(64):
        candidates = candidate_specs(load_scene(rng.choice(scenes)), task_type)
        if candidates:
            return rng.choice(candidates)
    raise RuntimeError(f"no floor plan of split {split} supports {task_type}")  # pragma: no cover


def task_list_hash(split: str, n: int, *, seed: int = 0) -> str:
    """SHA-256 over the first ``n`` specs (attempt 0): what the pinning test compares."""
    h = hashlib.sha256()
    for i in range(n):
        spec = task_spec(split, i, seed=seed)
        h.update(f"{i}:{spec.name()}\n".encode())
    return h.hexdigest()


def _write_atomic(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(payload, f, indent=1, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class TaskSet:
    """A pinned generated split: ``ts[i]`` builds (or reads from the cache) a certified game."""

    def __init__(self, split: str = "train", *, seed: int = 0, cache_dir: str | os.PathLike[str] | None = None, size: int | None = None) -> None:
        self.split = canonical_split(split)
        self.seed = int(seed)
        self.size = int(size) if size is not None else SPLIT_SIZES[self.split]
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
        self._engine: AlfredEngine | None = None

    def __len__(self) -> int:
        return self.size

    def task_id(self, index: int) -> str:
        return f"{self.split}-s{self.seed}-{index:05d}"

    def folder(self, index: int) -> Path:
        return self.cache_dir / f"{self.split}-seed{self.seed}" / f"{index:05d}"

    def parse_task_id(self, task_id: str | int) -> int:
        if isinstance(task_id, int):
            index = task_id
        else:
            prefix = f"{self.split}-s{self.seed}-"
            text = str(task_id)
            text = text.removeprefix(prefix)
            try:
                index = int(text)
            except ValueError:
                raise KeyError(f"task id {task_id!r} is not of the form {prefix}NNNNN") from None
        if not 0 <= index < self.size:
            raise IndexError(f"task index {index} out of range for {self.split} ({self.size} tasks)")
        return index

    def __getitem__(self, index: int) -> GameRecord:
        index = self.parse_task_id(index)
        cached = self._read_cache(index)
        if cached is not None:
            return cached
        record = self._generate(index)
        folder = self.folder(index)
        _write_atomic(folder / "traj_data.json", record.traj)
        _write_atomic(folder / "game.tw-pddl", record.game)
        return record

    def _read_cache(self, index: int) -> GameRecord | None:
        folder = self.folder(index)
        try:
            with open(folder / "game.tw-pddl", encoding="utf-8") as f:
                game = json.load(f)
            with open(folder / "traj_data.json", encoding="utf-8") as f:
                traj = json.load(f)
        except (OSError, ValueError):
            return None
        meta = traj.get("generator", {})
        if meta.get("version") != GENERATOR_VERSION or meta.get("certified_within") != CERTIFY_MAX_STEPS:
            return None
        return GameRecord(self.task_id(index), game, traj, source=str(folder), meta={"cached": True})

    def uncertified(self, index: int, attempt: int = 0) -> GameRecord:
        """The game of ``(index, attempt)`` before the expert check (what the generator alone gives)."""
        task_id = self.task_id(index)
        spec = task_spec(self.split, index, seed=self.seed, attempt=attempt)
        rng = StableRng("alfworld-game", GENERATOR_VERSION, self.seed, self.split, index, attempt)
        generated = generate_game(spec, rng, task_id=task_id.replace("-", "_"))
        traj = {**generated.traj_data, "task_id": task_id}
        traj["generator"] = {**traj["generator"], "seed": self.seed, "split": self.split, "index": index, "attempt": attempt}
        return GameRecord(task_id, generated.game(), traj, source="generated")

    def _generate(self, index: int) -> GameRecord:
        if self._engine is None:
            self._engine = AlfredEngine()
        for attempt in range(MAX_ATTEMPTS):
            try:
                record = self.uncertified(index, attempt)
            except ValueError:
                continue
            run = run_expert(record, engine=self._engine, max_steps=CERTIFY_MAX_STEPS)
            if run.won:
                record.game["walkthrough"] = run.actions
                record.traj["generator"]["certified_within"] = CERTIFY_MAX_STEPS
                record.meta = {"cached": False, "attempt": attempt, "expert_steps": run.steps}
                return record
        raise RuntimeError(f"could not generate a solvable game for {self.task_id(index)} in {MAX_ATTEMPTS} attempts")


# -- real ALFWorld data ---------------------------------------------------------------------------
def load_games_dir(path: str | os.PathLike[str], *, task_types: tuple[str, ...] = TASK_TYPES) -> list[GameRecord]:
    """Games of a real ALFWorld ``json_2.1.1``-style folder, rebuilt on the installed engine.

    Selection follows ``AlfredTWEnv.collect_game_files`` (skip movable/sliced trajectories, games
    without a ``solvable`` flag or marked unsolvable, other task types); the released domain and
    grammar are from an older ALFWorld, so each game keeps only its ``pddl_problem`` and task text
    and gets the installed ``alfred.pddl``/``alfred.twl2`` (see ``shared/data/alfworld/README.md``).
    """
    root = Path(path).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"ALFWorld games_dir {str(root)!r} is not a directory")
    records: list[GameRecord] = []
    for traj_path in sorted(root.rglob("traj_data.json")):
        folder = traj_path.parent
        game_path = folder / "game.tw-pddl"
        rel = folder.relative_to(root).as_posix()
        if "movable" in rel or "Sliced" in rel or not game_path.exists():
            continue
        with open(traj_path, encoding="utf-8") as f:
            traj = json.load(f)
        if traj.get("task_type") not in task_types:
            continue
        with open(game_path, encoding="utf-8") as f:
            stored = json.load(f)
        if not stored.get("solvable", False):
            continue
        task_desc = task_text_from_grammar(stored.get("grammar", "")) or _fallback_task_desc(traj)
        game = build_game(stored["pddl_problem"], task_desc)
        records.append(GameRecord(rel, game, traj, source=str(folder)))
    if not records:
        raise FileNotFoundError(f"no playable ALFWorld game (traj_data.json + game.tw-pddl) under {str(root)!r}")
    return records


def _fallback_task_desc(traj: dict[str, Any]) -> str:
    """Template text for a game whose grammar carries no task (ALFWorld would draw one at random)."""
    import alfworld.gen.goal_library as glib

    params = traj["pddl_params"]
    template = glib.gdict[traj["task_type"]]["templates"][0]
    return template.format(
        obj=params.get("object_target", "").lower(),
        recep=params.get("parent_target", "").lower(),
        toggle=params.get("toggle_target", "").lower(),
        mrecep=params.get("mrecep_target", "").lower(),
    )
