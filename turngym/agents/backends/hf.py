"""The in-process transformers backend: batched sampling on the trainer's own module.

Why a hand-written sampling loop instead of ``model.generate``: training needs, per sampled token,
its logprob under a *documented* distribution, stop strings that cut exactly after the token that
completes them, and seeds that make a prompt's sample independent of which other prompts share the
batch. The loop is a plain KV-cached decode (``model(input_ids, attention_mask, position_ids,
past_key_values, use_cache=True)``) over left-padded prompts; finished rows are dropped from the
cache so that long and short completions do not cost the same.

Reported logprobs (``logprobs_mode``):
- ``"raw"`` (default): ``log_softmax(logits)`` at temperature 1 with no top-k/top-p truncation, i.e.
  the unmodified policy distribution. This is what a trainer recomputes from a plain forward pass
  (and what vLLM reports by default, ``logprobs_mode="raw_logprobs"``); with temperature 1 and no
  truncation it is also exactly the sampling distribution.
- ``"processed"``: ``log_softmax(logits / temperature)`` (still without truncation): the sampling
  distribution after temperature. A trainer using this mode must divide its logits by the same
  temperature before ``log_softmax``.
Greedy decoding (temperature 0) reports the raw logprobs in both modes.

Seeds: ``SamplingParams.seed`` seeds a generator *per prompt*, so a prompt with a given seed gives
the same sample alone or in any batch (like vLLM's per-request seed: two identical prompts with the
same seed give the same sample; pass one ``SamplingParams`` per prompt with different seeds to get
different samples). Float results can differ in the last bits between batch shapes; a sampled token
changes only if a uniform draw lands within that distance of a CDF boundary.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch

from turngym.agents.backends.base import BackendPrompt, Completion, SamplingParams

LogprobsMode = Literal["raw", "processed"]


@dataclass
class HFCompletion(Completion):
    """A ``Completion`` plus the mean token entropy of the raw policy distribution (AEM needs it)."""

    entropy: float | None = None


class HFBackend:
    """Batched generation with a transformers causal LM that is shared, not copied.

    ``model`` is used as given (the trainer's module, possibly a peft model): weight updates made
    by the trainer are visible to the next ``generate`` call with no sync step. For the same reason
    ``dtype``/``device`` move that module in place. Generation runs under ``inference_mode`` in eval
    mode and restores the module's training flag afterwards.
    """

    name = "hf"
    #: ``generate`` accepts one ``SamplingParams`` per prompt (per-episode seeds).
    per_prompt_sampling = True

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        device: str | torch.device = "cpu",
        batch_size: int = 32,
        dtype: torch.dtype | str | None = None,
        logprobs_mode: LogprobsMode = "raw",
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if logprobs_mode not in ("raw", "processed"):
            raise ValueError(f"logprobs_mode must be 'raw' or 'processed', got {logprobs_mode!r}")
        self.device = torch.device(device)
        self.model = model
        if dtype is not None:
            self.model.to(getattr(torch, dtype) if isinstance(dtype, str) else dtype)
        if next(self.model.parameters()).device != self.device:
            self.model.to(self.device)
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.logprobs_mode: LogprobsMode = logprobs_mode
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self.eos_ids = self._eos_ids(model, tokenizer)
        config = getattr(model, "config", None)
        self.vocab_size = int(getattr(config, "vocab_size", 0) or len(tokenizer))
        self.max_context = int(getattr(config, "max_position_embeddings", 0) or 0) or None
        #: Counters of the last ``generate`` call (tokens, seconds), for throughput reports.
        self.last_stats: dict[str, float] = {}

    @classmethod
    def from_pretrained(
        cls, path: str | Path, *, device: str = "cpu", dtype: str = "float32", batch_size: int = 32, logprobs_mode: LogprobsMode = "raw"
    ) -> HFBackend:
        from turngym.models.loading import load_model_and_tokenizer

        model, tokenizer = load_model_and_tokenizer(path, dtype=dtype, device=device)
        return cls(model, tokenizer, device=device, batch_size=batch_size, logprobs_mode=logprobs_mode)

    @staticmethod
    def _eos_ids(model: Any, tokenizer: Any) -> set[int]:
        ids: set[int] = set()
        gen = getattr(model, "generation_config", None)
        for source in (getattr(gen, "eos_token_id", None), tokenizer.eos_token_id):
            if isinstance(source, int):
                ids.add(source)
            elif isinstance(source, (list, tuple)):
                ids.update(int(i) for i in source)
        return ids

    # -- protocol -----------------------------------------------------------------------------
    def generate(self, prompts: list[BackendPrompt], sampling: SamplingParams | Sequence[SamplingParams]) -> list[Completion]:
        """One completion per prompt; bad prompts and failed batches come back with ``error`` set."""
        params = list(sampling) if isinstance(sampling, Sequence) else [sampling] * len(prompts)
        if len(params) != len(prompts):
            raise ValueError(f"got {len(params)} SamplingParams for {len(prompts)} prompts")
        t0 = time.perf_counter()
        results: list[Completion | None] = [None] * len(prompts)
        ready: list[tuple[int, list[int]]] = []
        for i, prompt in enumerate(prompts):
            try:
                ready.append((i, self.encode_prompt(prompt)))
            except (ValueError, TypeError) as exc:
                results[i] = Completion(text="", token_ids=[], logprobs=None, finish_reason="error", error=f"bad prompt: {exc}")
        # Similar lengths share a chunk: less padding, and the order does not change any sample.
        ready.sort(key=lambda item: len(item[1]))
        new_tokens = 0
        for start in range(0, len(ready), self.batch_size):
            chunk = ready[start : start + self.batch_size]
            try:
                outs = self._generate_chunk([ids for _, ids in chunk], [params[i] for i, _ in chunk])
            except Exception as exc:  # e.g. out of memory: fail this chunk, keep the others
                outs = [Completion(text="", token_ids=[], finish_reason="error", error=f"{type(exc).__name__}: {exc}") for _ in chunk]
            for (i, _), out in zip(chunk, outs):
                results[i] = out
                new_tokens += len(out.token_ids)
        elapsed = time.perf_counter() - t0
        self.last_stats = {"prompts": len(prompts), "new_tokens": new_tokens, "seconds": elapsed, "tok_per_s": new_tokens / max(elapsed, 1e-9)}
        return [r for r in results if r is not None]

    def encode_prompt(self, prompt: BackendPrompt) -> list[int]:
        """Token ids of a prompt: ids as given, text as tokenised, messages via the chat template."""
        if isinstance(prompt, str):
            ids = self.tokenizer.encode(prompt, add_special_tokens=True)
        elif isinstance(prompt, list) and prompt and all(isinstance(m, dict) for m in prompt):
            if not all(isinstance(m.get("role"), str) and isinstance(m.get("content"), str) for m in prompt):
                raise ValueError("chat messages need string 'role' and 'content'")
            try:
                text = self.tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=False)
            except Exception as exc:  # jinja errors of a model's own template (e.g. role order rules)
                raise ValueError(f"chat template failed: {type(exc).__name__}: {exc}") from None
            ids = self.tokenizer.encode(text, add_special_tokens=False)
        elif isinstance(prompt, list) and all(isinstance(t, int) and not isinstance(t, bool) for t in prompt):
            ids = list(prompt)
        else:
            raise TypeError("a prompt is token ids, text, or chat messages (dicts with role/content)")
        if not ids:
            raise ValueError("empty prompt")
        if min(ids) < 0 or max(ids) >= self.vocab_size:
            raise ValueError(f"token id out of range [0, {self.vocab_size})")
        if self.max_context is not None and len(ids) >= self.max_context:
            raise ValueError(f"prompt of {len(ids)} tokens does not fit the model context ({self.max_context})")
        return ids

    def load_weights(self, source: Any) -> None:
        """Copy weights into the shared module in place: a state dict, a safetensors file or a dir."""
        state = source if isinstance(source, dict) else _read_safetensors(Path(source))
        missing, unexpected = self.model.load_state_dict(state, strict=False)
        if unexpected:
            raise ValueError(f"weights do not fit the model: unexpected keys {sorted(unexpected)[:5]}")
        if len(missing) == len(self.model.state_dict()):
            raise ValueError("no key of the given weights matches the model")

    def load_adapter(self, path: str, name: str = "default") -> None:
        """Activate a peft (LoRA) adapter. peft injects it into the given module in place, so a
        trainer sharing this module sees the adapter too."""
        from peft import PeftModel

        if isinstance(self.model, PeftModel):
            if name not in self.model.peft_config:
                self.model.load_adapter(path, adapter_name=name)
            self.model.set_adapter(name)
        else:
            self.model = PeftModel.from_pretrained(self.model, path, adapter_name=name)
        self.model.eval()

    def close(self) -> None:
        self.model = None
        self.tokenizer = None

    # -- decoding -------------------------------------------------------------------------------
    @torch.inference_mode()
    def _generate_chunk(self, prompts: list[list[int]], params: list[SamplingParams]) -> list[Completion]:
        model, tok = self.model, self.tokenizer
        was_training = model.training
        model.eval()
        try:
            return self._decode(model, tok, prompts, params)
        finally:
            model.train(was_training)

    def _decode(self, model: Any, tok: Any, prompts: list[list[int]], params: list[SamplingParams]) -> list[Completion]:
        n = len(prompts)
        dev = self.device
        width = max(len(p) for p in prompts)
        input_ids = torch.full((n, width), self.pad_id, dtype=torch.long)
        attn = torch.zeros((n, width), dtype=torch.long)
        for r, p in enumerate(prompts):
            input_ids[r, width - len(p) :] = torch.tensor(p, dtype=torch.long)
            attn[r, width - len(p) :] = 1
        input_ids, attn = input_ids.to(dev), attn.to(dev)
        positions = (attn.cumsum(-1) - 1).clamp(min=0)
        budget = [self._budget(len(p), s) for p, s in zip(prompts, params)]
        generators = [torch.Generator().manual_seed(int(s.seed)) if s.seed is not None and s.temperature > 0 else None for s in params]
        out_ids: list[list[int]] = [[] for _ in range(n)]
        out_lp: list[list[float]] = [[] for _ in range(n)]
        entropy_sum = [0.0] * n
        finish: list[str | None] = [None] * n
        texts_checked = [0] * n  # characters of each row's text already searched for stop strings
        alive = list(range(n))  # batch row -> original row
        cache = None
        step_ids, step_pos, step_attn = input_ids, positions, attn
        first = True
        while alive:
            out = model(
                input_ids=step_ids,
                attention_mask=step_attn,
                position_ids=step_pos,
                past_key_values=cache,
                use_cache=True,
                **({"logits_to_keep": 1} if first else {}),
            )
            first = False
            cache = out.past_key_values
            logits = out.logits[:, -1, :].float()
            rows = [params[r] for r in alive]
            tokens, logprobs, entropies = self._sample(logits, rows, [generators[r] for r in alive])
            keep: list[int] = []
            for b, r in enumerate(alive):
                t = int(tokens[b])
                out_ids[r].append(t)
                out_lp[r].append(float(logprobs[b]))
                entropy_sum[r] += float(entropies[b])
                if t in self.eos_ids or (params[r].stop and self._hit_stop(tok, out_ids[r], params[r].stop, texts_checked, r)):
                    finish[r] = "stop"
                elif len(out_ids[r]) >= budget[r]:
                    finish[r] = "length"
                else:
                    keep.append(b)
            if not keep:
                break
            idx = torch.tensor(keep, device=dev)
            last = tokens.to(dev).unsqueeze(-1)
            if len(keep) < len(alive):
                cache = _select_rows(cache, keep, idx)
                last, step_attn, step_pos = last[idx], step_attn[idx], step_pos[idx]
            alive = [alive[b] for b in keep]
            step_ids = last
            step_attn = torch.cat([step_attn, torch.ones((len(alive), 1), dtype=step_attn.dtype, device=dev)], dim=-1)
            step_pos = step_pos[:, -1:] + 1
        completions: list[Completion] = []
        for r in range(n):
            ids = out_ids[r]
            completions.append(
                HFCompletion(
                    text=tok.decode(ids, skip_special_tokens=True),
                    token_ids=ids,
                    logprobs=out_lp[r] if params[r].logprobs else None,
                    finish_reason=finish[r] or "length",  # type: ignore[arg-type]
                    prompt_token_ids=list(prompts[r]),
                    entropy=entropy_sum[r] / max(len(ids), 1),
                )
            )
        return completions

    def _budget(self, prompt_len: int, s: SamplingParams) -> int:
        if self.max_context is None:
            return s.max_new_tokens
        return max(1, min(s.max_new_tokens, self.max_context - prompt_len))

    @staticmethod
    def _hit_stop(tok: Any, ids: list[int], stops: list[str], checked: list[int], r: int) -> bool:
        """True once a stop string appears in the text; only the new tail is searched."""
        text = tok.decode(ids, skip_special_tokens=True)
        longest = max(len(s) for s in stops)
        start = max(0, checked[r] - longest + 1)
        checked[r] = len(text)
        return any(s in text[start:] for s in stops)

    def _sample(
        self, logits: torch.Tensor, params: list[SamplingParams], generators: list[torch.Generator | None]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Sampled token, its reported logprob and the raw entropy, per row."""
        raw = torch.log_softmax(logits, dim=-1)
        entropy = -(raw.exp() * raw).nan_to_num().sum(-1)
        temps = torch.tensor([s.temperature for s in params], dtype=logits.dtype, device=logits.device)
        greedy = temps == 0
        tokens = logits.argmax(-1)
        sampled = (~greedy).nonzero().flatten().tolist()
        if sampled:
            sub = logits[sampled] / temps[sampled].unsqueeze(-1)
            subp = [params[i] for i in sampled]
            order = None
            if any(s.top_k > 0 or s.top_p < 1.0 for s in subp):
                sub, order = sub.sort(dim=-1, descending=True)
                sub = _truncate_sorted(sub, subp)
            probs = torch.softmax(sub, dim=-1)
            cdf = probs.cumsum(-1)
            u = torch.stack([torch.rand((), generator=generators[i], dtype=torch.float64) for i in sampled]).to(cdf.dtype)
            pick = torch.searchsorted(cdf, (u * cdf[:, -1]).unsqueeze(-1), right=True).clamp(max=cdf.shape[-1] - 1)
            if order is not None:
                pick = order.gather(-1, pick)
            tokens[sampled] = pick.squeeze(-1).to(tokens.dtype)
        reported = raw
        if self.logprobs_mode == "processed" and sampled:
            reported = raw.clone()
            reported[sampled] = torch.log_softmax(logits[sampled] / temps[sampled].unsqueeze(-1), dim=-1)
        logprobs = reported.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
        return tokens.cpu(), logprobs.cpu(), entropy.cpu()


def _truncate_sorted(sorted_logits: torch.Tensor, params: list[SamplingParams]) -> torch.Tensor:
    """Top-k then top-p (nucleus) on logits sorted in descending order, per row; keeps >= 1 token."""
    vocab = sorted_logits.shape[-1]
    ranks = torch.arange(vocab, device=sorted_logits.device).unsqueeze(0)
    k = torch.tensor([s.top_k if s.top_k > 0 else vocab for s in params], device=sorted_logits.device).unsqueeze(-1)
    out = sorted_logits.masked_fill(ranks >= k, float("-inf"))
    top_p = torch.tensor([s.top_p for s in params], dtype=out.dtype, device=out.device).unsqueeze(-1)
    probs = torch.softmax(out, dim=-1)
    mass_before = probs.cumsum(-1) - probs
    return out.masked_fill((mass_before > top_p) & (ranks > 0), float("-inf"))


def _select_rows(cache: Any, keep: list[int], idx: torch.Tensor) -> Any:
    """Drop finished rows from the KV cache (``DynamicCache.batch_select_indices`` is in place)."""
    if hasattr(cache, "batch_select_indices"):
        cache.batch_select_indices(idx)
        return cache
    return tuple(tuple(t[idx] for t in layer) for layer in cache)  # legacy tuple caches


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    if path.is_file():
        return load_file(str(path))
    files = sorted(path.glob("*.safetensors"))
    if not files:
        raise FileNotFoundError(f"no *.safetensors weights in {path}")
    state: dict[str, torch.Tensor] = {}
    for f in files:
        state.update(load_file(str(f)))
    return state
