"""Prompt templates per env family and the token bookkeeping of the two history layouts.

A template is any function ``(task_text, history, observation, admissible_actions) -> messages | str``
(``history`` is the list of earlier ``HistoryStep`` s the layout chose to show), so an env family
can ship its own (ALFWorld's live in ``turngym/envs/alfworld/prompts.py``) and ``register_template``
makes it available by name. The built-in ones are built from the projection's one-line reply format.

Layouts (DESIGN.md §3.2):
- *step rows*: each turn's prompt is ``template(task, last K steps, observation, admissible)``.
- *concatenated*: one growing transcript. ``Transcript`` builds the ids of turn k as turn k-1's
  prompt ids + its response ids + the tokenised env reply, so no token is ever re-tokenised.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Messages = list[dict[str, str]]


@dataclass(frozen=True)
class HistoryStep:
    observation: str
    action: str


TemplateFn = Callable[[str, list[HistoryStep], str, "list[str] | None"], "Messages | str"]
ReplyFn = Callable[[str, "list[str] | None"], str]


def format_history(history: list[HistoryStep]) -> str:
    return "\n".join(f"Observation {i + 1}: {h.observation}\nAction {i + 1}: {h.action}" for i, h in enumerate(history))


def default_reply(observation: str, admissible_actions: list[str] | None) -> str:
    """The env's turn in a concatenated transcript: the observation (and the admissible actions)."""
    if admissible_actions:
        return f"{observation}\nAdmissible actions: {', '.join(admissible_actions)}"
    return observation


def _strip_task(task: str, observation: str) -> str:
    return observation[len(task) :].lstrip() if task and observation.startswith(task) else observation


def _chat_template(system: str, intro: str, instructions: str) -> TemplateFn:
    def template(task: str, history: list[HistoryStep], observation: str, admissible: list[str] | None) -> Messages:
        parts = [intro]
        if task:
            parts.append(f"Task: {task}")
        if history:
            parts.append(f"Your last {len(history)} step(s):\n{format_history(history)}")
        parts.append(f"Current observation: {_strip_task(task, observation)}")
        if admissible:
            parts.append(f"Admissible actions: {', '.join(admissible)}")
        parts.append(instructions)
        return [{"role": "system", "content": system}, {"role": "user", "content": "\n".join(p for p in parts if p)}]

    return template


def keydoor_template(instructions: str) -> TemplateFn:
    return _chat_template(
        "You are an agent in a small house of rooms.",
        "Move between rooms with 'go <direction>', pick up the key with 'take key' and open the door with 'open door'.",
        instructions,
    )


def toolcalc_template(instructions: str) -> TemplateFn:
    return _chat_template(
        "You solve arithmetic word problems with a calculator.",
        "Compute with calculate[expression]; finish with answer[number].",
        instructions,
    )


def generic_template(instructions: str) -> TemplateFn:
    return _chat_template("You are an agent acting in a text environment.", "", instructions)


def compact_template(instructions: str) -> TemplateFn:
    """The shortest useful prompt (no system message, no instructions): tiny models on a CPU pay
    for every prompt token in both generation and training, and learn the format from BC."""

    def template(task: str, history: list[HistoryStep], observation: str, admissible: list[str] | None) -> Messages:
        parts = [task] if task else []
        parts += [f"{h.observation} > {h.action}" for h in history]
        parts.append(_strip_task(task, observation))
        if admissible:
            parts.append("actions: " + ", ".join(admissible))
        return [{"role": "user", "content": "\n".join(parts)}]

    return template


#: name -> factory(instructions) -> template
TEMPLATES: dict[str, Callable[[str], TemplateFn]] = {
    "keydoor": keydoor_template,
    "toolcalc": toolcalc_template,
    "generic": generic_template,
    "compact": compact_template,
}
#: env id prefix (lower case) -> template name, for ``"auto"``
ENV_FAMILIES: dict[str, str] = {"keydoor": "keydoor", "toolcalc": "toolcalc", "alfworld": "alfworld", "webshop": "webshop", "searchqa": "searchqa", "mathtool": "mathtool"}


def register_template(name: str, factory: Callable[[str], TemplateFn], *, env_prefix: str | None = None) -> None:
    TEMPLATES[name] = factory
    if env_prefix:
        ENV_FAMILIES[env_prefix.lower()] = name


def _env_factory(family: str) -> Callable[[str], TemplateFn] | None:
    """An env family's prompts are owned by its package (``turngym.envs.<family>.prompts``); use
    its ``template_factory`` (or ``template``) when that module provides one."""
    try:
        mod = importlib.import_module(f"turngym.envs.{family}.prompts")
    except ImportError:
        return None
    factory = getattr(mod, "template_factory", None)
    if callable(factory):
        return factory
    fn = getattr(mod, "template", None)
    return (lambda _instructions: fn) if callable(fn) else None


def template_names() -> list[str]:
    """Every name ``resolve_template`` accepts: ``auto``, the registered templates and the env
    families whose package ships its own prompts."""
    return ["auto", *TEMPLATES, *sorted(set(ENV_FAMILIES.values()) - set(TEMPLATES))]


def resolve_template(spec: str | TemplateFn, *, env_id: str = "", instructions: str = "") -> TemplateFn:
    """A template from a callable, a registered name, or ``"auto"`` (pick by the env id's family)."""
    if callable(spec):
        return spec
    name = spec
    if spec == "auto":
        family = env_id.split("-")[0].lower()
        name = ENV_FAMILIES.get(family, "generic")
    if name in ENV_FAMILIES.values() and name not in TEMPLATES:
        factory = _env_factory(name)
        return (factory or generic_template)(instructions)
    if name not in TEMPLATES:
        raise ValueError(f"unknown template {spec!r}; choose one of {', '.join(template_names())} or pass a function")
    return TEMPLATES[name](instructions)


