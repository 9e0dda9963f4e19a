"""Generated function-synthesis problems: seeded families with a reference solution and hidden tests.

Each family draws its constants from the task's seed (a multiple, a shift, a threshold...), so two
tasks of the same family differ in behaviour and a memorised answer does not transfer. A problem
is a stub (signature and docstring with one worked example, the prompt), the reference solution
(source code: the oracle submits it through the sandbox like any policy would) and the hidden
tests: call arguments plus the expected results, computed by the reference implementation in the
grader's own process. Only the arguments ever enter the sandbox; the expected values never do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from turngym.envs.base import seeded_rng

#: Bump when a family changes: (version, split, index) pins a problem.
GENERATOR_VERSION = "1"
TESTS_PER_PROBLEM = 8
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class Family:
    """One kind of problem. ``make`` draws its constants; the rest are functions of them."""

    name: str
    signature: str
    #: Docstring's first line, formatted with the constants.
    doc: str
    #: Reference solution body (indented, formatted with the constants).
    body: str
    make: Callable[[np.random.Generator], dict[str, Any]]
    ref: Callable[[dict[str, Any]], Callable[..., Any]]
    #: One argument tuple drawn from the generator (the tests are TESTS_PER_PROBLEM of them).
    draw: Callable[[np.random.Generator, dict[str, Any]], tuple[Any, ...]]
    #: Argument tuples every problem of the family is also tested on (edge cases).
    edges: tuple[tuple[Any, ...], ...] = ()


def _ints(rng: np.random.Generator, lo: int = -20, hi: int = 40, n_max: int = 10) -> list[int]:
    return [int(v) for v in rng.integers(lo, hi, size=int(rng.integers(0, n_max + 1)))]


def _word(rng: np.random.Generator, lo: int = 1, hi: int = 8) -> str:
    return "".join(_LETTERS[int(i)] for i in rng.integers(0, 26, size=int(rng.integers(lo, hi + 1))))


def _text(rng: np.random.Generator) -> str:
    return " ".join(_word(rng) for _ in range(int(rng.integers(0, 7))))


def _prefix(op: str) -> Callable[[list[int]], list[int]]:
    def f(xs: list[int]) -> list[int]:
        out: list[int] = []
        for x in xs:
            out.append(x if not out else (out[-1] + x if op == "sum" else max(out[-1], x) if op == "max" else min(out[-1], x)))
        return out

    return f


def _kth(k: int) -> Callable[[list[int]], int | None]:
    def f(xs: list[int]) -> int | None:
        d = sorted(set(xs), reverse=True)
        return d[k - 1] if len(d) >= k else None

    return f


def _rle(s: str) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    for ch in s:
        if out and out[-1][0] == ch:
            out[-1] = (ch, out[-1][1] + 1)
        else:
            out.append((ch, 1))
    return out


def _balanced(pairs: str) -> Callable[[str], bool]:
    closing = {pairs[i + 1]: pairs[i] for i in range(0, len(pairs), 2)}

    def f(s: str) -> bool:
        stack: list[str] = []
        for ch in s:
            if ch in closing.values():
                stack.append(ch)
            elif ch in closing and (not stack or stack.pop() != closing[ch]):
                return False
        return not stack

    return f


def _prefix_params(op: str) -> dict[str, Any]:
    return {"op": op, "expr": {"sum": "out[-1] + x", "max": "max(out[-1], x)", "min": "min(out[-1], x)"}[op]}


def _dedupe_params(last: bool) -> dict[str, Any]:
    return {"which": "last" if last else "first", "it": "reversed(xs)" if last else "xs", "ret": "out[::-1]" if last else "out"}


def _balanced_params(pairs: str) -> dict[str, Any]:
    return {"pairs": pairs, "closing": ", ".join(f"{pairs[i + 1]!r}: {pairs[i]!r}" for i in range(0, len(pairs), 2))}


def _runs(rng: np.random.Generator) -> str:
    return "".join(_LETTERS[int(rng.integers(0, 3))] * int(rng.integers(1, 4)) for _ in range(int(rng.integers(0, 6))))


def _brackets(rng: np.random.Generator, p: dict[str, Any]) -> tuple[str]:
    chars = p["pairs"] + "x"
    return ("".join(chars[int(i)] for i in rng.integers(0, len(chars), size=int(rng.integers(0, 9)))),)


FAMILIES: tuple[Family, ...] = (
    Family("sum_multiples", "def sum_multiples(xs: list[int]) -> int:", "Return the sum of the elements of xs divisible by {k}.",
           "    return sum(x for x in xs if x % {k} == 0)",
           lambda r: {"k": int(r.integers(2, 8))}, lambda p: lambda xs: sum(x for x in xs if x % p["k"] == 0),
           lambda r, p: (_ints(r),), (([],),)),
    Family("count_chars", "def count_chars(s: str) -> int:", "Return how many characters of s are one of {chars!r}.",
           "    return sum(1 for ch in s if ch in {chars!r})",
           lambda r: {"chars": "".join(sorted({_LETTERS[int(i)] for i in r.integers(0, 26, size=3)}))},
           lambda p: lambda s: sum(1 for ch in s if ch in p["chars"]), lambda r, p: (_text(r),), (("",),)),
    Family("shift_letters", "def shift_letters(s: str) -> str:",
           "Shift every lowercase letter of s {k} places forward in the alphabet (z wraps to a); keep other characters.",
           "    return ''.join(chr((ord(c) - 97 + {k}) % 26 + 97) if 'a' <= c <= 'z' else c for c in s)",
           lambda r: {"k": int(r.integers(1, 26))},
           lambda p: lambda s: "".join(chr((ord(c) - 97 + p["k"]) % 26 + 97) if "a" <= c <= "z" else c for c in s),
           lambda r, p: (_text(r) + ("!" if r.integers(2) else ""),), (("",), ("xyz A",))),
    Family("prefix_scan", "def prefix_scan(xs: list[int]) -> list[int]:",
           "Return the running {op} of xs: element i is the {op} of xs[0..i].",
           "    out = []\n    for x in xs:\n        out.append(x if not out else {expr})\n    return out",
           lambda r: _prefix_params(("sum", "max", "min")[int(r.integers(3))]),
           lambda p: _prefix(p["op"]), lambda r, p: (_ints(r),), (([],),)),
    Family("kth_largest", "def kth_largest(xs: list[int]) -> int | None:",
           "Return the {k}-th largest distinct value of xs, or None when xs has fewer than {k} distinct values.",
           "    d = sorted(set(xs), reverse=True)\n    return d[{k} - 1] if len(d) >= {k} else None",
           lambda r: {"k": int(r.integers(1, 4))}, lambda p: _kth(p["k"]), lambda r, p: (_ints(r, -5, 6),), (([],),)),
    Family("run_length", "def run_length(s: str) -> list[tuple[str, int]]:",
           "Return the run-length encoding of s as (character, count) tuples.",
           "    out = []\n    for ch in s:\n        if out and out[-1][0] == ch:\n            out[-1] = (ch, out[-1][1] + 1)\n"
           "        else:\n            out.append((ch, 1))\n    return out",
           lambda r: {}, lambda p: _rle, lambda r, p: (_runs(r),), (("",),)),
    Family("rotate_left", "def rotate_left(xs: list[int]) -> list[int]:",
           "Return xs rotated left by {k} places (by {k} modulo its length; an empty list stays empty).",
           "    if not xs:\n        return []\n    k = {k} % len(xs)\n    return xs[k:] + xs[:k]",
           lambda r: {"k": int(r.integers(1, 12))},
           lambda p: lambda xs: xs[p["k"] % len(xs):] + xs[: p["k"] % len(xs)] if xs else [],
           lambda r, p: (_ints(r),), (([],), ([1],))),
    Family("dedupe", "def dedupe(xs: list[int]) -> list[int]:",
           "Return xs without repeated values, keeping the {which} occurrence of each, in their order in xs.",
           "    seen = set()\n    out = []\n    for x in {it}:\n        if x not in seen:\n            seen.add(x)\n            out.append(x)\n"
           "    return {ret}",
           lambda r: _dedupe_params(bool(r.integers(2))),
           lambda p: (lambda xs: list(dict.fromkeys(reversed(xs)))[::-1]) if p["which"] == "last" else (lambda xs: list(dict.fromkeys(xs))),
           lambda r, p: (_ints(r, 0, 6),), (([],),)),
    Family("digit_power_sum", "def digit_power_sum(n: int) -> int:",
           "Return the sum of the decimal digits of abs(n), each raised to the power {e}.",
           "    return sum(int(d) ** {e} for d in str(abs(n)))",
           lambda r: {"e": int(r.integers(1, 5))}, lambda p: lambda n: sum(int(d) ** p["e"] for d in str(abs(n))),
           lambda r, p: (int(r.integers(-10**6, 10**6)),), ((0,),)),
    Family("count_pairs", "def count_pairs(xs: list[int]) -> int:",
           "Return the number of index pairs i < j with xs[i] + xs[j] == {t}.",
           "    return sum(1 for i in range(len(xs)) for j in range(i + 1, len(xs)) if xs[i] + xs[j] == {t})",
           lambda r: {"t": int(r.integers(-3, 10))},
           lambda p: lambda xs: sum(1 for i in range(len(xs)) for j in range(i + 1, len(xs)) if xs[i] + xs[j] == p["t"]),
           lambda r, p: (_ints(r, -4, 10),), (([],),)),
    Family("long_words", "def long_words(text: str) -> list[str]:",
           "Return the words of text (split on whitespace) with at least {n} characters, in order.",
           "    return [w for w in text.split() if len(w) >= {n}]",
           lambda r: {"n": int(r.integers(2, 7))}, lambda p: lambda text: [w for w in text.split() if len(w) >= p["n"]],
           lambda r, p: (_text(r),), (("",),)),
    Family("fizz_label", "def fizz_label(n: int) -> str:",
           "Return {wa!r} if n is divisible by {a}, {wb!r} if by {b}, {wa!r} + {wb!r} if by both, else str(n).",
           "    s = ({wa!r} if n % {a} == 0 else '') + ({wb!r} if n % {b} == 0 else '')\n    return s or str(n)",
           lambda r: {"a": int(r.integers(2, 6)), "b": int(r.integers(6, 10)), "wa": _word(r, 3, 5).title(), "wb": _word(r, 3, 5).title()},
           lambda p: lambda n: ((p["wa"] if n % p["a"] == 0 else "") + (p["wb"] if n % p["b"] == 0 else "")) or str(n),
           lambda r, p: (int(r.integers(-50, 100)),), ((0,),)),
    Family("balanced", "def balanced(s: str) -> bool:",
           "Return True when the brackets {pairs!r} (opening, closing pairs) in s are balanced and properly nested; other characters do not matter.",
           "    closing = {{{closing}}}\n    stack = []\n    for ch in s:\n        if ch in closing.values():\n            stack.append(ch)\n"
           "        elif ch in closing:\n            if not stack or stack.pop() != closing[ch]:\n                return False\n    return not stack",
           lambda r: _balanced_params(("()", "()[]", "[]{}", "()[]{}")[int(r.integers(4))]),
           lambda p: _balanced(p["pairs"]), _brackets, (("",),)),
)


@dataclass(frozen=True)
class GeneratedProblem:
    """A stub, its reference solution and its hidden tests (arguments and expected results)."""

    name: str
    entry_point: str
    prompt: str
    solution: str
    calls: tuple[tuple[Any, ...], ...]
    expected: tuple[Any, ...]


def generate(split: str, index: int) -> GeneratedProblem:
    """Problem ``index`` of ``split``: the same on every machine for a given GENERATOR_VERSION."""
    rng = seeded_rng("code", GENERATOR_VERSION, split, index)
    fam = FAMILIES[int(rng.integers(len(FAMILIES)))]
    params = fam.make(rng)
    ref = fam.ref(params)
    calls: list[tuple[Any, ...]] = list(fam.edges)
    tries = 0
    while len(calls) < TESTS_PER_PROBLEM and tries < 100:
        tries += 1
        args = fam.draw(rng, params)
        if args not in calls:
            calls.append(args)
    entry = fam.signature[4 : fam.signature.index("(")]
    example = calls[-1]
    doc = fam.doc.format(**params)
    prompt = f'{fam.signature}\n    """{doc}\n\n    >>> {entry}({", ".join(map(repr, example))})\n    {ref(*example)!r}\n    """\n'
    solution = f"{fam.signature}\n{fam.body.format(**params)}\n"
    expected = tuple(ref(*args) for args in calls)
    return GeneratedProblem(f"{fam.name}", entry, prompt, solution, tuple(calls), expected)
