"""Grading a submission: the sandbox only computes the function's results, the grader judges them.

The sandbox receives the problem's stub, the submitted code and a small harness that calls the
submitted function on the tests' arguments (sent as literal data in a file) and writes ``repr`` of
each result to a collected file. Everything that comes back (the file, stdout, the exception) is
the submission's own account, so none of it is believed as a verdict: each result is parsed with
``ast.literal_eval`` (plain values only; a result that is not a literal counts as a failure) and
the grader compares it with expected values that never entered the sandbox (generated problems)
or replays HumanEval's own asserts on it (:mod:`turngym.envs.code.humaneval`). A submission that
prints "all tests passed", writes the result file itself, exits early or patches the harness can
at most claim return values for the arguments, which is what solving the problem means.

Each submission runs in a fresh one-shot process from the backend's pool (never a session: a
session's later cells run in a process its earlier cells shaped).
"""

from __future__ import annotations

import ast
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from turngym.sandbox import Backend, ExecResult

CALLS_FILE = "__turngym_calls__.json"
RESULTS_FILE = "__turngym_results__.json"
#: Longest ``repr`` of one result the grader parses (a longer one counts as a failure).
MAX_RESULT_CHARS = 100_000

# The harness runs after the submission, in its process: it can be bypassed or rewritten by the
# submission, which only ever changes the claimed return values (see the module docstring).
_HARNESS = '''

def __turngym_harness(entry, call_s, budget_s):
    import ast as _ast, json as _json, signal as _signal, time as _time

    class CallTimeout(BaseException):  # not an Exception: a submission's `except Exception` cannot swallow it
        pass

    def on_alarm(signum, frame):
        raise CallTimeout()

    _signal.signal(_signal.SIGALRM, on_alarm)
    deadline = _time.monotonic() + budget_s
    with open({calls!r}) as f:
        calls = _ast.literal_eval(_json.load(f))
    fn = globals().get(entry)
    out = []
    for args, kwargs in calls:
        left = deadline - _time.monotonic()
        if left <= 0:
            out.append(["error", "TimeoutError: the run's time budget was used up before this call"])
            continue
        try:
            try:
                _signal.setitimer(_signal.ITIMER_REAL, min(call_s, left))
                text = repr(fn(*args, **kwargs))
            finally:
                _signal.setitimer(_signal.ITIMER_REAL, 0)
            out.append(["ok", text] if len(text) <= {limit} else ["error", "result too long"])
        except CallTimeout:
            out.append(["error", "TimeoutError: the call took longer than %g s" % min(call_s, left)])
        except BaseException as exc:  # SystemExit and KeyboardInterrupt included: a failed call
            out.append(["error", (type(exc).__name__ + ": " + str(exc))[:300]])
    with open({results!r}, "w") as f:
        _json.dump(out, f)

__turngym_harness({entry!r}, {call_s!r}, {budget_s!r})
'''


def build_program(prompt: str, code: str, entry_point: str, *, call_timeout: float = 2.0, budget: float = 8.0) -> str:
    """Stub (helpers and imports the prompt defines), then the submission, then the harness.

    Each call gets ``call_timeout`` seconds (``SIGALRM`` in the run's own process) and all calls
    together ``budget`` seconds, so one input that loops forever fails that test, not all of them.
    """
    harness = _HARNESS.format(calls=CALLS_FILE, results=RESULTS_FILE, limit=MAX_RESULT_CHARS, entry=entry_point,
                              call_s=float(call_timeout), budget_s=float(budget))
    return f"{prompt}\n\n{code}\n{harness}"


def calls_payload(calls: Sequence[tuple[tuple[Any, ...], dict[str, Any]]]) -> str:
    """The arguments as the harness reads them: a JSON string holding their Python literal."""
    return json.dumps(repr([(list(a), k) for a, k in calls]))


@dataclass
class Grade:
    """What the grader concluded, plus the submission's own messages (for feedback only)."""

    passed: list[bool]
    #: Sandbox status of the run (``ok``/``error``/``timeout``/``killed``/``output_limit``).
    status: str
    #: The run's exception (``SyntaxError: ...``), if it ended with one: the submission's own account.
    error: str | None = None
    #: Per call: the call's exception text from the harness, or None (the submission's own account).
    call_errors: list[str | None] = field(default_factory=list)
    #: Parsed results (None where a call failed), for feedback.
    values: list[Any] = field(default_factory=list)
    duration_s: float = 0.0

    @property
    def fraction(self) -> float:
        return sum(self.passed) / len(self.passed) if self.passed else 0.0

    @property
    def all_passed(self) -> bool:
        return bool(self.passed) and all(self.passed)


