"""``Code-v0``: write a function, see how it fares on hidden tests, revise.

The observation is a function stub (signature and docstring) from HumanEval or from the generated
families (:mod:`turngym.envs.code.tasks`). Each action is a complete function in a ```` ```python ````
block (the last block counts; bare code that parses is accepted too, which is what the
``python_block`` projection hands over). The submission runs in the sandbox on the hidden tests'
arguments and is judged in the grader's process (:mod:`turngym.envs.code.grader`): the code cannot
forge a pass. All tests passing ends the episode with reward 1; otherwise the agent sees feedback
and tries again, and the last allowed attempt ends the episode with reward ``fraction`` (tests
passed / tests) or ``all`` (1 if all passed, else 0).

Feedback (``feedback``): ``summary`` (default) gives the count of passed tests and the submission's
own errors (the exception of the run or of the first failing call, a timeout); ``tests`` also
lists up to three failing tests with their expected values (hidden no more: a policy can learn to
special-case them, so keep it for evaluation or SFT data).

Each test call may take ``call_timeout_s`` (2 s) and all of them together 80 % of ``timeout_s``
(10 s, the run's hard limit): a function that loops forever on one input fails that test only.

A response without code is an invalid action (``invalid_penalty``); it costs an attempt.

Info keys: ``score`` (pass fraction of this submission), ``tests_passed``, ``tests_total``,
``sandbox_status``; ``source`` and ``entry_point`` on every step. With ``expert=True``,
``expert_action`` is the reference solution in a ```` ```python ```` block.

Sandbox: ``sandbox="local"`` shares the process's default local backend (one worker pool for all
envs of the process); ``"own"`` starts a private one closed by ``close()``; a ``Backend`` instance
is used as given (docker, e2b, fusion...). Submissions are one-shot runs: nothing stays allocated
between turns or after an episode.
"""

from __future__ import annotations

import ast
import re
from typing import Any

from turngym.envs.base import InvalidAction, StepResult, TextEnv, check_choice
from turngym.envs.code.grader import Grade, grade
from turngym.envs.code.tasks import (
    SOURCES,
    SPLITS,
    CodeTask,
    load_task,
    split_task_ids,
    task_ids,
)
from turngym.sandbox import Backend

