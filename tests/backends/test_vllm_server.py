"""OpenAIBackend against a real vLLM OpenAI server on 127.0.0.1, checked against plain transformers.

Run: `.venv-vllm/bin/python -m pytest -m vllm tests/backends`. The server takes 20-60 s to start on
2 cores, hence also `slow`.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest
import torch
from tiny_policy import hf_greedy, load_hf, load_hf_with_adapter, requires_vllm

from turngym.agents.backends.base import SamplingParams
from turngym.agents.backends.openai import OpenAIBackend

pytestmark = [pytest.mark.vllm, pytest.mark.slow, requires_vllm]

N_NEW = 16
GREEDY = SamplingParams(max_new_tokens=N_NEW, temperature=0.0)
STARTUP_TIMEOUT_S = 300


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tiny_model_dir, tmp_path_factory):
    port = _free_port()
    log_path = tmp_path_factory.mktemp("vllm-server") / "server.log"
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1", "VLLM_ALLOW_RUNTIME_LORA_UPDATING": "True"}
    cmd = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(tiny_model_dir),
           "--served-model-name", "tiny", "--host", "127.0.0.1", "--port", str(port), "--dtype", "float32",
           "--enforce-eager", "--max-model-len", "512", "--seed", "0", "--enable-lora", "--max-lora-rank", "8"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"vLLM server exited with {proc.returncode}:\n{log_path.read_text()[-4000:]}")
            try:
                if httpx.get(base + "/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"vLLM server not healthy after {STARTUP_TIMEOUT_S}s:\n{log_path.read_text()[-4000:]}")
            time.sleep(1)
        yield base + "/v1"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tiny_model_dir))


@pytest.fixture(scope="module")
def hf_model(tiny_model_dir):
    torch.set_num_threads(1)
    return load_hf(tiny_model_dir)


def _check(out, ref_ids, ref_lps, tokenizer):
    assert out.error is None, out.error
    assert out.token_ids == ref_ids
    assert out.logprobs is not None and out.logprobs == pytest.approx(ref_lps, abs=2e-3)
    # without a tokenizer the text is the server's, which may hold back an incomplete UTF-8 tail
    assert tokenizer.decode(out.token_ids, skip_special_tokens=True).startswith(out.text.rstrip("\ufffd"))


def test_completions_token_ids_and_text_match_hf(server, tokenizer, hf_model, tiny_model_dir):
    prompts = [tokenizer.encode(t, add_special_tokens=False) for t in ("Your hands are empty.", "go north then")]
    with OpenAIBackend(server, "tiny", mode="completions", max_concurrency=2) as be:
        outs = be.generate([prompts[0], "go north then"], GREEDY)
    with OpenAIBackend(server, "tiny", mode="completions", tokenizer=str(tiny_model_dir)) as be:
        decoded = be.generate([prompts[0]], GREEDY)[0]
    ref = hf_greedy(hf_model, prompts, N_NEW)
    for out, p, (ids, lps) in zip(outs, prompts, ref):
        assert out.prompt_token_ids == p
        _check(out, ids, lps, tokenizer)
    assert decoded.token_ids == outs[0].token_ids
    assert decoded.text == tokenizer.decode(decoded.token_ids, skip_special_tokens=True)


def test_chat_matches_hf_on_the_chat_template(server, tokenizer, hf_model):
    msgs = [{"role": "system", "content": "You are an agent."}, {"role": "user", "content": "Exits: north, south."}]
    prompt_ids = tokenizer.encode(tokenizer.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False),
                                  add_special_tokens=False)
    with OpenAIBackend(server, "tiny", mode="chat") as be:
        [out] = be.generate([msgs], GREEDY)
        sampled = be.generate([msgs] * 3, SamplingParams(max_new_tokens=N_NEW, temperature=1.0, top_k=20, seed=1))
    assert out.prompt_token_ids == prompt_ids
    [(ids, lps)] = hf_greedy(hf_model, [prompt_ids], N_NEW)
    _check(out, ids, lps, tokenizer)
    for s in sampled:
        assert s.error is None and len(s.logprobs) == len(s.token_ids) > 0


def test_runtime_lora_loading_matches_peft(server, tokenizer, tiny_model_dir, lora_dir, hf_model):
    prompt = tokenizer.encode("The key is north-west.", add_special_tokens=False)
    with OpenAIBackend(server, "tiny", mode="completions") as be:
        [base] = be.generate([prompt], GREEDY)
        be.load_adapter(str(lora_dir), name="policy")
        [adapted] = be.generate([prompt], GREEDY)
        be.load_adapter(str(lora_dir), name="policy")  # reload under the same name (unload + load)
        [again] = be.generate([prompt], GREEDY)
        be.use_base_model()
        [base_again] = be.generate([prompt], GREEDY)
    [(ids, lps)] = hf_greedy(load_hf_with_adapter(tiny_model_dir, lora_dir), [prompt], N_NEW)
    _check(adapted, ids, lps, tokenizer)
    assert again.token_ids == adapted.token_ids
    assert adapted.token_ids != base.token_ids and base_again.token_ids == base.token_ids
