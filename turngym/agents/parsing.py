"""Projections: turn a model response into the action text sent to the env.

Each projection is a small frozen dataclass (its fields are its configuration, so it can be built
from a YAML dict through ``make_projection(name, **options)``) that maps a response to
``Projected(action, parsed, extras)``. An unparsable response gives ``parsed=False`` and the raw
text as the action: the env answers "invalid" (and applies its penalty), the rollout goes on, and
no response can raise. ``stop`` lists the stop strings the projection's format ends with; the agent
uses them when its sampling parameters name none.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

_CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass(frozen=True)
class Projected:
    action: str
    parsed: bool
    extras: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Projection(Protocol):
    name: ClassVar[str]
    #: One line telling the model the expected reply format (used by the prompt templates).
    instructions: str
    stop: tuple[str, ...]

    def __call__(self, response: str) -> Projected: ...


def _blocks(tag: str, text: str) -> list[str]:
    return re.findall(rf"<{tag}>(.*?)</{tag}>", text, flags=re.DOTALL)


@dataclass(frozen=True)
class PlainAction:
    """The first non-empty line is the action (tiny models, ``go north`` style envs)."""

    name: ClassVar[str] = "plain"
    instructions: str = "Reply with exactly one action on a single line."
    stop: tuple[str, ...] = ("\n",)
    lowercase: bool = False

    def __call__(self, response: str) -> Projected:
        for line in response.splitlines():
            if line.strip():
                action = line.strip()
                return Projected(action.lower() if self.lowercase else action, True)
        return Projected(response.strip(), False, {"reason": "empty response"})


@dataclass(frozen=True)
class ThinkAction:
    """verl-agent's format: ``<think>…</think><action>…</action>``.

    Valid when there is exactly one action block, a think block if ``require_think``, and (as
    verl-agent's ALFWorld projection) no CJK characters if ``reject_cjk``. The action is the text
    inside the action tags, stripped (lower-cased if ``lowercase``, as verl-agent does).
    """

    name: ClassVar[str] = "think_action"
    require_think: bool = True
    reject_cjk: bool = True
    lowercase: bool = True
    instructions: str = (
        "First reason step by step inside <think> </think> tags, then give exactly one action "
        "inside <action> </action> tags."
    )
    stop: tuple[str, ...] = ("</action>",)

    def __call__(self, response: str) -> Projected:
        actions = _blocks("action", response)
        reason = None
        if len(actions) != 1:
            reason = f"expected exactly one <action> block, found {len(actions)}"
        elif self.require_think and not _blocks("think", response):
            reason = "missing <think> block"
        elif self.reject_cjk and _CJK.search(response):
            reason = "response contains CJK characters"
        if reason is not None:
            return Projected(response.strip(), False, {"reason": reason})
        action = actions[0].strip()
        if not action:
            return Projected(response.strip(), False, {"reason": "empty action"})
        return Projected(action.lower() if self.lowercase else action, True)


@dataclass(frozen=True)
class SearchAnswer:
    """Search-R1's format: the first ``<search>q</search>`` or ``<answer>a</answer>`` block.

    The action keeps its tags (``<search>q</search>``) so that the env knows which one it got;
    ``extras`` carries ``kind`` and ``content``. With ``keep_response`` the action is the response
    up to the end of that block, reasoning included (what Search-R1 hands its env, and what a
    format-shaped reward has to see).
    """

    name: ClassVar[str] = "search_answer"
    instructions: str = (
        "Reason inside <think> </think>. To look something up write <search> query </search>; "
        "when you know the answer write <answer> answer </answer>."
    )
    stop: tuple[str, ...] = ("</search>", "</answer>")
    keep_response: bool = False

    def __call__(self, response: str) -> Projected:
        match = re.search(r"<(search|answer)>(.*?)</\1>", response, flags=re.DOTALL)
        if not match:
            return Projected(response.strip(), False, {"reason": "no <search> or <answer> block"})
        kind, content = match.group(1), match.group(2).strip()
        if not content:
            return Projected(response.strip(), False, {"reason": f"empty <{kind}> block"})
        action = response[: match.end()].strip() if self.keep_response else f"<{kind}>{content}</{kind}>"
        return Projected(action, True, {"kind": kind, "content": content})


@dataclass(frozen=True)
class PythonBlock:
    """Tool-integrated reasoning: the last complete fenced ```python block is the code to run."""

    name: ClassVar[str] = "python_block"
    instructions: str = "When computation helps, write Python code in a ```python ... ``` block."
    stop: tuple[str, ...] = ("```output",)
    #: A response without code is a final answer (parsed) rather than an invalid action.
    allow_no_code: bool = True

    def __call__(self, response: str) -> Projected:
        blocks = re.findall(r"```python[ \t]*\n(.*?)```", response, flags=re.DOTALL)
        if blocks:
            code = blocks[-1].rstrip()
            if not code.strip():
                return Projected(response.strip(), False, {"reason": "empty ```python block"})
            return Projected(code, True, {"kind": "code", "code": code})
        if self.allow_no_code:
            return Projected(response.strip(), bool(response.strip()), {"kind": "answer"})
        return Projected(response.strip(), False, {"reason": "no ```python block"})


@dataclass(frozen=True)
class ToolIntegrated:
    """START/ToRL-style responses for envs that read the whole response (``MathTool-v0``).

    The action is the response up to the end of its last complete code block (```` ```python ````
    fences, or ReTool's ``<code>`` tags with ``tags="retool"``), so text the model wrote after its
    code (an imagined output) never reaches the env; a response without code is kept whole (the
    env grades its ``\\boxed{}`` answer). An empty response is the only unparsed one.
    """

    name: ClassVar[str] = "tir"
    instructions: str = "Write Python code in a ```python ... ``` block when it helps; put the final answer in \\boxed{}."
    #: Generation stops where a code block closes (``</code>`` for ReTool tags), so the env's
    #: ```` ```output ```` reply follows the code directly in a concatenated transcript.
    stop: tuple[str, ...] = ("```\n",)
    tags: str = "markdown"

    def __post_init__(self) -> None:
        if self.tags not in ("markdown", "retool"):
            raise ValueError(f"tags must be 'markdown' or 'retool', got {self.tags!r}")
        if self.tags == "retool" and self.stop == ("```\n",):
            object.__setattr__(self, "stop", ("</code>",))

    def __call__(self, response: str) -> Projected:
        pattern = r"```python(?:[ \t]*\n|[ \t]+).*?```" if self.tags == "markdown" else r"<code>.*?</code>"
        ends = [m.end() for m in re.finditer(pattern, response, flags=re.DOTALL)]
        if ends:
            return Projected(response[: ends[-1]], True, {"kind": "code"})
        if not response.strip():
            return Projected("", False, {"reason": "empty response"})
        return Projected(response, True, {"kind": "answer"})


@dataclass(frozen=True)
class ToolCallJSON:
    """Qwen-style tool calls: ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>`` blocks.

    Every block must be a JSON object with a string ``name`` and object ``arguments`` (a JSON
    string holding an object is accepted too); one malformed block makes the turn invalid. A reply
    without any block is a plain answer unless ``require_call``. The action is the raw response
    (the env reads the calls from it or from ``extras["tool_calls"]``).
    """

    name: ClassVar[str] = "tool_call"
    instructions: str = (
        'To call a tool write <tool_call>{"name": <tool name>, "arguments": <json object>}</tool_call>; '
        "otherwise reply with your answer."
    )
    stop: tuple[str, ...] = ()
    require_call: bool = False

    def __call__(self, response: str) -> Projected:
        raw_calls = _blocks("tool_call", response)
        text = response.strip()
        if not raw_calls:
            if self.require_call:
                return Projected(text, False, {"reason": "no <tool_call> block", "tool_calls": []})
            return Projected(text, bool(text), {"tool_calls": []})
        calls = []
        for raw in raw_calls:
            call = _parse_call(raw)
            if call is None:
                return Projected(text, False, {"reason": f"malformed tool call: {raw.strip()[:80]!r}", "tool_calls": calls})
            calls.append(call)
        return Projected(text, True, {"tool_calls": calls})


def _parse_call(raw: str) -> dict[str, Any] | None:
    try:
        obj = json.loads(raw)
    except (json.JSONDecodeError, RecursionError):
        return None
    if not isinstance(obj, dict) or not isinstance(obj.get("name"), str) or not obj["name"]:
        return None
    args = obj.get("arguments", {})
    if isinstance(args, str):
        try:
            args = json.loads(args)
        except (json.JSONDecodeError, RecursionError):
            return None
    if not isinstance(args, dict):
        return None
    return {"name": obj["name"], "arguments": args}


PROJECTIONS: dict[str, type] = {
    cls.name: cls for cls in (PlainAction, ThinkAction, SearchAnswer, PythonBlock, ToolCallJSON, ToolIntegrated)
}


def make_projection(spec: str | dict[str, Any] | Projection, **options: Any) -> Projection:
    """Build a projection from a name plus options, a ``{"name": ..., **options}`` dict, or pass one through."""
    if isinstance(spec, dict):
        options = {**{k: v for k, v in spec.items() if k != "name"}, **options}
        spec = spec.get("name", "")
    if not isinstance(spec, str):
        if not callable(spec):
            raise TypeError(f"a projection is a name, a dict or a callable, got {type(spec).__name__}")
        return spec
    if spec not in PROJECTIONS:
        raise ValueError(f"unknown projection {spec!r}; choose one of {', '.join(PROJECTIONS)}")
    if "stop" in options:
        options["stop"] = tuple(options["stop"])
    return PROJECTIONS[spec](**options)