REWARDS = ("fraction", "all")
FEEDBACK = ("summary", "tests")
MAX_CODE_CHARS = 50_000
_FENCE = re.compile(r"```(?:python3?|py)?[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)
NO_CODE_MESSAGE = "Invalid action: no code found. Reply with the complete function in one ```python ... ``` block."


def extract_code(action: str) -> str:
    """The last fenced block, or the whole action when it is Python that defines something."""
    blocks = _FENCE.findall(action)
    if blocks:
        code = blocks[-1].strip("\n")
        if code.strip():
            return code
        raise InvalidAction(NO_CODE_MESSAGE)
    text = action.strip()
    if "def " in text or "lambda" in text:
        try:
            ast.parse(text)
        except (SyntaxError, ValueError, MemoryError, RecursionError):
            pass
        else:
            return text
    raise InvalidAction(NO_CODE_MESSAGE)


class CodeEnv(TextEnv):
    """Function synthesis with hidden tests run in the sandbox (HumanEval + generated problems)."""

    default_max_turns = 3
    task_version = "1"

    def __init__(
        self,
        *,
        split: str = "train",
        source: str = "mixed",
        reward: str = "fraction",
        feedback: str = "summary",
        sandbox: str | Backend = "local",
        timeout_s: float = 10.0,
        call_timeout_s: float = 2.0,
        memory_mb: int = 512,
        max_turns: int | None = None,
        expert: bool = False,
        invalid_penalty: float = 0.1,
        render_mode: str | None = None,
    ) -> None:
        super().__init__(max_turns=max_turns, expert=expert, invalid_penalty=invalid_penalty, render_mode=render_mode)
        check_choice("split", split, SPLITS)
        check_choice("source", source, SOURCES)
        check_choice("reward", reward, REWARDS)
        check_choice("feedback", feedback, FEEDBACK)
        if not (isinstance(sandbox, Backend) or sandbox in ("local", "own")):
            raise ValueError(f"sandbox must be 'local', 'own' or a turngym.sandbox.Backend, got {sandbox!r}")
        if not 0 < float(timeout_s) <= 600:
            raise ValueError(f"timeout_s must be in (0, 600], got {timeout_s!r}")
        self.split, self.source, self.reward_mode, self.feedback = split, source, reward, feedback
        if not 0 < float(call_timeout_s) <= float(timeout_s):
            raise ValueError(f"call_timeout_s must be in (0, timeout_s], got {call_timeout_s!r}")
        self.timeout_s, self.call_timeout_s, self.memory_mb = float(timeout_s), float(call_timeout_s), int(memory_mb)
        task_ids(split, source)  # a clear error now for a split the source does not have
        self._sandbox_spec = sandbox
        self._backend: Backend | None = sandbox if isinstance(sandbox, Backend) else None
        self._owns_backend = False
        self.task: CodeTask | None = None
        self.last_grade: Grade | None = None

    # -- tasks ------------------------------------------------------------------------------
    def task_ids(self, split: str | None = None) -> list[str]:
        return task_ids(split or self.split, self.source)

    def _reset(self, options: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        task_id = options.get("task_id")
        if task_id is None:
            task_id = self.rng_choice(split_task_ids(options.get("split", self.split), self.source))
        self.task = load_task(task_id)
        self.task_id = task_id
        self.last_grade = None
        obs = (
            "Write the Python function below so that it passes hidden tests. Reply with the complete function "
            f"(with any imports it needs) in one ```python block. You have {self.max_turns} attempt(s); after each "
            f"you see how many tests passed.\n\n```python\n{self.task.prompt}```"
        )
        return obs, {}

    def task_info(self) -> dict[str, Any]:
        return {"source": self.task.source, "entry_point": self.task.entry_point} if self.task else {}

    def expert_action(self) -> str | None:
        return f"```python\n{self.task.solution.rstrip()}\n```" if self.task else None

    # -- sandbox ----------------------------------------------------------------------------
    @property
    def backend(self) -> Backend:
        if self._backend is None:
            if self._sandbox_spec == "own":
                from turngym.sandbox import LocalBackend, SandboxConfig

                self._backend = LocalBackend(SandboxConfig(workers=1))
                self._owns_backend = True
            else:
                from turngym.sandbox import default_backend

                self._backend = default_backend()
        return self._backend

    def close(self) -> None:
        if self._owns_backend and self._backend is not None:
            self._backend.close()
            self._backend = None
            self._owns_backend = False
        super().close()

    # -- turns ------------------------------------------------------------------------------
    def _step(self, action: str) -> StepResult:
        if len(action) > MAX_CODE_CHARS:
            raise InvalidAction(f"Invalid action: the reply is longer than {MAX_CODE_CHARS} characters.")
        code = extract_code(action)
        task = self.task
        g = grade(self.backend, prompt=task.prompt, code=code, entry_point=task.entry_point, calls=task.calls,
                  check=task.check, timeout=self.timeout_s, memory_mb=self.memory_mb, call_timeout=self.call_timeout_s)
        self.last_grade = g
        n, k = len(g.passed), sum(g.passed)
        info = {"score": g.fraction, "tests_passed": k, "tests_total": n, "sandbox_status": g.status}
        last = self.turn_count + 1 >= self.max_turns
        if g.all_passed:
            return StepResult(f"All {n} tests passed.", reward=1.0, terminated=True, won=True, info=info)
        lines = [f"Passed {k}/{n} tests.", *self._feedback(g)]
        if last:
            reward = g.fraction if self.reward_mode == "fraction" else 0.0
            return StepResult("\n".join([*lines, "No attempts left."]), reward=reward, terminated=True, won=False, info=info)
        lines.append("Revise the function and reply with the complete function in one ```python block.")
        return StepResult("\n".join(lines), info=info)

    def _feedback(self, g: Grade) -> list[str]:
        out = []
        if g.status == "timeout":
            out.append(f"The run timed out after {self.timeout_s:g} s.")
        elif g.status in ("killed", "output_limit"):
            out.append(f"The run was stopped by the sandbox ({g.status}).")
        if g.error:
            out.append(f"Your code raised {g.error}")
        else:
            first = next((e for e in g.call_errors if e), None)
            if first:
                out.append(f"A call failed: {first}")
        if self.feedback == "tests" and self.task is not None:
            failing = [d for d, ok in zip(self.task.descriptions, g.passed) if not ok][:3]
            out += [f"Failed: {d}" for d in failing]
        return out
