"""``ToolCall-v0``: answer a question with a sequence of deterministic tool calls (MatchTIR's setting).

The observation lists the tools as Qwen2.5's template does (JSON function specs inside
``<tools></tools>``) and asks the question. Each action either calls tools, one or more
``<tool_call>{"name": ..., "arguments": {...}}</tool_call>`` blocks (run in order; each result comes
back in a ``<tool_response>`` block), or answers with ``<answer>...</answer>``, which ends the
episode with reward ``f1`` (token-set F1 against the gold answer, as MatchTIR scores the answer
turn) or ``em`` (1 for an exact match after the same normalisation). Reasoning around the blocks
(``<think>...</think>``) is allowed.

Invalid (``invalid_penalty``, costs a turn, nothing runs): no block at all, both calls and an
answer, a ``<tool_call>`` block that is not a JSON object with a known ``name`` and ``arguments``
that satisfy the tool's schema, an unclosed block, more than ``max_calls_per_turn`` calls. A valid
call that fails at run time (unknown key, impossible date) is answered ``Error: ...``.

Info keys, shaped for :func:`turngym.algos.matchtir.turn_rewards` (``train.algo_inputs`` builds
its input from them): ``tool_calls`` (``[{"name", "arguments", "result"}]``) on every call turn,
``answer`` on the answer turn, and on every step ``gold_tool_calls`` (the task's gold trace) and
``ground_truth`` (the gold answer). ``score`` is the answer's F1. ``anchor`` is the question plus
the set of calls made so far. With ``expert=True``, ``expert_action`` is the next gold call not yet
made, then the answer.
"""

from __future__ import annotations

import json
import re
import string
from typing import Any

from turngym.envs.base import InvalidAction, StepResult, TextEnv, check_choice
from turngym.envs.toolcall.tasks import (
    SPLITS,
    ToolTask,
    load_task,
    split_task_ids,
    task_ids,
)
from turngym.envs.toolcall.tools import (
    TOOL_NAMES,
    TOOL_SPECS,
    ToolError,
    run_tool,
    validators,
)

REWARDS = ("f1", "em")
TOOL_LISTINGS = ("json", "names")
_CALL = re.compile(r"<tool_call>(.*?)</tool_call>", re.DOTALL)
_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
_PUNCT = str.maketrans({c: " " for c in string.punctuation})
USAGE = ('Call a tool with <tool_call>{"name": <tool name>, "arguments": <JSON object>}</tool_call> '
         "(several blocks run in order), or give the final answer as <answer>...</answer>.")


def _tokens(text: str) -> set[str]:
    return set(text.lower().translate(_PUNCT).split())


def answer_f1(pred: str, gold: str) -> float:
    """Token-set F1 with MatchTIR's normalisation (lower case, ASCII punctuation to spaces)."""
    p, g = _tokens(pred), _tokens(gold)
    common = len(p & g)
    if common == 0:
        return 0.0
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


def format_call(name: str, arguments: dict[str, Any]) -> str:
    """A call as the Qwen2.5 template writes it."""
    return f"<tool_call>\n{json.dumps({'name': name, 'arguments': arguments})}\n</tool_call>"


def parse_calls(action: str, max_calls: int) -> list[tuple[str, dict[str, Any]]]:
    """Validated ``(name, arguments)`` of every block, or ``InvalidAction`` naming the first problem."""
    if action.count("<tool_call>") != action.count("</tool_call>"):
        raise InvalidAction(f"Invalid action: an unclosed <tool_call> block. {USAGE}")
    blocks = _CALL.findall(action)
    if len(blocks) > max_calls:
        raise InvalidAction(f"Invalid action: {len(blocks)} tool calls in one turn (at most {max_calls}).")
    checks = validators()
    calls = []
    for i, raw in enumerate(blocks, 1):
        try:
            obj = json.loads(raw)
        except (json.JSONDecodeError, RecursionError):
            raise InvalidAction(f"Invalid tool call {i}: not valid JSON. {USAGE}") from None
        if not isinstance(obj, dict) or set(obj) - {"name", "arguments"} or not isinstance(obj.get("name"), str):
            raise InvalidAction(f'Invalid tool call {i}: expected an object with "name" and "arguments". {USAGE}')
        name, args = obj["name"], obj.get("arguments", {})
        if isinstance(args, str):  # some chat templates emit the arguments as a JSON string
            try:
                args = json.loads(args)
            except (json.JSONDecodeError, RecursionError):
                raise InvalidAction(f"Invalid tool call {i}: arguments are not a JSON object.") from None
        if name not in checks:
            raise InvalidAction(f"Invalid tool call {i}: unknown tool {name[:40]!r}; the tools are {', '.join(TOOL_NAMES)}.")
        problem = checks[name](args)
        if problem is not None:
            raise InvalidAction(f"Invalid tool call {i} to {name}: {problem}")
        calls.append((name, args))
    return calls


