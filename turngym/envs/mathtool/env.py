"""``MathTool-v0``: tool-integrated math reasoning (START / ToRL / SimpleTIR / ReTool protocol).

An action is the model's response. When it holds a complete code block (```` ```python ``` ```` or,
with ``tags="retool"``, ``<code>...</code>``) and the tool-call budget is not spent, the last block
runs in the episode's sandbox session (state persists across the episode's cells) and the
observation is its output as ```` ```output ... ``` ```` (``<interpreter>`` for ReTool), cut with
ToRL's head/tail rule; the output of the last allowed call carries a notice that the budget is
spent. A response with a ``\\boxed{}`` and no code to run is the final answer: the last box is
graded against the reference with ``math-verify`` (sympy and text fallbacks, ``grading``) and
the episode ends. After the budget is spent code is no longer run (ToRL).

Rewards (``reward``): ``binary`` 1/0, ``pm1`` +1/-1, ``pm1_error`` +1/-1 and -0.5 when any of the
episode's cells raised (ToRL's execution penalty). A turn limit hit without an answer scores as a
wrong answer on that turn. SimpleTIR's void turns (neither a complete code block nor a boxed
answer, e.g. a response cut off inside its code) are invalid actions (the state is unchanged and
``invalid_penalty`` applies) marked ``info["void_turn"] = True``; ``info["episode_void"]`` says
whether any turn so far was void, so a trainer can drop those trajectories as SimpleTIR does.

Info keys: ``task`` and ``question`` (the problem), ``ground_truth`` and ``source`` on every step;
``tool_calls`` (``[{"name": "python", "arguments": {"code": ...}, "result": status}]``) and
``code_status`` on tool turns; ``answer``, ``score`` and ``correct`` on the answer turn. With
``expert=True``, ``expert_action`` runs the task's reference code through the same tool, then
boxes what it printed.

The sandbox session is opened at the first cell of an episode and closed when the episode ends
(terminated, truncated, reset or ``close``), so no session outlives its episode.
"""

from __future__ import annotations

from typing import Any

from turngym.envs.base import StepResult, TextEnv, check_choice
from turngym.envs.mathtool import grading
from turngym.envs.mathtool.data import (
    DEFAULT_SOURCES,
    SPLITS,
    TASK_VERSION,
    MathTask,
    TaskSet,
)
from turngym.envs.mathtool.tools import (
    TAG_STYLES,
    CellRunner,
    Executor,
    SandboxExecutor,
    find_code,
    has_open_code,
    render_output,
    result_text,
    truncate_output,
)

REWARDS = ("binary", "pm1", "pm1_error")
ANSWER_SPEC = "Put the final answer in \\boxed{}, e.g. \\boxed{42}."
LAST_CALL_NOTICE = "(This was your last tool call. Give the final answer in \\boxed{} now.)"
_MAX_ACTION_CHARS = 100_000


