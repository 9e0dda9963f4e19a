"""MathTool's problems: ``reasoning-gym`` generators and the CHAMP competition set, pinned by split.

Task sets are fixed by (``TASK_VERSION``, source, split, index): a reasoning-gym generator is
created with a seed derived from those (``seeded_rng``-style hashing, the same on every machine) and
generates item ``index`` on demand, so listing 10^5 task ids costs nothing and no file is written.
CHAMP's 270 problems are assigned to a split by a hash of their identifier (about one in five goes
to ``test``); only problems whose answer can be graded fairly are kept (``grading.is_checkable``:
numbers, formulas, yes/no; prose answers such as "At least 1 number" are dropped).

Every task carries a reference solution as Python code (``oracle_code``) that the oracle runs
through the env's own sandbox path: arithmetic is evaluated, equations are solved with sympy,
gcd/lcm/fractions computed; for word problems and CHAMP the code prints the reference answer.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from turngym.envs.mathtool.grading import is_checkable
from turngym.envs.base import check_choice

TASK_VERSION = "1"
SPLITS = ("train", "test")
#: The reasoning-gym generators MathTool knows how to write reference code for.
RG_SOURCES = ("gsm_symbolic", "basic_arithmetic", "simple_equations", "lcm", "gcd", "fraction_simplification")
SOURCES = (*RG_SOURCES, "champ")
DEFAULT_SOURCES = SOURCES
#: Tasks listed per split, interleaved over the sources (the test split is 200); each reasoning-gym
#: generator is sized to it and builds its items on demand.
DEFAULT_SIZES = {"train": 20_000, "test": 200}
INSTALL_HINT = "pip install 'turngym[math]'  (reasoning-gym, champ-dataset, math-verify)"


class MissingMathExtra(ImportError):
    """The math extra is not installed; the message names the install command."""


@dataclass(frozen=True)
class MathTask:
    task_id: str
    source: str
    question: str
    answer: str
    oracle_code: str


def require_math_extra() -> None:
    missing = []
    for module in ("reasoning_gym", "champ_dataset", "math_verify"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise MissingMathExtra(f"MathTool-v0 needs {', '.join(missing)}: {INSTALL_HINT}")


def _seed(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256("/".join(map(str, parts)).encode()).digest()[:4], "little")


@lru_cache(maxsize=64)
def _rg_dataset(source: str, split: str, size: int) -> Any:
    import reasoning_gym

    return reasoning_gym.create_dataset(source, seed=_seed("mathtool", TASK_VERSION, source, split), size=size)


@lru_cache(maxsize=1)
def _champ() -> dict[str, list[tuple[str, str, str]]]:
    """CHAMP problems by split: (identifier, text, answer), sorted by the split hash."""
    import champ_dataset

    problems = champ_dataset.load("v0").problems
    out: dict[str, list[tuple[str, str, str]]] = {s: [] for s in SPLITS}
    keyed = sorted(problems.values(), key=lambda p: _seed("champ", TASK_VERSION, p.identifier))
    for p in keyed:
        if not is_checkable(p.answer):
            continue
        split = "test" if _seed("champ-split", p.identifier) % 5 == 0 else "train"
        out[split].append((p.identifier, p.text, p.answer))
    return out


def _strip_dollars(text: str) -> str:
    return text.strip().strip("$").strip()


def _rg_oracle(source: str, entry: dict[str, Any]) -> str:
    meta = entry["metadata"]
    if source == "basic_arithmetic":
        return f"value = {meta['expression']}\nprint(round(value, 6) if isinstance(value, float) else value)"
    if source == "simple_equations":
        lhs, rhs = meta["equation"].split("=")
        var = meta["variable"]
        return (f"import sympy as sp\n{var} = sp.Symbol({var!r})\n"
                f"print(sp.solve(sp.Eq(sp.sympify({lhs.strip()!r}), sp.sympify({rhs.strip()!r})), {var})[0])")
    if source in ("lcm", "gcd"):
        return f"import math\nprint(math.{source}(*{list(meta['numbers'])!r}))"
    if source == "fraction_simplification":
        return f"from fractions import Fraction\nprint(Fraction({meta['numerator']}, {meta['denominator']}))"
    return f"answer = {_strip_dollars(str(entry['answer']))!r}\nprint(answer)"


class TaskSet:
    """The tasks of the chosen sources: ids ``<source>-<split>-<index>``, built on demand."""

    def __init__(self, sources: tuple[str, ...] = DEFAULT_SOURCES, sizes: dict[str, int] | None = None) -> None:
        require_math_extra()
        unknown = [s for s in sources if s not in SOURCES]
        if unknown or not sources:
            raise ValueError(f"unknown MathTool sources {unknown or sources!r}; choose from {', '.join(SOURCES)}")
        self.sources = tuple(sources)
        self.sizes = {**DEFAULT_SIZES, **(sizes or {})}
        if any(not isinstance(v, int) or v < 1 for v in self.sizes.values()):
            raise ValueError(f"split sizes must be positive integers, got {self.sizes}")
        self._index: dict[str, list[tuple[str, int]]] = {}

    def ids(self, split: str) -> list[tuple[str, int]]:
        """(source, index) pairs of a split, interleaved across sources so that any prefix mixes
        them; the split holds ``sizes[split]`` tasks (CHAMP contributes at most its own count)."""
        check_choice("split", split, SPLITS)
        if split not in self._index:
            total = self.sizes[split]
            counts = {s: len(_champ()[split]) if s == "champ" else total for s in self.sources}
            out: list[tuple[str, int]] = []
            i = 0
            while len(out) < total and any(i < c for c in counts.values()):
                for s in self.sources:
                    if i < counts[s] and len(out) < total:
                        out.append((s, i))
                i += 1
            self._index[split] = out
        return self._index[split]

    def get(self, source: str, split: str, index: int) -> MathTask:
        task_id = f"{source}-{split}-{index}"
        if source not in self.sources or split not in SPLITS or index < 0:
            raise ValueError(f"task id {task_id!r} is not a task of this env (sources {', '.join(self.sources)})")
        if source == "champ":
            items = _champ()[split]
            if index >= len(items):
                raise ValueError(f"task id {task_id!r}: CHAMP's {split} split has {len(items)} problems")
            _ident, text, answer = items[index]
            code = f"answer = {answer!r}\nprint(answer)"
            return MathTask(task_id, source, text, answer, code)
        if index >= self.sizes[split]:
            raise ValueError(f"task id {task_id!r}: the {split} split has {self.sizes[split]} items per source")
        entry = _rg_dataset(source, split, self.sizes[split])[index]
        return MathTask(task_id, source, str(entry["question"]), _strip_dollars(str(entry["answer"])), _rg_oracle(source, entry))

    @staticmethod
    def parse_id(task_id: str) -> tuple[str, str, int]:
        source, sep, rest = str(task_id).partition("-")
        split, _, index = rest.rpartition("-")
        if not sep or split not in SPLITS or not index.isdigit():
            raise ValueError(f"task id {task_id!r} is not a MathTool task id (<source>-<split>-<index>)")
        return source, split, int(index)
