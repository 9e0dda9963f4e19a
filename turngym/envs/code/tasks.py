"""Code-v0's task sets: task ids, splits, and one task record for both problem sources.

- ``generated``: function-synthesis problems from :mod:`turngym.envs.code.problems`, 5,000 in
  ``train`` and 500 in ``test`` (disjoint seeds: the split name is part of each problem's seed).
- ``humaneval``: the 164 HumanEval problems, in ``test`` only (it is an evaluation set).

``source="mixed"`` (the default) is generated problems in ``train`` and HumanEval followed by the
generated test problems in ``test``. The generated test problems come from the same families as
the training ones (held-out constants and tests, and some families have few distinct constants):
they measure fitting the families; HumanEval is the held-out measure of writing new functions.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from turngym.envs.code import humaneval, problems
from turngym.envs.code.grader import expected_checker
from turngym.envs.base import check_choice

SPLITS = ("train", "test")
SOURCES = ("mixed", "generated", "humaneval")
GENERATED_PER_SPLIT = {"train": 5000, "test": 500}
HUMANEVAL_SIZE = 164
_PREFIX = f"code-v{problems.GENERATOR_VERSION}"


@dataclass(frozen=True)
class CodeTask:
    task_id: str
    source: str
    entry_point: str
    prompt: str
    #: The reference solution (the oracle's submission).
    solution: str
    calls: tuple[tuple[tuple[Any, ...], dict[str, Any]], ...]
    check: Callable[[list[tuple[bool, Any]]], list[bool]]
    #: One line per test, shown with ``feedback="tests"`` (it reveals that test's expected value).
    descriptions: tuple[str, ...]


def task_ids(split: str, source: str) -> list[str]:
    """Every task id of a split, HumanEval first (a clear error for a split the source lacks)."""
    return list(split_task_ids(split, source))


@functools.cache
def split_task_ids(split: str, source: str) -> tuple[str, ...]:
    check_choice("split", split, SPLITS)
    check_choice("source", source, SOURCES)
    ids: list[str] = []
    if split == "test" and source in ("mixed", "humaneval"):
        ids += [f"{_PREFIX}-humaneval-{i}" for i in range(HUMANEVAL_SIZE)]
    elif source == "humaneval":
        raise ValueError("HumanEval is an evaluation set: it has only a 'test' split (use source='generated' or 'mixed' to train)")
    if source in ("mixed", "generated"):
        ids += [f"{_PREFIX}-gen-{split}-{i}" for i in range(GENERATED_PER_SPLIT[split])]
    return tuple(ids)


@functools.lru_cache(maxsize=8192)
def load_task(task_id: str) -> CodeTask:
    """The task behind an id (``code-v1-gen-<split>-<i>`` or ``code-v1-humaneval-<i>``)."""
    parts = task_id.split("-") if isinstance(task_id, str) else []
    try:
        if parts[:2] != _PREFIX.split("-"):
            raise ValueError
        if parts[2] == "gen" and len(parts) == 5 and parts[3] in SPLITS and 0 <= int(parts[4]) < GENERATED_PER_SPLIT[parts[3]]:
            return _generated(task_id, parts[3], int(parts[4]))
        if parts[2] == "humaneval" and len(parts) == 4 and 0 <= int(parts[3]) < HUMANEVAL_SIZE:
            return _humaneval(task_id, int(parts[3]))
        raise ValueError
    except (ValueError, IndexError):
        raise ValueError(f"malformed Code-v0 task id {task_id!r} (expected {_PREFIX}-gen-<split>-<i> or {_PREFIX}-humaneval-<0..163>)") from None


def _generated(task_id: str, split: str, index: int) -> CodeTask:
    p = problems.generate(split, index)
    calls = tuple((args, {}) for args in p.calls)
    desc = tuple(f"{p.entry_point}({', '.join(map(repr, a))}) should return {e!r}" for a, e in zip(p.calls, p.expected))
    return CodeTask(task_id, "generated", p.entry_point, p.prompt, p.solution, calls, expected_checker(p.expected), desc)


def _humaneval(task_id: str, index: int) -> CodeTask:
    p = humaneval.load(index)
    desc = tuple(src if len(src) <= 300 else src[:297] + "..." for src, is_test in p.statements if is_test)
    return CodeTask(task_id, "humaneval", p.entry_point, p.prompt, p.solution, p.calls,
                    functools.partial(humaneval.check, p), desc)
