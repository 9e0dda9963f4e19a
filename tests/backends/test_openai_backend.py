"""OpenAIBackend against a scripted OpenAI-compatible server on 127.0.0.1 (see fake_openai_server.py)."""

from __future__ import annotations

import socket

import pytest

from fake_openai_server import FakeOpenAIServer
from turngym.agents.backends.base import Completion, PolicyBackend, SamplingParams
from turngym.agents.backends.errors import BackendUnavailable
from turngym.agents.backends.openai import OpenAIBackend


@pytest.fixture
def server():
    srv = FakeOpenAIServer().start()
    yield srv
    srv.stop()


def backend(srv: FakeOpenAIServer, **kw) -> OpenAIBackend:
    kw.setdefault("backoff", 0.0)
    return OpenAIBackend(srv.base_url, "tiny", **kw)


def expected(key: str) -> tuple[str, list[int], list[float]]:
    text = "ok:" + key
    ids = list(text.encode())
    return text, ids, [-(i + 1) / 10 for i in range(len(ids))]


def test_is_a_policy_backend(server):
    be = backend(server)
    assert isinstance(be, PolicyBackend)
    assert be.generate([], SamplingParams()) == []
    be.close()


def test_completions_token_ids_request_and_response(server):
    be = backend(server, mode="completions")
    sp = SamplingParams(max_new_tokens=50, temperature=0.7, top_p=0.9, top_k=5, stop=["\n"], seed=3)
    [out] = be.generate([[1, 2, 3]], sp)
    kind, body = server.state.requests[-1]
    assert kind == "completions"
    assert body["prompt"] == [1, 2, 3] and body["model"] == "tiny"
    assert (body["max_tokens"], body["temperature"], body["top_p"], body["top_k"], body["seed"]) == (50, 0.7, 0.9, 5, 3)
    assert body["stop"] == ["\n"] and body["logprobs"] == 0
    assert body["return_token_ids"] is True and body["include_stop_str_in_output"] is True
    text, ids, lps = expected("1,2,3")
    assert out == Completion(text=text, token_ids=ids, logprobs=pytest.approx(lps), finish_reason="stop",
                             prompt_token_ids=[1, 2, 3])
    be.close()


def test_chat_messages_map_to_chat_endpoint_with_logprobs(server):
    be = backend(server, mode="chat")
    msgs = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello"}]
    [out] = be.generate([msgs], SamplingParams(max_new_tokens=64))
    kind, body = server.state.requests[-1]
    assert kind == "chat" and body["messages"] == msgs
    assert body["logprobs"] is True and body["top_logprobs"] == 0
    assert "top_k" not in body and "seed" not in body and "stop" not in body
    text, ids, lps = expected("hello")
    assert (out.text, out.token_ids, out.logprobs, out.finish_reason) == (text, ids, pytest.approx(lps), "stop")


def test_text_prompt_routing_per_mode(server):
    chat = backend(server, mode="chat")
    chat.generate(["hi"], SamplingParams())
    assert server.state.requests[-1][0] == "chat"
    assert server.state.requests[-1][1]["messages"] == [{"role": "user", "content": "hi"}]
    comp = backend(server, mode="completions")
    [out] = comp.generate(["hi"], SamplingParams())
    assert server.state.requests[-1][0] == "completions" and server.state.requests[-1][1]["prompt"] == "hi"
    assert out.text == "ok:hi"
    # token ids go to the completions endpoint whatever the mode
    chat.generate([[5, 6]], SamplingParams())
    assert server.state.requests[-1][0] == "completions"


def test_token_ids_recovered_from_token_id_logprob_strings(server):
    """Without ``token_ids`` on the choice, vLLM's ``token_id:N`` logprob tokens give the exact ids."""
    be = backend(server)
    [out] = be.generate(["noids please"], SamplingParams())
    text, ids, lps = expected("noids please")
    assert out.token_ids == ids and out.logprobs == pytest.approx(lps)


class ByteTokenizer:
    """The fake server's tokenizer: UTF-8 bytes (duck-types ``encode``/``apply_chat_template``)."""

    def encode(self, text, add_special_tokens=False):
        return list(text.encode())

    def decode(self, ids, skip_special_tokens=True):
        return bytes(ids).decode(errors="replace")

    def apply_chat_template(self, messages, add_generation_prompt=True, tokenize=True, return_dict=False):
        rendered = "".join(f"<{m['role']}>{m['content']}" for m in messages) + ("<assistant>" if add_generation_prompt else "")
        return self.encode(rendered)


def test_generic_server_falls_back_to_tokenizer_and_appends_stop_reason(server):
    server.state.vllm_fields = False
    be = backend(server, mode="completions", vllm_extensions=False, tokenizer=ByteTokenizer())
    [out] = be.generate(["x stopreason:END"], SamplingParams(stop=["END"]))
    body = server.state.requests[-1][1]
    assert "return_token_ids" not in body and "include_stop_str_in_output" not in body
    text, ids, _ = expected("x stopreason:END")
    assert out.text == text + "END"  # servers strip the stop string; the protocol keeps it
    assert out.token_ids == list((text + "END").encode())
    assert out.logprobs is None  # re-tokenised ids no longer align with the server's logprobs


def test_generic_server_without_tokenizer_keeps_text_and_no_logprobs(server):
    server.state.vllm_fields = False
    be = backend(server, mode="completions", vllm_extensions=False)
    [out] = be.generate(["plain"], SamplingParams())
    assert out.error is None and out.text == "ok:plain" and out.token_ids == [] and out.logprobs is None


