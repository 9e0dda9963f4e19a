"""A policy backend that talks to any OpenAI-compatible server (vLLM, SGLang, a hosted API) over httpx.

Used for evaluation and by users who serve their policy elsewhere. ``generate`` stays synchronous, as
the protocol asks: one request per prompt, sent from a small thread pool over one pooled
``httpx.Client`` (so ``max_concurrency`` bounds both threads and connections).

Training needs the exact sampled token ids, which the OpenAI schema does not carry. vLLM adds them
when asked (``vllm_extensions=True``): ``return_token_ids`` puts ``token_ids``/``prompt_token_ids`` on
each choice, and ``return_tokens_as_token_ids`` spells every logprob token as ``"token_id:N"`` (a
second source). Without them the ids come from re-tokenising the text with ``tokenizer``, which is
exact only when the tokenizer round-trips the text. With both exact ids and a tokenizer, the text is
``decode(ids)`` so that ids and text never disagree (the hf and vllm backends do the same).

Failure policy (what the rollout engine relies on): 429, 5xx, timeouts and connection errors are
retried with exponential backoff. A prompt that still fails, or whose response is garbage, comes back
as ``Completion(error=..., finish_reason="error")``. A server that cannot be reached at all after the
retries raises ``BackendUnavailable`` for the whole call.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Any, Literal

import httpx

from turngym.agents.backends.base import BackendPrompt, Completion, SamplingParams
from turngym.agents.backends.errors import BackendUnavailable

log = logging.getLogger(__name__)

_RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
_MAX_SLEEP_S = 30.0


class _RequestFailed(Exception):
    """One prompt failed for good (not retryable, or out of retries); becomes ``Completion.error``."""


class _ServerGone(Exception):
    """The server could not be reached after every retry."""


class OpenAIBackend:
    """Generate through ``{base_url}/chat/completions`` or ``{base_url}/completions``.

    ``base_url`` is the API root as the ``openai`` client spells it, e.g. ``http://127.0.0.1:8000/v1``.
    Prompt routing: token ids always go to the completions endpoint (the exact context, no template);
    chat messages go to the chat endpoint in ``mode="chat"`` and are rendered with ``tokenizer``'s
    chat template in ``mode="completions"``; text goes to the completions endpoint in
    ``mode="completions"`` and is sent as one user message in ``mode="chat"``.
    """

    name = "openai"

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        mode: Literal["chat", "completions"] = "chat",
        timeout: float = 120.0,
        max_retries: int = 3,
        backoff: float = 0.5,
        max_concurrency: int = 16,
        tokenizer: Any = None,
        vllm_extensions: bool = True,
        extra_body: dict[str, Any] | None = None,
    ) -> None:
        if mode not in ("chat", "completions"):
            raise ValueError(f"mode must be 'chat' or 'completions', got {mode!r}")
        if max_retries < 0 or backoff < 0 or timeout <= 0 or max_concurrency < 1:
            raise ValueError(
                "need max_retries >= 0, backoff >= 0, timeout > 0, max_concurrency >= 1; got "
                f"{max_retries=}, {backoff=}, {timeout=}, {max_concurrency=}"
            )
        self.base_url = base_url.rstrip("/")
        self.base_model = model
        self.model = model  # switched to an adapter name by load_adapter
        self.mode = mode
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_concurrency = max_concurrency
        self.vllm_extensions = vllm_extensions
        self.extra_body = dict(extra_body or {})
        self._tokenizer_spec = tokenizer
        self._tokenizer: Any = None
        self._adapters: set[str] = set()
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            base_url=self.base_url + "/",
            headers=headers,
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(max_connections=max_concurrency, max_keepalive_connections=max_concurrency),
        )
        self._closed = False

    # ------------------------------------------------------------------ protocol
    def generate(self, prompts: list[BackendPrompt], sampling: SamplingParams) -> list[Completion]:
        if self._closed:
            raise RuntimeError("OpenAIBackend is closed")
        if not prompts:
            return []
        gone = threading.Event()
        results: list[Completion | None] = [None] * len(prompts)

        def one(i: int) -> None:
            if gone.is_set():
                return
            try:
                results[i] = self._generate_one(prompts[i], sampling, gone)
            except _ServerGone as exc:
                gone.set()
                raise BackendUnavailable(
                    f"OpenAI-compatible server at {self.base_url} is unreachable after "
                    f"{self.max_retries} retries: {exc}"
                ) from exc

        workers = min(self.max_concurrency, len(prompts))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="turngym-openai") as pool:
            futures = [pool.submit(one, i) for i in range(len(prompts))]
            wait(futures, return_when=FIRST_EXCEPTION)
            failed = next((f for f in futures if f.done() and f.exception() is not None), None)
            if failed is not None:
                gone.set()  # the other workers stop at their next retry instead of waiting it out
                for f in futures:
                    f.cancel()
        if failed is not None:
            raise failed.exception()  # type: ignore[misc]
        return [r if r is not None else _error("no result") for r in results]

    def load_weights(self, source: Any) -> None:
        raise NotImplementedError(
            "An OpenAI-compatible server cannot take new full weights over the API: restart the "
            "server on the new checkpoint, serve LoRA adapters (load_adapter), or use the 'vllm' / "
            "'hf' backend for in-place weight updates."
        )

    def load_adapter(self, path: str, name: str = "default") -> None:
        """Load a peft LoRA adapter into the server (vLLM's ``/v1/load_lora_adapter``) and use it.

        The server must run with ``--enable-lora`` and ``VLLM_ALLOW_RUNTIME_LORA_UPDATING=True``.
        Re-loading a name unloads the old adapter first, so a new checkpoint under the same name
        takes effect.
        """
        if name in self._adapters:
            self._post_admin("unload_lora_adapter", {"lora_name": name}, allow_missing=True)
            self._adapters.discard(name)
        self._post_admin("load_lora_adapter", {"lora_name": name, "lora_path": str(path)})
        self._adapters.add(name)
        self.model = name

    def use_base_model(self) -> None:
        """Generate with the base model again (adapters stay loaded on the server)."""
        self.model = self.base_model

    def close(self) -> None:
        if not self._closed:
            self._client.close()
            self._closed = True

    def __enter__(self) -> OpenAIBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ requests
    def _generate_one(self, prompt: BackendPrompt, sampling: SamplingParams, gone: threading.Event) -> Completion:
        try:
            endpoint, body, prompt_ids = self._build_request(prompt, sampling)
        except (TypeError, ValueError) as exc:
            return _error(f"bad prompt: {exc}")
        try:
            payload = self._post_with_retries(endpoint, body, gone)
        except _RequestFailed as exc:
            return _error(str(exc))
        try:
            return self._parse(endpoint, payload, sampling, prompt_ids)
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            return _error(f"malformed response from {endpoint}: {type(exc).__name__}: {exc}; "
                          f"body={_short(payload)}")

    def _build_request(
        self, prompt: BackendPrompt, sampling: SamplingParams
    ) -> tuple[str, dict[str, Any], list[int] | None]:
        body: dict[str, Any] = {"model": self.model, **_sampling_body(sampling)}
        prompt_ids: list[int] | None = None
        if isinstance(prompt, str):
            if self.mode == "chat":
                endpoint, body["messages"] = "chat/completions", [{"role": "user", "content": prompt}]
            else:
                endpoint, body["prompt"] = "completions", prompt
        elif isinstance(prompt, list) and all(isinstance(t, int) and not isinstance(t, bool) for t in prompt):
            if not prompt:
                raise ValueError("empty token-id prompt")
            endpoint, body["prompt"], prompt_ids = "completions", list(prompt), list(prompt)
        elif isinstance(prompt, list) and all(isinstance(m, dict) and "role" in m for m in prompt):
            if not prompt:
                raise ValueError("empty message list")
            if self.mode == "chat":
                endpoint, body["messages"] = "chat/completions", list(prompt)
            else:
                tok = self._get_tokenizer()
                if tok is None:
                    raise ValueError("chat messages in mode='completions' need a tokenizer for the chat template")
                endpoint = "completions"
                prompt_ids = list(tok.apply_chat_template(prompt, add_generation_prompt=True, tokenize=True,
                                                          return_dict=False))
                body["prompt"] = prompt_ids
        else:
            raise TypeError(f"prompt must be token ids, text or chat messages, got {_short(prompt)}")

        if sampling.logprobs:
            if endpoint == "chat/completions":
                body["logprobs"], body["top_logprobs"] = True, 0
            else:
                body["logprobs"] = 0
        if self.vllm_extensions:
            body["return_token_ids"] = True
            body["return_tokens_as_token_ids"] = True
            body["include_stop_str_in_output"] = True  # the protocol keeps stop strings in the text
        body.update(self.extra_body)
        return endpoint, body, prompt_ids

    def _post_with_retries(self, endpoint: str, body: dict[str, Any], gone: threading.Event) -> Any:
        last, retry_after = "", None
        for attempt in range(self.max_retries + 1):
            if attempt:
                if gone.is_set():
                    raise _ServerGone(last)
                time.sleep(self._delay(attempt, retry_after))
            retry_after = None
            try:
                resp = self._client.post(endpoint, json=body)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError, httpx.ReadError,
                    httpx.WriteError) as exc:
                # Connection refused/reset: the server may be restarting; if it never answers it is gone.
                last = f"{type(exc).__name__}: {exc}"
                if attempt == self.max_retries:
                    raise _ServerGone(last) from exc
                continue
            except httpx.TimeoutException as exc:
                last = f"timed out after {self.timeout:g}s ({type(exc).__name__})"
                if attempt == self.max_retries:
                    raise _RequestFailed(last) from exc
                continue
            if resp.status_code in _RETRY_STATUS:
                last = f"HTTP {resp.status_code}: {_short(resp.text)}"
                retry_after = _retry_after(resp)
                if attempt == self.max_retries:
                    raise _RequestFailed(last + f" (after {self.max_retries} retries)")
                continue
            if resp.status_code >= 400:
                raise _RequestFailed(f"HTTP {resp.status_code}: {_short(resp.text)}")
            try:
                return resp.json()
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise _RequestFailed(f"response is not JSON: {_short(resp.text)}") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        delay = self.backoff * 2 ** (attempt - 1)
        if retry_after is not None:
            delay = max(delay, retry_after)
        return min(delay, _MAX_SLEEP_S)

    def _post_admin(self, endpoint: str, body: dict[str, Any], *, allow_missing: bool = False) -> None:
        try:
            resp = self._client.post(endpoint, json=body)
        except httpx.TransportError as exc:
            raise BackendUnavailable(f"OpenAI-compatible server at {self.base_url} is unreachable: {exc}") from exc
        if resp.status_code in (404, 405):
            if allow_missing:
                return
            raise NotImplementedError(
                f"{self.base_url}/{endpoint} is not available (HTTP {resp.status_code}): this server does not "
                "support dynamic LoRA loading. For vLLM start it with --enable-lora and the environment "
                "variable VLLM_ALLOW_RUNTIME_LORA_UPDATING=True."
            )
        if resp.status_code >= 400 and not allow_missing:
            raise RuntimeError(f"{endpoint} failed with HTTP {resp.status_code}: {_short(resp.text)}")

    # ------------------------------------------------------------------ responses
    def _parse(
        self, endpoint: str, payload: Any, sampling: SamplingParams, prompt_ids: list[int] | None
    ) -> Completion:
        choice = payload["choices"][0]
        if not isinstance(choice, dict):
            raise TypeError(f"choice is {type(choice).__name__}, not an object")
        chat = endpoint == "chat/completions"
        if chat:
            message = choice["message"]
            text = message.get("content") or ""
        else:
            text = choice["text"]
        if not isinstance(text, str):
            raise TypeError(f"completion text is {type(text).__name__}")

        stop_reason = choice.get("stop_reason")
        if not self.vllm_extensions and isinstance(stop_reason, str) and stop_reason in sampling.stop:
            text += stop_reason  # servers strip the stop string; the protocol keeps it
        logprobs, lp_tokens = _logprobs(choice.get("logprobs"), chat) if sampling.logprobs else (None, None)
        token_ids = choice.get("token_ids")
        if token_ids is not None and self._get_tokenizer() is not None:
            # The exact ids are the truth: vLLM's text stops right after a stop string even inside a
            # token and holds back an incomplete UTF-8 tail, so ids would decode to more than the text.
            text = self._get_tokenizer().decode([int(t) for t in token_ids], skip_special_tokens=True)
        if token_ids is None and lp_tokens is not None:
            token_ids = _ids_from_logprob_tokens(lp_tokens)
        if token_ids is None:
            tok = self._get_tokenizer()
            token_ids = list(tok.encode(text, add_special_tokens=False)) if tok is not None else []
        token_ids = [int(t) for t in token_ids]
        if logprobs is not None and len(logprobs) != len(token_ids):
            # Re-tokenised ids (or none) that do not line up with the server's tokens: a logprob per
            # token is the contract, so drop them rather than mis-align; the trainer recomputes.
            log.warning("dropping %d logprobs that do not align with %d recovered token ids "
                        "(use a vLLM server or pass the policy's tokenizer)", len(logprobs), len(token_ids))
            logprobs = None

        finish = choice.get("finish_reason")
        server_prompt_ids = choice.get("prompt_token_ids") or payload.get("prompt_token_ids")
        return Completion(
            text=text,
            token_ids=token_ids,
            logprobs=logprobs,
            finish_reason="length" if finish == "length" else "stop",
            prompt_token_ids=[int(t) for t in server_prompt_ids] if server_prompt_ids else prompt_ids,
        )

    def _get_tokenizer(self) -> Any:
        if self._tokenizer is None and self._tokenizer_spec is not None:
            if isinstance(self._tokenizer_spec, str):
                from transformers import AutoTokenizer

                self._tokenizer = AutoTokenizer.from_pretrained(self._tokenizer_spec)
            else:
                self._tokenizer = self._tokenizer_spec
        return self._tokenizer


# ---------------------------------------------------------------------- helpers (pure)
def _sampling_body(s: SamplingParams) -> dict[str, Any]:
    body: dict[str, Any] = {"max_tokens": s.max_new_tokens, "temperature": s.temperature, "top_p": s.top_p, "n": 1}
    if s.top_k > 0:
        body["top_k"] = s.top_k  # vLLM/SGLang extension; hosted OpenAI rejects it, so only when used
    if s.stop:
        body["stop"] = list(s.stop)
    if s.seed is not None:
        body["seed"] = s.seed
    return body


def _logprobs(raw: Any, chat: bool) -> tuple[list[float] | None, list[str] | None]:
    """Sampled-token logprobs and their token strings, from either endpoint's logprobs object."""
    if raw is None:
        return None, None
    if chat:
        content = raw.get("content") or []
        return [float(c["logprob"]) for c in content], [str(c["token"]) for c in content]
    values = raw["token_logprobs"]
    return [float(v) if v is not None else float("-inf") for v in values], [str(t) for t in raw.get("tokens") or []]


def _ids_from_logprob_tokens(tokens: list[str]) -> list[int] | None:
    """vLLM's ``return_tokens_as_token_ids`` spells each token ``"token_id:N"``."""
    if not tokens or not all(t.startswith("token_id:") for t in tokens):
        return None
    return [int(t.split(":", 1)[1]) for t in tokens]


def _retry_after(resp: httpx.Response) -> float | None:
    value = resp.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _error(message: str) -> Completion:
    return Completion(text="", token_ids=[], logprobs=None, finish_reason="error", error=message)


def _short(obj: Any, limit: int = 300) -> str:
    text = obj if isinstance(obj, str) else repr(obj)
    return text if len(text) <= limit else text[:limit] + "..."
