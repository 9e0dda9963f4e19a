"""A scripted OpenAI-compatible HTTP server on 127.0.0.1, the test double at the network boundary.

The real ``OpenAIBackend`` (httpx, retries, thread pool, parsing) talks to it over a real socket. The
"model" is deterministic so tests can predict every field: the completion text is ``"ok:" + key`` where
``key`` is the prompt (text, last message content, or token ids joined by ``,``), its token ids are the
UTF-8 bytes of the text, and token ``i`` has logprob ``-(i + 1) / 10``. A prompt key can script the
server's behaviour:

- ``fail429:N`` / ``fail500:N``: answer 429 / 500 to the first N requests with this key, then succeed
  (N = ``always`` never succeeds).
- ``bad400``: 400 with an OpenAI error body.  ``slow:S``: sleep S seconds before answering.
- ``garbage``: a 200 whose body is not JSON.  ``nochoices``: JSON without ``choices``.
- ``wrongtype``: ``choices[0].text`` is a number.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse


@dataclass
class ServerState:
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    attempts: Counter = field(default_factory=Counter)
    in_flight: int = 0
    max_in_flight: int = 0
    lora_routes: bool = True  # serve /v1/load_lora_adapter
    vllm_fields: bool = True  # honour return_token_ids / return_tokens_as_token_ids
    loaded_adapters: dict[str, str] = field(default_factory=dict)
    admin_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _key(body: dict[str, Any]) -> str:
    if "messages" in body:
        return str(body["messages"][-1]["content"])
    prompt = body["prompt"]
    return ",".join(map(str, prompt)) if isinstance(prompt, list) else str(prompt)


def _script(key: str, state: ServerState) -> tuple[str, float]:
    """('ok' | 'status:NNN' | 'garbage' | 'nochoices' | 'wrongtype', delay)."""
    with state.lock:
        state.attempts[key] += 1
        n = state.attempts[key]
    for code in ("429", "500"):
        tag = f"fail{code}:"
        if tag in key:
            limit = key.split(tag, 1)[1].split()[0]
            if limit == "always" or n <= int(limit):
                return f"status:{code}", 0.0
    if "bad400" in key:
        return "status:400", 0.0
    delay = float(key.split("slow:", 1)[1].split()[0]) if "slow:" in key else 0.0
    for mode in ("garbage", "nochoices", "wrongtype"):
        if mode in key:
            return mode, delay
    return "ok", delay


def make_app(state: ServerState) -> FastAPI:
    app = FastAPI()

    async def handle(kind: str, request: Request) -> Any:
        body = await request.json()
        with state.lock:
            state.requests.append((kind, body))
            state.in_flight += 1
            state.max_in_flight = max(state.max_in_flight, state.in_flight)
        try:
            key = _key(body)
            action, delay = _script(key, state)
            if delay:
                await asyncio.sleep(delay)
            else:
                await asyncio.sleep(0.02)  # long enough for concurrent requests to overlap
            if action.startswith("status:"):
                code = int(action.split(":")[1])
                headers = {"Retry-After": "0"} if code == 429 else {}
                return JSONResponse({"error": {"message": f"scripted {code}", "code": code}}, code, headers)
            if action == "garbage":
                return PlainTextResponse("<html>502 upstream</html>", 200)
            if action == "nochoices":
                return {"id": "x", "object": "text_completion"}
            return _completion(kind, body, key, wrong_type=action == "wrongtype", vllm=state.vllm_fields)
        finally:
            with state.lock:
                state.in_flight -= 1

    @app.post("/v1/completions")
    async def completions(request: Request) -> Any:
        return await handle("completions", request)

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Any:
        return await handle("chat", request)

    @app.post("/v1/load_lora_adapter")
    async def load_lora(request: Request) -> Any:
        body = await request.json()
        if not state.lora_routes:
            return JSONResponse({"detail": "Not Found"}, 404)
        state.admin_calls.append(("load", body))
        if body["lora_name"] in state.loaded_adapters:
            return JSONResponse({"error": {"message": "already loaded"}}, 400)
        state.loaded_adapters[body["lora_name"]] = body["lora_path"]
        return PlainTextResponse("Success")

    @app.post("/v1/unload_lora_adapter")
    async def unload_lora(request: Request) -> Any:
        body = await request.json()
        if not state.lora_routes:
            return JSONResponse({"detail": "Not Found"}, 404)
        state.admin_calls.append(("unload", body))
        state.loaded_adapters.pop(body["lora_name"], None)
        return PlainTextResponse("Success")

    return app


def _completion(kind: str, body: dict[str, Any], key: str, *, wrong_type: bool, vllm: bool) -> dict[str, Any]:
    text = "ok:" + key
    ids = list(text.encode())[: body.get("max_tokens", 10**6)]
    text = bytes(ids).decode(errors="replace")
    finish = "length" if len(ids) == body.get("max_tokens") else "stop"
    lps = [-(i + 1) / 10 for i in range(len(ids))]
    as_ids = vllm and body.get("return_tokens_as_token_ids")
    tokens = [f"token_id:{t}" if as_ids else chr(t) for t in ids]
    choice: dict[str, Any] = {"index": 0, "finish_reason": finish}
    if kind == "chat":
        choice["message"] = {"role": "assistant", "content": text}
        if body.get("logprobs"):
            choice["logprobs"] = {"content": [{"token": t, "logprob": lp, "top_logprobs": []}
                                              for t, lp in zip(tokens, lps)]}
    else:
        choice["text"] = 123 if wrong_type else text
        if body.get("logprobs") is not None:
            choice["logprobs"] = {"tokens": tokens, "token_logprobs": lps, "top_logprobs": None,
                                  "text_offset": list(range(len(ids)))}
    if vllm and body.get("return_token_ids") and not key.startswith("noids"):
        choice["token_ids"] = ids
        choice["prompt_token_ids"] = body["prompt"] if isinstance(body.get("prompt"), list) else [7, 7]
    if "stopreason:" in key:
        choice["stop_reason"] = key.split("stopreason:", 1)[1].split()[0]
    return {"id": "cmpl-1", "object": kind, "model": body["model"], "choices": [choice]}


class FakeOpenAIServer:
    """Runs ``make_app`` under uvicorn in a thread on a free loopback port."""

    def __init__(self) -> None:
        self.state = ServerState()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        config = uvicorn.Config(make_app(self.state), log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> FakeOpenAIServer:
        self._thread.start()
        for _ in range(500):
            if self._server.started:
                return self
            self._thread.join(0.01)
        raise RuntimeError("fake OpenAI server did not start")

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)
        self._sock.close()
