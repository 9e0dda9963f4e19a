"""Prompts for search agents, as plain strings and functions (no agent code here).

The instruction follows Search-R1's training prompt: reason in ``<think>``, query the search
engine with ``<search>``, read ``<information>``, answer in ``<answer>``. ``template_factory`` is
what ``turngym.agents.prompting`` picks for ``template: auto`` on ``SearchQA-*`` envs:

- concatenated layout: the first prompt is the instruction and the question; every later env
  reply is the observation itself (``<information>...</information>``), appended to the transcript;
- step rows: each prompt repeats the instruction and the question, then the last K (action,
  observation) pairs and the current observation.
"""

from __future__ import annotations

from typing import Any

SEARCH_R1_INSTRUCTION = (
    "Answer the given question. You must conduct reasoning inside <think> and </think> first every time you get "
    "new information. After reasoning, if you find you lack some knowledge, you can call a search engine by "
    "<search> query </search> and it will return the top searched results between <information> and "
    "</information>. You can search as many times as your want. If you find no further external knowledge "
    "needed, you can directly provide the answer inside <answer> and </answer>, without detailed illustrations. "
    "For example, <answer> Beijing </answer>."
)

QUESTION_PREFIX = "Question: "


def question_of(observation: str) -> str:
    """The question of a reset observation (``Question: ...``)."""
    return observation[len(QUESTION_PREFIX):] if observation.startswith(QUESTION_PREFIX) else observation


def user_message(question: str, history: list[Any] | None = None, observation: str = "") -> str:
    """The user turn: instruction, question, then (step rows) the recent turns and the latest result."""
    parts = [f"{SEARCH_R1_INSTRUCTION} Question: {question}"]
    for step in history or []:  # HistoryStep(observation shown, action taken), oldest first
        if not step.observation.startswith(QUESTION_PREFIX):
            parts.append(step.observation)
        parts.append(step.action)
    if observation and not observation.startswith(QUESTION_PREFIX):
        parts.append(observation)
    return "\n".join(parts) + "\n"


def template(task: str, history: list[Any], observation: str, admissible: list[str] | None) -> list[dict[str, str]]:
    """A ``turngym.agents`` template (``(task, history, observation, admissible) -> messages``)."""
    question = task or question_of(observation)
    return [{"role": "user", "content": user_message(question, history, observation)}]


def template_factory(instructions: str) -> Any:
    """The template ignores the projection's one-line format hint: the instruction above is the format."""
    return template
