"""verl-agent's WebShop prompt (GiGPO's setup), as plain strings and functions (no agent code).

verl-agent shows the observation after the instruction, each ``[SEP]`` part quoted
(``'Back to Search' [SEP] 'Page 1 (Total results: 50)' ...``), the task separately, the last K
(observation, action) pairs, and the admissible actions built from upstream's available actions:
``search[<your query>]`` when the page has a search bar, then ``click[x]`` for every clickable (the
search page's ``click[search]`` included, as verl-agent lists it although the env rejects it).
The model answers ``<think>...</think><action>...</action>``; the ``think_action`` projection parses
that. :func:`template_factory` plugs this into ``turngym.agents.prompting`` under the name
``webshop`` (``template: auto`` picks it for ``WebShop-*`` envs).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

SEARCH_PLACEHOLDER = "search[<your query>]"

TEMPLATE_NO_HIS = """
You are an expert autonomous agent operating in the WebShop e‑commerce environment. 
Your task is to: {task_description}.
Your current observation is: {current_observation}.
Your admissible actions of the current situation are: 
[
{available_actions}
].

Now it's your turn to take one action for the current step.
You should first reason step-by-step about the current situation, then think carefully which admissible action best advances the shopping goal. This reasoning process MUST be enclosed within <think> </think> tags. 
Once you've finished your reasoning, you should choose an admissible action for current step and present it within <action> </action> tags.
"""

TEMPLATE = """
You are an expert autonomous agent operating in the WebShop e‑commerce environment.
Your task is to: {task_description}.
Prior to this step, you have already taken {step_count} step(s). Below are the most recent {history_length} observations and the corresponding actions you took: {action_history}
You are now at step {current_step} and your current observation is: {current_observation}.
Your admissible actions of the current situation are: 
[
{available_actions}
].

Now it's your turn to take one action for the current step.
You should first reason step-by-step about the current situation, then think carefully which admissible action best advances the shopping goal. This reasoning process MUST be enclosed within <think> </think> tags. 
Once you've finished your reasoning, you should choose an admissible action for current step and present it within <action> </action> tags.
"""


def extract_task(observation: str) -> str:
    """The instruction of a ``text``-mode observation (``... [SEP] Instruction: [SEP] X [SEP] ...``)."""
    parts = observation.split(" [SEP] ")
    for i, part in enumerate(parts[:-1]):
        if part == "Instruction:":
            return parts[i + 1]
    return ""


def format_obs(observation: str, task: str) -> str:
    """verl-agent's ``format_obs``: the parts after the instruction, each quoted."""
    parts = observation.split(" [SEP] ")
    if task in parts:
        index = parts.index(task)
        return " [SEP] ".join(f"'{p}'" for p in parts[index + 1 :])
    return observation


def available_actions(admissible: Sequence[str] | None) -> list[str]:
    """The action list verl-agent shows: on the search page (the env lists a suggested
    ``search[...]`` there) the placeholder and ``click[search]``, elsewhere the clicks."""
    actions = list(admissible or [])
    if not actions or any(a.startswith("search[") for a in actions):
        return [SEARCH_PLACEHOLDER, "click[search]"] + [a for a in actions if not a.startswith("search[")]
    return actions


def format_actions(actions: Sequence[str]) -> str:
    return "\n".join(f"'{a}'," for a in actions)


def verl_agent_prompt(task: str, observation: str, admissible: Sequence[str] | None, history: Sequence[tuple[str, str]] = (), *, history_length: int = 2) -> str:
    """One step-row prompt; ``history`` holds every (observation, action) pair so far, oldest first."""
    current = format_obs(observation, task)
    actions = format_actions(available_actions(admissible))
    if not history or history_length <= 0:
        return TEMPLATE_NO_HIS.format(task_description=task, current_observation=current, available_actions=actions)
    recent = list(history)[-history_length:]
    start = len(history) - len(recent)
    lines = "".join(
        f"\n[Observation {start + j + 1}: '{format_obs(obs, task)}', Action {start + j + 1}: '{act}']" for j, (obs, act) in enumerate(recent)
    )
    return TEMPLATE.format(
        task_description=task,
        step_count=len(history),
        history_length=len(recent),
        action_history=lines.strip(),
        current_step=len(history) + 1,
        current_observation=current,
        available_actions=actions,
    )


def template_factory(instructions: str = "") -> Callable[[str, list[Any], str, "list[str] | None"], list[dict[str, str]]]:
    """A ``turngym.agents.prompting`` template: ``(task, history, observation, admissible) -> messages``."""

    def template(task: str, history: list[Any], observation: str, admissible: list[str] | None) -> list[dict[str, str]]:
        task = task or extract_task(observation)
        pairs = [(h.observation, h.action) for h in history]
        prompt = verl_agent_prompt(task, observation, admissible, pairs, history_length=max(len(pairs), 1))
        return [{"role": "user", "content": prompt}]

    return template
