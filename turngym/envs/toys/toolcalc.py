"""ToolCalc: a multiple-choice arithmetic word problem with a calculator tool.

A single-answer task with a tool-like turn: the agent may call ``calculate[<expression>]`` (the env
evaluates it and shows the result, like a tool call) and ends the episode with ``answer[<number>]``.
Reward ``win_reward`` for the right answer. ``info["ground_truth"]`` carries the answer (algorithms
such as A²TGPO's information gain need it) and ``info["tool_calls"]`` the parsed calculator call.

The calculator evaluates only numbers, + - * / // % and parentheses through ``ast`` (no ``eval``),
with bounds on size so that garbage input cannot make it slow.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from typing import Any

from turngym.envs.base import InvalidAction, StepResult, TextEnv, seeded_rng, check_choice

_ACTION_RE = re.compile(r"^\s*(calculate|answer)\s*\[(.*)\]\s*$", re.IGNORECASE | re.DOTALL)
_ANSWER_RE = re.compile(r"answer\s*\[([^\[\]]*)\]", re.IGNORECASE)
_BINOPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}
_MAX_EXPR = 200
_MAX_ABS = 10**12

# (template, expression over a/b/c, distractor expressions)
_TEMPLATES: list[tuple[str, str, tuple[str, ...]]] = [
    ("A crate holds {a} boxes with {b} apples each, and {c} loose apples lie beside it. How many apples are there?",
     "{a}*{b}+{c}", ("{a}*{b}", "{a}+{b}+{c}", "{a}*{b}-{c}")),
    ("A train has {a} cars with {b} seats each; {c} seats are taken. How many seats are free?",
     "{a}*{b}-{c}", ("{a}*{b}", "{a}*{b}+{c}", "{a}+{b}-{c}")),
    ("{a} friends share {b} bags of {c} marbles equally. How many marbles does each friend get (rounded down)?",
     "{b}*{c}//{a}", ("{b}*{c}", "{b}+{c}", "{b}*{c}//{a}+1")),
    ("A shop sells {a} pens on Monday and {b} times as many on Tuesday, minus {c} returned. How many pens were sold in total?",
     "{a}+{a}*{b}-{c}", ("{a}*{b}", "{a}+{a}*{b}", "{a}+{b}-{c}")),
    ("A farmer plants {a} rows of {b} trees and {c} rows of {a} trees. How many trees are planted?",
     "{a}*{b}+{c}*{a}", ("{a}*{b}", "{a}*{b}*{c}", "{a}+{b}+{c}")),
]
SPLITS = ("train", "test")
_TASKS_PER_SPLIT = {"train": 5000, "test": 500}


def safe_eval(expression: str) -> int | float:
    """Evaluate arithmetic; raise ``ValueError`` with a message fit for the agent."""
    if len(expression) > _MAX_EXPR:
        raise ValueError(f"expression longer than {_MAX_EXPR} characters")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except (SyntaxError, ValueError):
        raise ValueError("not an arithmetic expression") from None

    def bounded(value: int | float) -> int | float:
        # Every value, literals included: a bare 200-digit number is as far out of range as a product.
        if not math.isfinite(value) or abs(value) > _MAX_ABS:
            raise ValueError("number too large")
        return value

    def ev(node: ast.AST) -> int | float:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            return bounded(node.value)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            v = ev(node.operand)
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            left, right = ev(node.left), ev(node.right)
            try:
                value = _BINOPS[type(node.op)](left, right)
            except ZeroDivisionError:
                raise ValueError("division by zero") from None
            except OverflowError:
                raise ValueError("number too large") from None
            return bounded(value)
        raise ValueError("only numbers, + - * / // % and parentheses are allowed")

    return ev(tree)


def _fmt(value: int | float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.6g}"


class ToolCalcEnv(TextEnv):
    """Multiple-choice arithmetic word problem with a calculator tool (single answer, oracle)."""

    default_max_turns = 4
    task_version = "1"

    def __init__(
        self,
        *,
        split: str = "train",
        win_reward: float = 1.0,
        max_turns: int | None = None,
        expert: bool = False,
        invalid_penalty: float = 0.0,
        render_mode: str | None = None,
    ) -> None:
        super().__init__(max_turns=max_turns, expert=expert, invalid_penalty=invalid_penalty, render_mode=render_mode)
        check_choice("split", split, SPLITS)
        self.split = split
        self.win_reward = float(win_reward)
        self.question = self.expression = ""
        self.answer = 0
        self.choices: list[str] = []
        self.calculated = False
        self._last_result: str | None = None

    def task_ids(self, split: str | None = None) -> list[str]:
        split = split or self.split
        return [f"toolcalc-v{self.task_version}-{split}-{i}" for i in range(_TASKS_PER_SPLIT[split])]

    def _build_task(self, task_id: str) -> None:
        try:
            _, _, split, index = task_id.split("-")
            i = int(index)
            if split not in SPLITS or not 0 <= i < _TASKS_PER_SPLIT[split]:
                raise ValueError
        except ValueError:
            raise ValueError(f"malformed ToolCalc task id {task_id!r} (expected toolcalc-v1-<split>-<index>)") from None
        rng = seeded_rng("toolcalc", self.task_version, split, i)
        template, expr, distractors = _TEMPLATES[int(rng.integers(len(_TEMPLATES)))]
        values = {"a": int(rng.integers(3, 30)), "b": int(rng.integers(3, 30)), "c": int(rng.integers(2, 20))}
        self.question = template.format(**values)
        self.expression = expr.format(**values)
        self.answer = safe_eval(self.expression)
        options = {_fmt(self.answer)}
        for d in distractors:
            options.add(_fmt(safe_eval(d.format(**values))))
        bump = 1
        while len(options) < 4:  # distractors may coincide with the answer for small numbers
            options.add(_fmt(self.answer + bump))
            bump += 1
        self.choices = sorted(options, key=lambda s: float(s))
        self.task_id = task_id

    def _reset(self, options: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        task_id = options.get("task_id")
        if task_id is None:
            split = options.get("split", self.split)
            check_choice("split", split, SPLITS)
            task_id = self.rng_choice(self.task_ids(split))
        self._build_task(task_id)
        self.calculated = False
        self._last_result: str | None = None
        obs = (
            f"Question: {self.question}\nChoices: {', '.join(self.choices)}\n"
            "Use calculate[expression] to compute, then answer[number]."
        )
        return obs, {"task": self.question, "question": f"{self.question} Choices: {', '.join(self.choices)}."}

    def task_info(self) -> dict[str, Any]:
        return {"ground_truth": _fmt(self.answer), "gold_tool_calls": self.gold_tool_calls()}

    def anchor(self, observation: str) -> str:
        """The state is the question and what the calculator has shown, not the last message."""
        return f"{self.question}\n{self._last_result or 'no calculation yet'}"

    def admissible_actions(self) -> list[str]:
        return [f"calculate[{self.expression}]"] + [f"answer[{c}]" for c in self.choices]

    def gold_tool_calls(self) -> list[dict[str, Any]]:
        """The reference solution's calls (MatchTIR matches the agent's calls against them)."""
        return [{"name": "calculate", "arguments": {"expression": self.expression}}]

    def expert_action(self) -> str:
        return f"answer[{_fmt(self.answer)}]" if self.calculated else f"calculate[{self.expression}]"

    # -- CheckableAnswer (turngym.envs.answers): grading a free-text answer, e.g. in a discussion ----
    def answer_spec(self) -> str:
        return "End your message with answer[number], for example answer[42]."

    def answer_key(self, text: str) -> str | None:
        """The number of the last ``answer[...]`` in ``text`` that parses, normalised (``7.0`` → ``7``)."""
        for raw in reversed(_ANSWER_RE.findall(TextEnv.coerce_action(text))):
            try:
                value = float(raw.strip().replace(",", ""))
            except ValueError:
                continue
            if math.isfinite(value) and abs(value) <= _MAX_ABS:
                return _fmt(value)
        return None

    def check_answer(self, text: str) -> float:
        key = self.answer_key(text)
        return float(key is not None and abs(float(key) - float(self.answer)) < 1e-9)

    def _step(self, action: str) -> StepResult:
        match = _ACTION_RE.match(action)
        if not match:
            raise InvalidAction("Invalid action. Use calculate[expression] or answer[number].")
        verb, arg = match.group(1).lower(), match.group(2).strip()
        extra: dict[str, Any] = {}
        if verb == "calculate":
            try:
                value = safe_eval(arg)
            except ValueError as exc:
                raise InvalidAction(f"Calculator error: {exc}.") from None
            self.calculated = True
            self._last_result = f"Result: {_fmt(value)}"
            extra["tool_calls"] = [{"name": "calculate", "arguments": {"expression": arg}, "result": _fmt(value)}]
            return StepResult(f"Result: {_fmt(value)}", info=extra)
        try:
            given = float(arg.replace(",", ""))
        except ValueError:
            raise InvalidAction(f"answer[...] needs a number, got {arg[:40]!r}.") from None
        correct = abs(given - float(self.answer)) < 1e-9
        extra["answer"] = arg
        obs = "Correct!" if correct else f"Wrong. The answer was {_fmt(self.answer)}."
        return StepResult(obs, reward=self.win_reward if correct else 0.0, terminated=True, won=correct, info=extra)
