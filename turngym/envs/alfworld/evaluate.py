"""Expert sweeps and counts over ALFWorld task sets: the acceptance numbers, reproducible by command.

``turngym alfworld stats --expert-eval`` prints what :func:`expert_table` computes: per task type,
how many games the handcoded expert wins within 200 turns (the ALFWorld expert's budget) and within
the usual 50-turn episode limit.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from turngym.envs.alfworld.engine import TASK_TYPES, AlfredEngine
from turngym.envs.alfworld.tasks import GameRecord, run_expert


@dataclass
class ExpertResult:
    task_id: str
    task_type: str
    room: str
    won: bool
    steps: int


def expert_sweep(records: Iterable[GameRecord], *, max_steps: int = 200, seed: int = 0, progress: Callable[[ExpertResult], None] | None = None) -> list[ExpertResult]:
    engine = AlfredEngine()
    results = []
    for record in records:
        run = run_expert(record, seed=seed, max_steps=max_steps, engine=engine)
        result = ExpertResult(record.task_id, record.task_type, record.room, run.won, run.steps)
        results.append(result)
        if progress is not None:
            progress(result)
    return results


def expert_table(results: list[ExpertResult], *, budget: int = 50) -> list[dict[str, object]]:
    """Rows per task type plus an ``all`` row: games, wins, win rate, wins within ``budget`` turns."""
    groups: dict[str, list[ExpertResult]] = defaultdict(list)
    for r in results:
        groups[r.task_type].append(r)
    rows = []
    for name in [t for t in TASK_TYPES if t in groups] + ["all"]:
        rs = results if name == "all" else groups[name]
        if not rs:
            continue
        wins = sum(r.won for r in rs)
        within = sum(r.won and r.steps <= budget for r in rs)
        steps = sorted(r.steps for r in rs if r.won)
        rows.append({
            "task_type": name,
            "games": len(rs),
            "won": wins,
            "win_rate": wins / len(rs),
            f"won_le_{budget}": within,
            f"rate_le_{budget}": within / len(rs),
            "median_steps": steps[len(steps) // 2] if steps else 0,
        })
    return rows


def counts(records: Iterable[GameRecord]) -> tuple[Counter[str], Counter[str], Counter[tuple[str, str]]]:
    """Games per task type, per room type, and per (task type, room type)."""
    by_type: Counter[str] = Counter()
    by_room: Counter[str] = Counter()
    both: Counter[tuple[str, str]] = Counter()
    for r in records:
        by_type[r.task_type] += 1
        by_room[r.room] += 1
        both[(r.task_type, r.room)] += 1
    return by_type, by_room, both