class Transcript:
    """Token bookkeeping of the concatenated layout for a given tokenizer.

    With a chat template, the env reply continues the ChatML-style conversation: whatever the
    template puts after an assistant message (``<|im_end|>\\n``; only the part the response did not
    already generate), then the user message and the generation prompt, all derived by rendering
    the template rather than hard-coding ChatML. Without one, replies are joined by newlines.

    ``inline=True`` is Search-R1's layout: the env reply goes into the same assistant message,
    between blank lines (``...</search>\\n\\n<information>...</information>\\n\\n``), and the policy
    continues after it; its tokens are still env tokens (loss mask 0).
    """

    _PROBE_A, _PROBE_U = "\x00assistant-probe\x00", "\x00user-probe\x00"

    def __init__(self, tokenizer: Any, *, inline: bool = False) -> None:
        self.tokenizer = tokenizer
        self.inline = inline
        self.chat = bool(getattr(tokenizer, "chat_template", None))
        if self.chat:
            base = [{"role": "user", "content": "u"}, {"role": "assistant", "content": self._PROBE_A}]
            after_assistant = self.render(base, generation_prompt=False).split(self._PROBE_A, 1)[1]
            full = self.render([*base, {"role": "user", "content": self._PROBE_U}], generation_prompt=True)
            before_user, after_user = full.split(self._PROBE_A, 1)[1].split(self._PROBE_U, 1)
            if not before_user.startswith(after_assistant):
                raise ValueError("the chat template renders the conversation inconsistently; use the step layout")
            self.assistant_end = after_assistant  # e.g. "<|im_end|>\n"
            self.user_prefix = before_user[len(after_assistant) :]  # e.g. "<|im_start|>user\n"
            self.user_suffix = after_user  # e.g. "<|im_end|>\n<|im_start|>assistant\n"

    def render(self, messages: Messages, *, generation_prompt: bool = True) -> str:
        return self.tokenizer.apply_chat_template(messages, add_generation_prompt=generation_prompt, tokenize=False)

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer.encode(text, add_special_tokens=False))

    def first_prompt_ids(self, prompt: Messages | str) -> list[int]:
        if isinstance(prompt, str):
            return list(self.tokenizer.encode(prompt, add_special_tokens=True))
        return self.encode(self.render(prompt))

    def reply_text(self, response_ids: list[int], reply: str) -> str:
        """The env's part after a response: closes the assistant turn and opens the next one."""
        if self.inline:
            return "\n\n" + reply + "\n\n"
        if not self.chat:
            return "\n" + reply + "\n"
        end = self.assistant_end
        if response_ids and response_ids[-1] in set(self.tokenizer.all_special_ids):
            last = self.tokenizer.decode(response_ids[-1:], skip_special_tokens=False)
            if last and end.startswith(last):  # the response generated the end marker (EOS) itself
                end = end[len(last) :]
        return end + self.user_prefix + reply + self.user_suffix

    def reply_ids(self, response_ids: list[int], reply: str) -> list[int]:
        return self.encode(self.reply_text(response_ids, reply))


def truncate_text(tokenizer: Any, text: str, max_tokens: int | None, marker: str = " …[truncated]") -> str:
    """Keep the first ``max_tokens`` tokens of an observation (the head carries the state)."""
    if max_tokens is None:
        return text
    ids = tokenizer.encode(text, add_special_tokens=False)
    if len(ids) <= max_tokens:
        return text
    return tokenizer.decode(ids[:max_tokens], skip_special_tokens=False) + marker


def concat_sequence(turns: list[Any]) -> tuple[list[int], list[int], list[float | None]]:
    """One training sequence from the turns of a concatenated-layout episode.

    Returns ``(token_ids, loss_mask, rollout_logprobs)`` over the whole transcript: the first prompt
    and every env reply carry mask 0 (logprob ``None``), each response its own mask and logprobs.
    Checks the layout's invariant (each prompt extends the previous prompt + response) and raises
    ``ValueError`` if a turn breaks it, so a trainer never trains on a misaligned sequence.
    """
    if not turns:
        return [], [], []
    ids: list[int] = list(turns[0].prompt_token_ids or [])
    mask: list[int] = [0] * len(ids)
    logprobs: list[float | None] = [None] * len(ids)
    for k, turn in enumerate(turns):
        prompt = turn.prompt_token_ids or []
        if prompt[: len(ids)] != ids:
            raise ValueError(f"turn {k}: prompt does not extend the transcript (not a concat-layout episode?)")
        env = prompt[len(ids) :]
        ids += env
        mask += [0] * len(env)
        logprobs += [None] * len(env)
        response = list(turn.response_token_ids or [])
        turn_mask = list(turn.loss_mask) if turn.loss_mask is not None else [1] * len(response)
        turn_lp = list(turn.rollout_logprobs) if turn.rollout_logprobs is not None else [None] * len(response)
        if len(turn_mask) != len(response) or len(turn_lp) != len(response):
            raise ValueError(f"turn {k}: loss_mask/logprobs do not match the response length")
        ids += response
        mask += turn_mask
        logprobs += turn_lp
    return ids, mask, logprobs
