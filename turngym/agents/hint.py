"""START's Hint-infer as a policy-backend wrapper: hints inserted into the model's own reasoning.

START (Li et al., 2025) makes a reasoning model use its Python tool by inserting a hint such as
"Wait, maybe using Python here is a good idea." where the model hesitates (its own "Wait" or
"Alternatively") or where it is about to stop, and letting it continue from there. This wrapper
does that to any ``PolicyBackend``: it generates, finds the insertion point, replaces the text from
that point with the hint, and generates the continuation from prompt + kept response + hint.

- *Trigger*: the first trigger word (``triggers``, whole word) in the response: the hint takes its
  place (the model's "Wait..." becomes the hint's "Wait, maybe using Python...").
- *Stop*: a response that ended by itself (end of sequence, not at one of the agent's stop strings
  such as ```` ```output ```` that mark a tool call) gets the hint appended; ``at_length`` also
  hints responses cut by the token limit.

Token ids are exact: the kept prefix keeps the model's own tokens, the hint is tokenised once and
the continuation's tokens follow, so a concatenated transcript stays consistent. A hinted
completion has ``logprobs=None``: the hint was not sampled, so the response is not on-policy
(use it for rejection-sampling fine-tuning, as START does, not for a policy-gradient update).
Completions that got a hint are :class:`HintedCompletion` and say which hints went where.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from turngym.agents.backends.base import (
    BackendPrompt,
    Completion,
    PolicyBackend,
    SamplingParams,
)

DEFAULT_HINTS = ("Wait, maybe using Python here is a good idea.",)
DEFAULT_TRIGGERS = ("Wait", "Alternatively")


@dataclass
class HintedCompletion(Completion):
    #: (character offset in ``text``, hint) for each inserted hint
    hints: list[tuple[int, str]] = field(default_factory=list)


class HintBackend:
    """Wraps a backend with START's Hint-infer (see the module docstring)."""

    name = "hint"

    def __init__(
        self,
        inner: PolicyBackend,
        *,
        hints: Sequence[str] = DEFAULT_HINTS,
        triggers: Sequence[str] = DEFAULT_TRIGGERS,
        at_stop: bool = True,
        at_length: bool = False,
        max_hints: int = 1,
        separator: str = "\n",
        tokenizer: Any = None,
    ) -> None:
        if not hints or not all(isinstance(h, str) and h.strip() for h in hints):
            raise ValueError("hints must be a non-empty list of non-empty strings")
        if max_hints < 1:
            raise ValueError(f"max_hints must be >= 1, got {max_hints}")
        self.inner = inner
        self.hints = tuple(hints)
        self.triggers = tuple(triggers)
        self.at_stop = at_stop
        self.at_length = at_length
        self.max_hints = max_hints
        self.separator = separator
        self.tokenizer = tokenizer if tokenizer is not None else getattr(inner, "tokenizer", None)
        if self.tokenizer is None:
            raise ValueError("HintBackend needs a tokenizer (pass tokenizer= or wrap a backend that has one)")
        self._trigger_re = re.compile(r"\b(" + "|".join(map(re.escape, self.triggers)) + r")\b") if self.triggers else None
        self.per_prompt_sampling = bool(getattr(inner, "per_prompt_sampling", False))
        self.max_context = getattr(inner, "max_context", None)
        self._count = 0

    # -- the PolicyBackend protocol ------------------------------------------------------------
    def generate(self, prompts: list[BackendPrompt], sampling: SamplingParams | Sequence[SamplingParams]) -> list[Completion]:
        params = list(sampling) if isinstance(sampling, Sequence) else [sampling] * len(prompts)
        if len(params) != len(prompts):
            raise ValueError(f"got {len(params)} SamplingParams for {len(prompts)} prompts")
        prompt_ids = [self._encode(p) for p in prompts]
        results: list[Completion] = self._generate(prompt_ids, params)
        responses = [list(c.token_ids) for c in results]
        hinted: list[list[tuple[int, str]]] = [[] for _ in prompts]
        for _round in range(self.max_hints):
            todo = []
            for i, comp in enumerate(results):
                if comp.error is not None or comp.finish_reason == "error":
                    continue
                start = hinted[i][-1][0] + len(hinted[i][-1][1]) if hinted[i] else 0
                cut = self._insertion_point(comp, params[i], start)
                if cut is None:
                    continue
                todo.append((i, cut))
            if not todo:
                break
            cont_prompts, cont_params, kept = [], [], []
            for i, cut in todo:
                keep = self._token_prefix(responses[i], cut)
                hint = self._hint()
                text = self.tokenizer.decode(keep, skip_special_tokens=False)
                glue = "" if not text or text.endswith((" ", "\n")) else self.separator
                hint_ids = self.tokenizer.encode(glue + hint, add_special_tokens=False)
                offset = len(text) + len(glue)
                hinted[i].append((offset, hint))
                kept.append((i, keep + hint_ids))
                budget = max(1, params[i].max_new_tokens - len(keep) - len(hint_ids))
                cont_prompts.append(prompt_ids[i] + keep + hint_ids)
                cont_params.append(dataclasses.replace(params[i], max_new_tokens=budget))
            conts = self._generate(cont_prompts, cont_params)
            for (i, prefix), cont in zip(kept, conts):
                if cont.error is not None:
                    results[i] = cont
                    continue
                responses[i] = prefix + list(cont.token_ids)
                results[i] = Completion(text=self.tokenizer.decode(responses[i], skip_special_tokens=True), token_ids=responses[i],
                                        logprobs=None, finish_reason=cont.finish_reason, prompt_token_ids=prompt_ids[i])
        out: list[Completion] = []
        for i, comp in enumerate(results):
            if hinted[i] and comp.error is None:
                out.append(HintedCompletion(text=comp.text, token_ids=comp.token_ids, logprobs=None, finish_reason=comp.finish_reason,
                                            prompt_token_ids=prompt_ids[i], hints=hinted[i]))
            else:
                out.append(comp)
        return out

    def load_weights(self, source: Any) -> None:
        self.inner.load_weights(source)

    def load_adapter(self, path: str, name: str = "default") -> None:
        self.inner.load_adapter(path, name)

    def close(self) -> None:
        self.inner.close()

    # -- helpers -------------------------------------------------------------------------------
    def _generate(self, prompts: list[list[int]], params: list[SamplingParams]) -> list[Completion]:
        if self.per_prompt_sampling:
            return list(self.inner.generate(prompts, params))  # type: ignore[arg-type]
        return list(self.inner.generate(prompts, params[0]))

    def _encode(self, prompt: BackendPrompt) -> list[int]:
        encode = getattr(self.inner, "encode_prompt", None)
        if callable(encode):
            return list(encode(prompt))
        if isinstance(prompt, list) and all(isinstance(t, int) for t in prompt):
            return list(prompt)
        if isinstance(prompt, str):
            return list(self.tokenizer.encode(prompt, add_special_tokens=False))
        return list(self.tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=True))

    def _hint(self) -> str:
        hint = self.hints[self._count % len(self.hints)]
        self._count += 1
        return hint

    def _insertion_point(self, comp: Completion, sp: SamplingParams, start: int = 0) -> int | None:
        """Character offset where the hint goes (a trigger after ``start``, the end), or None."""
        text = comp.text
        if self._trigger_re is not None:
            m = self._trigger_re.search(text, start)
            if m is not None:
                return m.start()
        stopped_at_string = any(s and text.endswith(s) for s in sp.stop)
        if comp.finish_reason == "stop" and self.at_stop and not stopped_at_string:
            return len(text)
        if comp.finish_reason == "length" and self.at_length:
            return len(text)
        return None

    def _token_prefix(self, ids: list[int], cut: int) -> list[int]:
        """The longest prefix of ``ids`` whose text ends at or before character ``cut`` (the model's own tokens)."""
        full = self.tokenizer.decode(ids, skip_special_tokens=True)
        if cut >= len(full):
            return [t for t in ids if t not in self._special_ids()]
        lo, hi = 0, len(ids)
        while lo < hi:  # decode lengths grow with the prefix
            mid = (lo + hi + 1) // 2
            if len(self.tokenizer.decode(ids[:mid], skip_special_tokens=True)) <= cut:
                lo = mid
            else:
                hi = mid - 1
        return ids[:lo]

    def _special_ids(self) -> set[int]:
        return set(getattr(self.tokenizer, "all_special_ids", []) or [])
