"""Agents for multi-agent discussions: a router to one policy per agent id, and scripted discussants.

``AgentRouter`` sends each waiting episode to the agent registered for ``info["agent"]`` (the env
names who must speak), so a discussion can mix policies: several LLM backends, an LLM against
scripted opponents, ... Each sub-agent gets its whole share of the batch in one call.

``ScriptedDiscussant`` plays fixed behaviours per agent id, for tests and demos of
``Discussion-v0``; it reads the ground truth and the earlier messages' verified scores from the
env's info (so it can be right or wrong on purpose), never the env object:

- ``correct``: the right answer; as a critic, the right verdict; as the CEO, the right decision;
- ``wrong``: a wrong answer (``wrong_answer(truth)``); the wrong verdict / decision;
- ``persuadable``: wrong in round 0, then the majority answer of the other agents' previous
  messages (ties: the lowest-numbered agent's); as a critic it always agrees, as the CEO it stops;
- ``garbage``: text with no answer, verdict or decision at all (malformed on purpose).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from turngym.agents.base import Agent, AgentAction, AgentInput

BEHAVIOURS = ("correct", "wrong", "persuadable", "garbage")


class AgentRouter:
    """One agent per agent id (``info["agent"]``); ``default`` plays ids not listed."""

    def __init__(self, agents: Mapping[str, Agent], default: Agent | None = None) -> None:
        if not agents and default is None:
            raise ValueError("AgentRouter needs at least one agent")
        self.agents = dict(agents)
        self.default = default
        members = [*self.agents.values(), *([default] if default is not None else [])]
        self.env_requirements: dict[str, Any] = {}
        for a in members:
            self.env_requirements.update(getattr(a, "env_requirements", {}) or {})
        layouts = {getattr(a, "layout", "step") for a in members}
        if len(layouts) > 1:
            raise ValueError(f"all routed agents must use one history layout, got {sorted(layouts)}")
        self.layout = layouts.pop()

    # LLM-agent surface, so a trainer can treat the router as its rollout agent: sampling seeds
    # go to every routed agent, prompts and teacher forcing (BC) to the agent of the item.
    @property
    def sampling(self) -> Any:
        first = next((a for a in self._members() if hasattr(a, "sampling")), None)
        if first is None:
            raise AttributeError("no routed agent samples")
        return first.sampling

    @sampling.setter
    def sampling(self, value: Any) -> None:
        for a in self._members():
            if hasattr(a, "sampling"):
                a.sampling = dataclasses.replace(a.sampling, seed=value.seed)

    @property
    def tokenizer(self) -> Any:
        return next((a.tokenizer for a in self._members() if getattr(a, "tokenizer", None) is not None), None)

    def prepare(self, item: AgentInput) -> Any:
        return self.agent_for(item.info.get("agent")).prepare(item)  # type: ignore[attr-defined]

    def _members(self) -> list[Agent]:
        return [*([self.default] if self.default is not None else []), *self.agents.values()]

    def agent_for(self, agent_id: str | None) -> Agent:
        agent = self.agents.get(agent_id or "", self.default)
        if agent is None:
            raise KeyError(f"no agent for agent id {agent_id!r} (routed: {sorted(self.agents)})")
        return agent

    def act(self, inputs: list[AgentInput]) -> list[AgentAction]:
        out: list[AgentAction | None] = [None] * len(inputs)
        groups: dict[int, tuple[Agent, list[int]]] = {}
        for i, item in enumerate(inputs):
            agent = self.agent_for(item.info.get("agent"))
            groups.setdefault(id(agent), (agent, []))[1].append(i)
        for agent, rows in groups.values():
            actions = agent.act([inputs[i] for i in rows])
            if len(actions) != len(rows):
                raise RuntimeError(f"{type(agent).__name__} returned {len(actions)} actions for {len(rows)} inputs")
            for i, act in zip(rows, actions):
                out[i] = act
        return [a for a in out if a is not None]


def default_wrong(truth: str) -> str:
    """A wrong answer: the number plus one, or a fixed non-answer word for text answers."""
    try:
        value = float(truth)
    except ValueError:
        return "nobody"
    return str(int(value) + 1) if value.is_integer() else str(value + 1)


class ScriptedDiscussant:
    """Fixed behaviours per agent id (see the module docstring)."""

    env_requirements: ClassVar[dict[str, Any]] = {}

    def __init__(
        self,
        behaviours: Mapping[str, str],
        *,
        fmt: Callable[[str], str] = lambda answer: f"answer[{answer}]",
        wrong_answer: Callable[[str], str] = default_wrong,
        default: str = "correct",
    ) -> None:
        for name, b in {**behaviours, "<default>": default}.items():
            if b not in BEHAVIOURS:
                raise ValueError(f"behaviour of {name!r} must be one of {BEHAVIOURS}, got {b!r}")
        self.behaviours = dict(behaviours)
        self.default = default
        self.fmt = fmt
        self.wrong_answer = wrong_answer

    def act(self, inputs: list[AgentInput]) -> list[AgentAction]:
        return [AgentAction(action=self._message(item)) for item in inputs]

    def _message(self, item: AgentInput) -> str:
        agent = str(item.info.get("agent") or "")
        round_ = int(item.info.get("round") or 0)
        behaviour = self.behaviours.get(agent, self.default)
        truth = str(item.info.get("ground_truth", ""))
        if behaviour == "garbage":
            return "%% no idea ~~"
        turns = item.episode.turns
        if agent.startswith("critic") or agent == "ceo":
            solver = next((t for t in reversed(turns) if t.agent == "solver"), None)
            right = solver is not None and float(solver.info.get("verified", 0.0)) >= 0.5
            agree = {"correct": right, "wrong": not right, "persuadable": True}[behaviour]
            if agent == "ceo":
                return "Accept. [Stop]" if agree else "Another round. [Continue]"
            return "Looks right. [Agree]" if agree else "This is wrong. [Disagree]"
        if behaviour == "correct":
            return f"I am confident. {self.fmt(truth)}"
        if behaviour == "wrong" or round_ == 0:
            return f"My answer: {self.fmt(self.wrong_answer(truth))}"
        # persuadable, round > 0: follow the majority of the others' previous-round answers
        votes: dict[str, int] = {}
        first: dict[str, int] = {}
        for t in turns:
            key = t.info.get("answer_key")
            if t.agent != agent and t.agent and int(t.info.get("speaker_round", -1)) == round_ - 1 and key is not None:
                votes[key] = votes.get(key, 0) + 1
                first.setdefault(key, _agent_number(t.agent))
        if not votes:
            return f"My answer: {self.fmt(self.wrong_answer(truth))}"
        best = max(votes.values())
        key = min((k for k, c in votes.items() if c == best), key=first.__getitem__)
        return f"You convinced me. {self.fmt(key)}"


def _agent_number(agent: str) -> int:
    digits = "".join(ch for ch in agent if ch.isdigit())
    return int(digits) if digits else 0