def _key(name: str, arguments: dict[str, Any]) -> str:
    return json.dumps({"name": name, "arguments": arguments}, sort_keys=True)


#: The two tool listings, rendered once (the JSON one is ~2 KB of specs).
_LISTINGS = {
    "json": "You may call one or more functions to answer the question.\n<tools>\n"
            + "\n".join(json.dumps(s) for s in TOOL_SPECS) + "\n</tools>",
    "names": "Tools: " + ", ".join(TOOL_NAMES) + ".",
}


class ToolCallEnv(TextEnv):
    """Multi-step questions over a database with calculator, unit, and date tools; gold call traces."""

    default_max_turns = 8
    task_version = "1"

    def __init__(
        self,
        *,
        split: str = "train",
        reward: str = "f1",
        tool_listing: str = "json",
        max_calls_per_turn: int = 4,
        max_turns: int | None = None,
        expert: bool = False,
        invalid_penalty: float = 0.1,
        render_mode: str | None = None,
    ) -> None:
        super().__init__(max_turns=max_turns, expert=expert, invalid_penalty=invalid_penalty, render_mode=render_mode)
        check_choice("split", split, SPLITS)
        check_choice("reward", reward, REWARDS)
        check_choice("tool_listing", tool_listing, TOOL_LISTINGS)
        if not 1 <= int(max_calls_per_turn) <= 32:
            raise ValueError(f"max_calls_per_turn must be in 1..32, got {max_calls_per_turn!r}")
        validators()  # a clear error now when jsonschema is missing
        self.split, self.reward_mode, self.tool_listing = split, reward, tool_listing
        self.max_calls_per_turn = int(max_calls_per_turn)
        self.task: ToolTask | None = None
        self.made: list[str] = []
        self._gold_keys: list[str] = []

    def task_ids(self, split: str | None = None) -> list[str]:
        return task_ids(split or self.split)

    def _reset(self, options: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        task_id = options.get("task_id")
        if task_id is None:
            task_id = self.rng_choice(split_task_ids(options.get("split", self.split)))
        self.task = load_task(task_id)
        self.task_id = task_id
        self.made = []
        self._gold_keys = [_key(c["name"], c["arguments"]) for c in self.task.gold_calls]
        return f"{_LISTINGS[self.tool_listing]}\n{USAGE}\n\nQuestion: {self.task.question}", {}

    def task_info(self) -> dict[str, Any]:
        if self.task is None:
            return {}
        return {"ground_truth": self.task.answer, "gold_tool_calls": [dict(c) for c in self.task.gold_calls]}

    def anchor(self, observation: str) -> str:
        """Same question and same set of calls made (in any order) = same state."""
        return "\n".join([self.task.question if self.task else "", *sorted(set(self.made))])

    def expert_action(self) -> str | None:
        if self.task is None:
            return None
        remaining = list(self.made)
        for call, key in zip(self.task.gold_calls, self._gold_keys):
            if key in remaining:
                remaining.remove(key)
            else:
                return format_call(call["name"], dict(call["arguments"]))
        return f"<answer>{self.task.answer}</answer>"

    def _step(self, action: str) -> StepResult:
        answers = _ANSWER.findall(action)
        calls = parse_calls(action, self.max_calls_per_turn)
        if answers and calls:
            raise InvalidAction("Invalid action: call tools or answer, not both in one turn.")
        if answers:
            if len(answers) > 1:
                raise InvalidAction("Invalid action: more than one <answer> block.")
            answer = answers[0].strip()
            if not answer:
                raise InvalidAction("Invalid action: the <answer> block is empty.")
            f1 = answer_f1(answer, self.task.answer)
            exact = _tokens(answer) == _tokens(self.task.answer)
            reward = f1 if self.reward_mode == "f1" else float(exact)
            obs = "Correct." if exact else f"The episode is over. The answer was {self.task.answer}."
            return StepResult(obs, reward=reward, terminated=True, won=exact, info={"answer": answer, "score": f1})
        if not calls:
            raise InvalidAction(f"Invalid action: no tool call and no answer. {USAGE}")
        records, responses = [], []
        for name, args in calls:
            try:
                result = run_tool(name, args, self.task.db)
            except ToolError as exc:
                result = f"Error: {exc}"
            records.append({"name": name, "arguments": args, "result": result})
            responses.append(f"<tool_response>\n{result}\n</tool_response>")
            self.made.append(_key(name, args))
        return StepResult("\n".join(responses), info={"tool_calls": records})
