"""``CheckableAnswer``: what an env offers so that other code can grade a free-text final answer.

A multi-agent discussion (``Discussion-v0``) wraps any env whose task has one checkable answer: it
shows the task to several agents, and grades each agent's message and the team's final answer with
the wrapped env's own checker, without stepping that env. The protocol is deliberately small and
duck-typed (``isinstance(env, CheckableAnswer)`` checks only that the members exist):

- ``answer_spec()``: one sentence telling an agent how to write its final answer (the env's own
  format, e.g. ``<answer>...</answer>`` or ``answer[number]``), shown to every agent;
- ``check_answer(text)``: a score in [0, 1] of a free-text final answer to the *current* task (after
  ``reset``); text without an answer in the env's format scores 0;
- ``answer_key(text)``: the normalised answer found in ``text`` (equal keys mean the same answer, for
  majority voting), or ``None`` when the text holds no answer;
- the task text: ``info["question"]`` from ``reset`` or a ``question`` attribute.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class CheckableAnswer(Protocol):
    def answer_spec(self) -> str: ...

    def check_answer(self, text: str) -> float: ...

    def answer_key(self, text: str) -> str | None: ...


def question_text(env: Any, info: dict[str, Any], observation: str) -> str:
    """The task text of a freshly reset env: ``info["question"]``, else a ``question`` attribute,
    else the reset observation itself (an env that states its task in the observation)."""
    question = info.get("question")
    if isinstance(question, str) and question:
        return question
    attr = getattr(env, "question", None)
    if isinstance(attr, str) and attr:
        return attr
    text = getattr(attr, "question", None)  # e.g. SearchQA keeps a Question record
    if isinstance(text, str) and text:
        return text
    return observation