def parse_results(raw: bytes | None, n_calls: int) -> tuple[list[tuple[bool, Any]], list[str | None]]:
    """``(ok, value)`` per call from the results file's untrusted bytes; missing or malformed = failed."""
    outcomes: list[tuple[bool, Any]] = [(False, None)] * n_calls
    errors: list[str | None] = ["no result (the run ended before this call)"] * n_calls
    try:
        items = json.loads(raw.decode("utf-8")) if raw is not None else []
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        items = []
    if not isinstance(items, list):
        items = []
    for i, item in enumerate(items[:n_calls]):
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str) and isinstance(item[1], str)):
            errors[i] = "malformed result"
            continue
        tag, text = item
        if tag != "ok":
            errors[i] = text[:300]
            continue
        if len(text) > MAX_RESULT_CHARS:
            errors[i] = "result too long"
            continue
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            errors[i] = f"returned a value that is not a plain literal: {text[:80]}"
            continue
        outcomes[i] = (True, value)
        errors[i] = None
    return outcomes, errors


def values_equal(got: Any, want: Any) -> bool:
    """Equality of plain values, floats within 1e-6 (relative or absolute); types must agree for
    containers so that ``(1, 2)`` is not ``[1, 2]``."""
    if isinstance(want, float) and isinstance(got, (int, float)) and not isinstance(got, bool):
        return math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-6)
    if isinstance(want, (list, tuple)):
        return type(got) is type(want) and len(got) == len(want) and all(values_equal(g, w) for g, w in zip(got, want))
    if isinstance(want, dict):
        return isinstance(got, dict) and got.keys() == want.keys() and all(values_equal(got[k], want[k]) for k in want)
    return type(got) is type(want) and got == want


def expected_checker(expected: Sequence[Any]) -> Callable[[list[tuple[bool, Any]]], list[bool]]:
    """Test i passes when call i returned a value equal to ``expected[i]``."""

    def check(outcomes: list[tuple[bool, Any]]) -> list[bool]:
        return [ok and values_equal(value, want) for (ok, value), want in zip(outcomes, expected)]

    return check


def grade(backend: Backend, *, prompt: str, code: str, entry_point: str,
          calls: Sequence[tuple[tuple[Any, ...], dict[str, Any]]],
          check: Callable[[list[tuple[bool, Any]]], list[bool]], timeout: float, memory_mb: int,
          call_timeout: float = 2.0) -> Grade:
    """Run ``code`` on the tests' arguments in a fresh sandbox process and judge the results here.

    The calls share 80 % of ``timeout`` (the rest covers start-up and reporting), each at most
    ``call_timeout`` seconds.
    """
    program = build_program(prompt, code, entry_point, call_timeout=min(call_timeout, timeout), budget=0.8 * timeout)
    result = _run(backend, program, calls, timeout, memory_mb)
    outcomes, call_errors = parse_results(result.files.get(RESULTS_FILE), len(calls))
    passed = check(outcomes)
    error = None
    if result.status == "error" and result.error_name:
        error = f"{result.error_name}: {result.error_value or ''}".strip()[:500]
    return Grade(passed, result.status, error, call_errors, [v if ok else None for ok, v in outcomes], result.duration_s)


def _run(backend: Backend, program: str, calls: Sequence[Any], timeout: float, memory_mb: int) -> ExecResult:
    """One run; an infrastructure failure (``sandbox_error``, never the code's doing) is retried
    once and then raised, so it never becomes a zero reward the policy did not earn."""
    files = {CALLS_FILE: calls_payload(calls)}
    for _ in range(2):
        result = backend.run(program, timeout=timeout, memory_mb=memory_mb, files=files, collect_files=[RESULTS_FILE])
        if result.status != "sandbox_error":
            return result
    raise RuntimeError(f"the sandbox failed twice grading a submission: {result.error_value}")
