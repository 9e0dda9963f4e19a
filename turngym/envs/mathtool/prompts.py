"""The chat prompt of MathTool (``template: auto`` picks it for ``MathTool-*`` ids).

The observation already holds the problem and the tool/answer instructions, so the prompt is a
system line plus the observation (in the concatenated layout the outputs then follow inline, as
in START and ToRL). History steps (step layout) are shown as the response and the output it got.
"""

from __future__ import annotations

from typing import Any

SYSTEM = "You are a careful mathematician who checks computations with Python."


def template(task: str, history: list[Any], observation: str, admissible: list[str] | None) -> list[dict[str, str]]:
    """A ``turngym.agents`` template (``(task, history, observation, admissible) -> messages``)."""
    parts = [task] if task and history else []
    parts += [f"{h.action}\n{h.observation}" for h in history]
    parts.append(observation)
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "\n".join(parts)}]


def template_factory(instructions: str) -> Any:
    """The observation states the format (code blocks, ``\\boxed{}``); the projection's hint is not needed."""
    return template
