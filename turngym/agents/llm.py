"""``LLMAgent``: the policy-backed agent. Prompts from a template, one batched generate, projections.

Everything the trainer needs is recorded per turn: the prompt (messages, or the transcript text in
the concatenated layout), its exact token ids, the response ids, rollout logprobs, a loss mask of 1
on every generated token, the parse outcome and the generation metadata. The agent keeps no state
between calls: everything it needs about an episode is read back from ``AgentInput.episode`` (the
task text is kept in the first turn's ``meta["task"]``), so it serves any number of engines.

Reproducibility: with ``SamplingParams.seed`` set and a backend that takes one ``SamplingParams``
per prompt (``per_prompt_sampling``), each (episode, turn) gets its own seed derived from the
sampling seed, the task seed, the task's index and the member's index inside its group, and the turn
index; the samples then do not depend on how episodes were batched together.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from typing import Any, Literal

from turngym.agents.backends.base import BackendPrompt, Completion, PolicyBackend, SamplingParams
from turngym.agents.base import AgentAction, AgentInput
from turngym.agents.parsing import Projection, make_projection
from turngym.agents.prompting import (
    HistoryStep,
    ReplyFn,
    TemplateFn,
    Transcript,
    default_reply,
    resolve_template,
    truncate_text,
)
from turngym.core.episode import Episode

Layout = Literal["step", "concat"]
BUDGET_EXHAUSTED = "context budget exhausted"


def derive_seed(*parts: Any) -> int:
    """A stable 63-bit seed from any printable parts (Python's ``hash`` is salted per process)."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


@dataclasses.dataclass
class _Prepared:
    prompt: Any  # what is recorded in Turn.prompt
    backend_prompt: BackendPrompt
    prompt_ids: list[int] | None
    meta: dict[str, Any]


class LLMAgent:
    """Acts with a ``PolicyBackend``: ``act`` makes exactly one ``backend.generate`` call per batch."""

    env_requirements: dict[str, Any] = {}

    def __init__(
        self,
        backend: PolicyBackend,
        *,
        template: str | TemplateFn = "auto",
        projection: str | dict[str, Any] | Projection = "plain",
        layout: Layout = "step",
        sampling: SamplingParams | None = None,
        history_k: int = 2,
        max_prompt_tokens: int | None = None,
        max_obs_tokens: int | None = None,
        tokenizer: Any = None,
        reply: ReplyFn = default_reply,
        concat_reply: Literal["chat", "inline"] = "chat",
    ) -> None:
        if layout not in ("step", "concat"):
            raise ValueError(f"layout must be 'step' or 'concat', got {layout!r}")
        if concat_reply not in ("chat", "inline"):
            raise ValueError(f"concat_reply must be 'chat' (env replies as user turns) or 'inline' (Search-R1: inside the assistant turn), got {concat_reply!r}")
        if history_k < 0:
            raise ValueError(f"history_k must be >= 0, got {history_k}")
        self.backend = backend
        self.projection = make_projection(projection)
        self.layout: Layout = layout
        base = sampling or SamplingParams()
        self.sampling = base if base.stop else dataclasses.replace(base, stop=list(self.projection.stop))
        self.history_k = history_k
        self.max_obs_tokens = max_obs_tokens
        self.tokenizer = tokenizer if tokenizer is not None else getattr(backend, "tokenizer", None)
        if layout == "concat" and self.tokenizer is None:
            raise ValueError("the concatenated layout needs a tokenizer (pass tokenizer= or use a backend that has one)")
        context = getattr(backend, "max_context", None)
        if max_prompt_tokens is None and context:
            max_prompt_tokens = context - self.sampling.max_new_tokens
        if max_prompt_tokens is not None and max_prompt_tokens < 1:
            raise ValueError(f"max_prompt_tokens must be >= 1, got {max_prompt_tokens}")
        self.max_prompt_tokens = max_prompt_tokens
        self.reply = reply
        self._template_spec = template
        self._templates: dict[str, TemplateFn] = {}
        self.concat_reply = concat_reply
        self._transcript = Transcript(self.tokenizer, inline=concat_reply == "inline") if self.tokenizer is not None else None

    # -- the Agent protocol ---------------------------------------------------------------------
    def act(self, inputs: list[AgentInput]) -> list[AgentAction]:
        actions: list[AgentAction | None] = [None] * len(inputs)
        todo: list[tuple[int, _Prepared]] = []
        for i, item in enumerate(inputs):
            prepared = self._prepare(item)
            if isinstance(prepared, AgentAction):
                actions[i] = prepared
            else:
                todo.append((i, prepared))
        if todo:
            prompts = [p.backend_prompt for _, p in todo]
            params = [self._sampling_for(inputs[i].episode) for i, _ in todo]
            t0 = time.perf_counter()
            if getattr(self.backend, "per_prompt_sampling", False):
                completions = self.backend.generate(prompts, params)  # type: ignore[arg-type]
            else:
                completions = self.backend.generate(prompts, self.sampling)
            gen_s = time.perf_counter() - t0
            if len(completions) != len(todo):
                raise RuntimeError(f"backend returned {len(completions)} completions for {len(todo)} prompts")
            for (i, prep), comp, sp in zip(todo, completions, params):
                actions[i] = self._to_action(prep, comp, sp, gen_s, len(todo))
        return [a for a in actions if a is not None]

    # -- prompts --------------------------------------------------------------------------------
    def template_for(self, env_id: str) -> TemplateFn:
        if env_id not in self._templates:
            self._templates[env_id] = resolve_template(self._template_spec, env_id=env_id, instructions=self.projection.instructions)
        return self._templates[env_id]

    def _obs(self, text: str) -> str:
        if self.max_obs_tokens is None or self.tokenizer is None:
            return text
        return truncate_text(self.tokenizer, text, self.max_obs_tokens)

    def prepare(self, item: AgentInput) -> _Prepared | AgentAction:
        """The prompt this agent would send for ``item`` (or the stop it would return), without
        generating: teacher forcing (behaviour cloning) records demonstrations through it."""
        return self._prepare(item)

    def _prepare(self, item: AgentInput) -> _Prepared | AgentAction:
        ep = item.episode
        task = str(item.info.get("task") or "") if not ep.turns else str(ep.turns[0].meta.get("task", ""))
        observation = self._obs(item.observation)
        admissible = item.info.get("admissible_actions")
        meta: dict[str, Any] = {"task": task} if not ep.turns else {}
        if self.layout == "concat" and ep.turns:
            return self._next_concat(ep, observation, admissible, meta)
        template = self.template_for(ep.env_id)
        k = min(self.history_k, len(ep.turns)) if self.layout == "step" else 0
        while True:  # drop the oldest history steps until the prompt fits the budget
            history = [HistoryStep(self._obs(t.observation), t.action) for t in ep.turns[len(ep.turns) - k :]] if k else []
            prompt = template(task, history, observation, admissible)
            ids = self._transcript.first_prompt_ids(prompt) if self._transcript is not None else None
            if ids is None or self.max_prompt_tokens is None or len(ids) <= self.max_prompt_tokens or k == 0:
                break
            k -= 1
        if ids is not None and self.max_prompt_tokens is not None and len(ids) > self.max_prompt_tokens:
            return self._stop(f"{BUDGET_EXHAUSTED}: prompt of {len(ids)} tokens > {self.max_prompt_tokens}")
        if self.layout == "step":
            meta["history_k"] = k
        else:  # every concat turn records its transcript as text, the first one included
            prompt = self.tokenizer.decode(ids, skip_special_tokens=False)
        return _Prepared(prompt=prompt, backend_prompt=ids if ids is not None else prompt, prompt_ids=ids, meta=meta)

    def _next_concat(self, ep: Episode, observation: str, admissible: list[str] | None, meta: dict[str, Any]) -> _Prepared | AgentAction:
        prev = ep.turns[-1]
        if prev.prompt_token_ids is None or prev.response_token_ids is None:
            return self._stop("concat layout: the previous turn has no token ids")
        assert self._transcript is not None
        reply_ids = self._transcript.reply_ids(prev.response_token_ids, self.reply(observation, admissible))
        ids = prev.prompt_token_ids + prev.response_token_ids + reply_ids
        if self.max_prompt_tokens is not None and len(ids) > self.max_prompt_tokens:
            return self._stop(f"{BUDGET_EXHAUSTED}: transcript of {len(ids)} tokens > {self.max_prompt_tokens}")
        meta["env_tokens"] = len(reply_ids)
        text = self.tokenizer.decode(ids, skip_special_tokens=False)
        return _Prepared(prompt=text, backend_prompt=ids, prompt_ids=ids, meta=meta)

    @staticmethod
    def _stop(reason: str) -> AgentAction:
        return AgentAction(action="", parsed=False, stop=reason, meta={"stop": reason})

    # -- sampling and results -------------------------------------------------------------------
    def _sampling_for(self, ep: Episode) -> SamplingParams:
        if self.sampling.seed is None:
            return self.sampling
        ident = (ep.meta["task_index"], ep.meta["member"]) if "task_index" in ep.meta and "member" in ep.meta else (ep.episode_id,)
        seed = derive_seed(self.sampling.seed, ep.env_id, ep.seed, ep.task_id, *ident, len(ep.turns))
        return dataclasses.replace(self.sampling, seed=seed)

    def _to_action(self, prep: _Prepared, comp: Completion, sp: SamplingParams, gen_s: float, batch: int) -> AgentAction:
        meta = {**prep.meta, "gen_s": round(gen_s, 6), "gen_batch": batch}
        if sp.seed is not None:
            meta["seed"] = sp.seed
        if comp.error is not None or comp.finish_reason == "error":
            reason = f"backend error: {comp.error or 'unknown'}"
            return AgentAction(action="", parsed=False, stop=reason, prompt=prep.prompt, meta={**meta, "stop": reason})
        if self.layout == "concat" and comp.text and not comp.token_ids:
            reason = "concat layout: the backend returned no token ids for the response"
            return AgentAction(action="", parsed=False, stop=reason, prompt=prep.prompt, meta={**meta, "stop": reason})
        projected = self.projection(comp.text)
        ids = prep.prompt_ids if prep.prompt_ids is not None else comp.prompt_token_ids
        meta.update(finish_reason=comp.finish_reason, prompt_tokens=len(ids) if ids is not None else None, response_tokens=len(comp.token_ids))
        if projected.extras:
            meta["projection"] = projected.extras
        return AgentAction(
            action=projected.action,
            response_text=comp.text,
            parsed=projected.parsed,
            prompt=prep.prompt,
            prompt_token_ids=ids,
            response_token_ids=list(comp.token_ids),
            rollout_logprobs=list(comp.logprobs) if comp.logprobs is not None else None,
            loss_mask=[1] * len(comp.token_ids),
            entropy=getattr(comp, "entropy", None),
            meta=meta,
        )