class MathToolEnv(TextEnv):
    """Math problems solved with a persistent Python sandbox; the answer is graded at the end."""

    default_max_turns = 5
    task_version = TASK_VERSION

    def __init__(
        self,
        *,
        sources: list[str] | tuple[str, ...] = DEFAULT_SOURCES,
        split: str = "train",
        sizes: dict[str, int] | None = None,
        reward: str = "pm1",
        tags: str = "markdown",
        max_tool_calls: int = 4,
        output_head: int = 128,
        output_tail: int = 128,
        code_timeout: float = 5.0,
        instructions: bool = True,
        executor: Executor | str = "sandbox",
        sandbox_backend: str = "local",
        sandbox_kwargs: dict[str, Any] | None = None,
        memory_mb: int = 512,
        max_turns: int | None = None,
        expert: bool = False,
        invalid_penalty: float = 0.0,
        render_mode: str | None = None,
    ) -> None:
        if max_tool_calls < 0:
            raise ValueError(f"max_tool_calls must be >= 0, got {max_tool_calls}")
        super().__init__(max_turns=max_turns or max_tool_calls + 1, expert=expert, invalid_penalty=invalid_penalty, render_mode=render_mode)
        check_choice("split", split, SPLITS)
        check_choice("reward", reward, REWARDS)
        check_choice("tags", tags, TAG_STYLES)
        if not 0 < code_timeout <= 600:
            raise ValueError(f"code_timeout must be in (0, 600] seconds, got {code_timeout}")
        self.tasks = TaskSet(tuple(sources), sizes)
        self.split = split
        self.reward_kind = reward
        self.tags = tags
        self.max_tool_calls = int(max_tool_calls)
        self.output_head, self.output_tail = int(output_head), int(output_tail)
        truncate_output("", self.output_head, self.output_tail)  # validates head/tail
        self.code_timeout = float(code_timeout)
        self.instructions = instructions
        if isinstance(executor, str):
            if executor != "sandbox":
                raise ValueError(f"executor must be 'sandbox' or an Executor object, got {executor!r}")
            executor = SandboxExecutor(sandbox_backend, memory_mb=memory_mb, **(sandbox_kwargs or {}))
        self.executor: Executor = executor
        self.task: MathTask | None = None
        self.question: str | None = None
        self._runner: CellRunner | None = None
        self._calls = 0
        self._had_error = False
        self._void = False
        self._last_output = ""
        self._last_stdout = ""

    # -- tasks ------------------------------------------------------------------------------------
    def task_ids(self, split: str | None = None) -> list[str]:
        split = split or self.split
        return [f"{s}-{split}-{i}" for s, i in self.tasks.ids(split)]

    def _reset(self, options: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        self._release()
        if options.get("task_id") is not None:
            source, split, index = TaskSet.parse_id(str(options["task_id"]))
        else:
            split = options.get("split", self.split)
            check_choice("split", split, SPLITS)
            source, index = self.rng_choice(self.tasks.ids(split))
        self.task = self.tasks.get(source, split, index)
        self.task_id = self.task.task_id
        self.question = self.task.question
        self._calls, self._had_error, self._void = 0, False, False
        self._last_output = self._last_stdout = ""
        return self._prompt(), {"task": self._prompt(), "source": self.task.source}

    def _prompt(self) -> str:
        assert self.task is not None
        if not self.instructions:
            return self.task.question
        calls = f"{self.max_tool_calls} call" + ("s" if self.max_tool_calls != 1 else "")
        if self.max_tool_calls == 0:
            tool = "Reason step by step."
        elif self.tags == "markdown":
            tool = ("Reason step by step. You may write Python code in a ```python ... ``` block; it runs in a persistent "
                    f"interpreter and its output comes back in a ```output ... ``` block (at most {calls}).")
        else:
            tool = ("Reason step by step. You may write Python code inside <code> </code>; it runs in a persistent interpreter "
                    f"and its output comes back inside <interpreter> </interpreter> (at most {calls}).")
        return f"{self.task.question}\n\n{tool} {ANSWER_SPEC}"

    def task_info(self) -> dict[str, Any]:
        if self.task is None:
            return {}
        return {"ground_truth": self.task.answer, "question": self.task.question, "source": self.task.source,
                "episode_void": self._void}

    def anchor(self, observation: str) -> str:
        return f"{self.task_id}\ncalls: {self._calls}\n{self._last_output}"

    # -- acting -------------------------------------------------------------------------------------
    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        result = super().step(action)
        if self._done:
            self._release()
        return result

    def _step(self, action: str) -> StepResult:
        assert self.task is not None
        if not action.strip():
            return self._void_turn("Empty response.")
        if len(action) > _MAX_ACTION_CHARS:
            return self._void_turn(f"Response longer than {_MAX_ACTION_CHARS} characters, so it was not read.")
        block = find_code(action, self.tags)
        if block is not None and self._calls < self.max_tool_calls:
            return self._tool_turn(block.code)
        if grading.last_boxed(action) is None:
            if block is not None:
                return self._void_turn("The tool-call budget is spent, so this code was not run.")
            if has_open_code(action, self.tags):
                return self._void_turn("The code block is not closed, so nothing was run.")
            return self._void_turn("No code block and no final answer.")
        return self._answer_turn(action)

    def _void_turn(self, why: str) -> StepResult:
        """Neither a runnable code block nor a boxed answer: an invalid turn, marked void (SimpleTIR)."""
        self._void = True
        last = self.turn_count + 1 >= self.max_turns
        return StepResult(f"{why} {ANSWER_SPEC}", reward=self._reward(False) if last else 0.0, valid=False, info={"void_turn": True})

    def _tool_turn(self, code: str) -> StepResult:
        try:
            if self._runner is None:
                self._runner = self.executor.open()
            result = self._runner.run(code, timeout=self.code_timeout)
        except Exception as exc:  # noqa: BLE001 - infrastructure: never the policy's fault, the call is not counted
            from turngym.sandbox import ExecResult

            result = ExecResult.sandbox_error(f"{type(exc).__name__}: {exc}")
            self._release()
        counted = result.status != "sandbox_error"
        if counted:
            self._calls += 1
        if result.status != "ok" and counted:
            self._had_error = True
        shown = truncate_output(result_text(result), self.output_head, self.output_tail)
        if counted and self._calls >= self.max_tool_calls:
            shown = f"{shown}\n{LAST_CALL_NOTICE}"
        self._last_output = shown
        self._last_stdout = result.stdout if result.status == "ok" else ""
        obs = render_output(shown, self.tags)
        call = {"name": "python", "arguments": {"code": code}, "result": result.status}
        info: dict[str, Any] = {"tool_calls": [call], "code_status": result.status, "void_turn": False}
        if result.status == "sandbox_error":
            info["error"] = result.error_value or "sandbox error"
        reward = 0.0
        if self.turn_count + 1 >= self.max_turns:  # the turn limit ends the episode without an answer
            reward = self._reward(False)
        return StepResult(obs, reward=reward, info=info)

    def _answer_turn(self, action: str) -> StepResult:
        assert self.task is not None
        answer = grading.last_boxed(action)
        correct = answer is not None and grading.answers_equal(self.task.answer, answer)
        obs = "Correct." if correct else f"Wrong. The answer was {self.task.answer}."
        info = {"answer": answer or "", "score": float(correct), "correct": correct, "void_turn": False, "tool_calls_used": self._calls}
        return StepResult(obs, reward=self._reward(correct), terminated=True, won=correct, info=info)

    def _reward(self, correct: bool) -> float:
        if self.reward_kind == "binary":
            return float(correct)
        reward = 1.0 if correct else -1.0
        if self.reward_kind == "pm1_error" and self._had_error:
            reward -= 0.5
        return reward

    # -- the checkable-answer protocol (multi-agent discussion envs use it, duck-typed) -----------
    def answer_spec(self) -> str:
        """How an agent must write its final answer for ``check_answer`` to read it."""
        return ANSWER_SPEC

    def check_answer(self, text: str) -> float:
        """Score in [0, 1] of a free-text final answer (its last ``\\boxed{}``) for the current task."""
        if self.task is None:
            raise RuntimeError("check_answer() needs a task: call reset() first")
        answer = grading.last_boxed(self.coerce_action(text))
        return float(answer is not None and grading.answers_equal(self.task.answer, answer))

    def answer_key(self, text: str) -> str | None:
        """The normalised answer used for majority voting (equal values share a key); None if no box."""
        return grading.answer_key(grading.last_boxed(self.coerce_action(text)))

    # -- the oracle ---------------------------------------------------------------------------------
    def expert_action(self) -> str | None:
        if self.task is None:
            return None
        if self._calls == 0 and self.max_tool_calls > 0:
            code = self.task.oracle_code
            block = f"```python\n{code}\n```" if self.tags == "markdown" else f"<code>\n```python\n{code}\n```\n</code>"
            return f"Let me compute this with Python.\n{block}"
        if self.max_tool_calls == 0:
            return f"The answer is \\boxed{{{self.task.answer}}}."
        lines = self._last_stdout.strip().splitlines()
        value = lines[-1].strip() if lines else ""
        return f"The code printed {value}. The answer is \\boxed{{{value}}}."

    # -- the sandbox session ------------------------------------------------------------------------
    def _release(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            try:
                runner.close()
            except Exception:  # noqa: BLE001, S110 - a failing close must not break the next episode
                pass

    def close(self) -> None:
        self._release()
        super().close()
