"""Prompt templates for ALFWorld policies, as plain strings and functions (no agent code here).

Two setups are common in the agentic-RL literature:

- **verl-agent style** (GiGPO, and papers built on verl-agent): each turn is its own sample; the
  prompt holds the task, the last K (observation, action) pairs, the current observation and the
  admissible actions, and asks for reasoning in ``<think>...</think>`` then the command in
  ``<action>...</action>``. The first turn has no history section. ``help`` is left out of the
  admissible list, as verl-agent does.
- **ReAct** (Yao et al.): free ``Thought:`` lines then one ``Action: <command>`` line.

:func:`parse_action` extracts the command from either format; the env decides whether it is
admissible.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_TASK_RE = re.compile(r"Your task is to:\s*(.*?)\s*$", re.MULTILINE)
_WELCOME = "-= Welcome to TextWorld, ALFRED! =-"

VERL_AGENT_FIRST_TURN = """\
You are an expert agent operating in the ALFRED Embodied Environment. Your task is to: {task}
Your current observation is: {observation}
Your admissible actions of the current situation are: [{admissible}].

Now it's your turn to take an action.
You should first reason step-by-step about the current situation. This reasoning process MUST be enclosed within <think> </think> tags.
Once you've finished your reasoning, you should choose an admissible action for current step and present it within <action> </action> tags."""

VERL_AGENT_TURN = """\
You are an expert agent operating in the ALFRED Embodied Environment. Your task is to: {task}
Prior to this step, you have already taken {step_count} step(s). Below are the most recent {history_length} observations and the corresponding actions you took: {history}
You are now at step {current_step} and your current observation is: {observation}
Your admissible actions of the current situation are: [{admissible}].

Now it's your turn to take an action.
You should first reason step-by-step about the current situation. This reasoning process MUST be enclosed within <think> </think> tags.
Once you've finished your reasoning, you should choose an admissible action for current step and present it within <action> </action> tags."""

REACT_TEMPLATE = """\
Interact with a household to solve a task. Your task is to: {task}
{history}Observation: {observation}
Admissible actions: {admissible}

Think about what to do in one or more lines starting with "Thought:", then give exactly one line "Action: <command>" with a command from the admissible actions."""


def task_description(observation: str) -> str:
    """The task sentence of an ALFWorld reset observation (``Your task is to: X.`` → ``X.``)."""
    match = _TASK_RE.search(observation)
    return match.group(1) if match else ""


def room_description(observation: str) -> str:
    """A reset observation without the welcome banner and the task line: what the agent sees."""
    text = observation.replace(_WELCOME, "")
    text = _TASK_RE.sub("", text)
    return text.strip()


def format_admissible(actions: Sequence[str], *, drop_help: bool = True) -> str:
    kept = [a for a in actions if not (drop_help and a == "help")]
    return ",\n ".join(f"'{a}'" for a in kept)


def format_history(history: Sequence[tuple[str, str]], *, start_step: int = 1) -> str:
    """``[Observation i: '...', Action i: '...']`` lines, numbered from ``start_step``."""
    return "\n".join(
        f"[Observation {start_step + i}: '{obs}', Action {start_step + i}: '{act}']" for i, (obs, act) in enumerate(history)
    )


def verl_agent_prompt(
    task: str,
    observation: str,
    admissible_actions: Sequence[str],
    history: Sequence[tuple[str, str]] = (),
    *,
    history_length: int = 2,
) -> str:
    """One step-row prompt: ``history`` is every (observation, action) pair so far, oldest first.

    Only the last ``history_length`` pairs are shown; the step counter counts all of them.
    """
    admissible = format_admissible(admissible_actions)
    if not history or history_length <= 0:
        return VERL_AGENT_FIRST_TURN.format(task=task, observation=observation, admissible=admissible)
    recent = list(history)[-history_length:]
    return VERL_AGENT_TURN.format(
        task=task,
        step_count=len(history),
        history_length=len(recent),
        history=format_history(recent, start_step=len(history) - len(recent) + 1),
        current_step=len(history) + 1,
        observation=observation,
        admissible=admissible,
    )


def react_prompt(
    task: str,
    observation: str,
    admissible_actions: Sequence[str],
    history: Sequence[tuple[str, str]] = (),
    *,
    history_length: int = 8,
) -> str:
    recent = list(history)[-history_length:] if history_length > 0 else []
    lines = "".join(f"Observation: {obs}\nAction: {act}\n" for obs, act in recent)
    admissible = ", ".join(a for a in admissible_actions if a != "help")
    return REACT_TEMPLATE.format(task=task, history=lines, observation=observation, admissible=admissible)


_ACTION_TAG = re.compile(r"<action>(.*?)</action>", re.DOTALL | re.IGNORECASE)
_THINK_TAG = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_REACT_ACTION = re.compile(r"^\s*Action:\s*(.+?)\s*$", re.MULTILINE | re.IGNORECASE)


def parse_action(text: str, *, style: str = "verl_agent") -> tuple[str, bool]:
    """(command, well_formed). verl-agent: the last ``<action>`` block, well-formed only with a
    ``<think>`` block and exactly one ``<action>``; ReAct: the last ``Action:`` line."""
    if style == "verl_agent":
        actions = _ACTION_TAG.findall(text)
        if not actions:
            return "", False
        return actions[-1].strip(), bool(_THINK_TAG.search(text)) and len(actions) == 1
    if style == "react":
        actions = _REACT_ACTION.findall(text)
        return (actions[-1].strip(), True) if actions else ("", False)
    raise ValueError(f"unknown prompt style {style!r}; use 'verl_agent' or 'react'")