def test_messages_in_completions_mode_use_the_chat_template(server):
    be = backend(server, mode="completions", tokenizer=ByteTokenizer())
    msgs = [{"role": "user", "content": "q"}]
    [out] = be.generate([msgs], SamplingParams())
    kind, body = server.state.requests[-1]
    assert kind == "completions" and body["prompt"] == list(b"<user>q<assistant>")
    assert out.prompt_token_ids == list(b"<user>q<assistant>")
    [bad] = backend(server, mode="completions").generate([msgs], SamplingParams())
    assert bad.finish_reason == "error" and "tokenizer" in bad.error


def test_finish_reason_length_and_logprobs_off(server):
    be = backend(server, mode="completions")
    [out] = be.generate(["abcdef"], SamplingParams(max_new_tokens=4, logprobs=False))
    assert "logprobs" not in server.state.requests[-1][1]
    assert out.finish_reason == "length" and out.text == "ok:a" and out.logprobs is None


def test_retries_429_then_succeeds(server):
    be = backend(server, mode="completions", max_retries=3)
    [out] = be.generate(["fail429:2"], SamplingParams())
    assert out.error is None and out.text == "ok:fail429:2"
    assert server.state.attempts["fail429:2"] == 3


def test_persistent_5xx_becomes_a_per_prompt_error(server):
    be = backend(server, mode="completions", max_retries=2)
    outs = be.generate(["fail500:always", "fine"], SamplingParams())
    assert outs[0].finish_reason == "error" and "HTTP 500" in outs[0].error and outs[0].token_ids == []
    assert outs[1].error is None and outs[1].text == "ok:fine"
    assert server.state.attempts["fail500:always"] == 3  # 1 + 2 retries


def test_400_is_not_retried(server):
    be = backend(server, mode="completions", max_retries=3)
    [out] = be.generate(["bad400"], SamplingParams())
    assert out.finish_reason == "error" and "HTTP 400" in out.error
    assert server.state.attempts["bad400"] == 1


@pytest.mark.parametrize("key, needle", [("garbage", "not JSON"), ("nochoices", "malformed"),
                                         ("wrongtype", "malformed")])
def test_garbage_responses_become_errors(server, key, needle):
    be = backend(server, mode="completions")
    outs = be.generate([key, "fine"], SamplingParams())
    assert outs[0].finish_reason == "error" and needle in outs[0].error
    assert outs[1].text == "ok:fine"


def test_timeout_marks_only_the_slow_prompt(server):
    be = backend(server, mode="completions", timeout=0.3, max_retries=1)
    outs = be.generate(["slow:2", "fast"], SamplingParams())
    assert outs[0].finish_reason == "error" and "timed out" in outs[0].error
    assert outs[1].error is None
    assert server.state.attempts["slow:2"] == 2


def test_bad_prompts_are_per_prompt_errors(server):
    be = backend(server)
    outs = be.generate([{"role": "user"}, [1.5, 2.0], [], "ok"], SamplingParams())  # type: ignore[list-item]
    assert [o.finish_reason for o in outs] == ["error", "error", "error", "stop"]
    assert all("bad prompt" in o.error for o in outs[:3])


@pytest.mark.parametrize("limit", [1, 3])
def test_concurrency_limit(server, limit):
    be = backend(server, mode="completions", max_concurrency=limit)
    outs = be.generate([f"slow:0.1 n{i}" for i in range(8)], SamplingParams())
    assert all(o.error is None for o in outs)
    assert [o.text for o in outs] == [f"ok:slow:0.1 n{i}" for i in range(8)]  # order kept
    assert 1 <= server.state.max_in_flight <= limit


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_server_raises_backend_unavailable():
    be = OpenAIBackend(f"http://127.0.0.1:{_free_port()}/v1", "tiny", max_retries=2, backoff=0.01)
    with pytest.raises(BackendUnavailable, match="unreachable after 2 retries"):
        be.generate(["a", "b", "c"], SamplingParams())


def test_server_that_goes_away_raises(server):
    be = backend(server, mode="completions", max_retries=1)
    assert be.generate(["a"], SamplingParams())[0].error is None
    server.stop()
    with pytest.raises(BackendUnavailable):
        be.generate(["a", "b"], SamplingParams())


def test_load_adapter_switches_model_and_reloads(server):
    be = backend(server)
    be.load_adapter("/ckpt/step1", name="pol")
    be.generate(["x"], SamplingParams())
    assert server.state.requests[-1][1]["model"] == "pol"
    be.load_adapter("/ckpt/step2", name="pol")  # same name, new weights: unload, then load
    assert server.state.admin_calls == [("load", {"lora_name": "pol", "lora_path": "/ckpt/step1"}),
                                        ("unload", {"lora_name": "pol"}),
                                        ("load", {"lora_name": "pol", "lora_path": "/ckpt/step2"})]
    assert server.state.loaded_adapters == {"pol": "/ckpt/step2"}
    be.use_base_model()
    be.generate(["x"], SamplingParams())
    assert server.state.requests[-1][1]["model"] == "tiny"


def test_load_adapter_without_server_support_and_load_weights(server):
    server.state.lora_routes = False
    be = backend(server)
    with pytest.raises(NotImplementedError, match="dynamic LoRA"):
        be.load_adapter("/ckpt", name="pol")
    assert be.model == "tiny"
    with pytest.raises(NotImplementedError, match="full weights"):
        be.load_weights({})


def test_constructor_validates_and_close():
    with pytest.raises(ValueError, match="mode"):
        OpenAIBackend("http://127.0.0.1:1/v1", "m", mode="stream")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_concurrency"):
        OpenAIBackend("http://127.0.0.1:1/v1", "m", max_concurrency=0)
    be = OpenAIBackend("http://127.0.0.1:1/v1", "m")
    be.close()
    with pytest.raises(RuntimeError, match="closed"):
        be.generate(["a"], SamplingParams())
