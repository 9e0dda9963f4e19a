"""The in-process HF backend on a tiny Qwen2 model: exact logprobs, stops, seeds, weights, adapters."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"

import pytest
import torch

from turngym.agents.backends.base import Completion, PolicyBackend, SamplingParams
from turngym.agents.backends.hf import HFBackend
from turngym.models import ensure_model_dir, load_model_and_tokenizer

torch.set_num_threads(1)

MESSAGES = [{"role": "user", "content": "You are in the center room. Exits: north, south."}]
PROMPTS = [
    MESSAGES,
    "Question: how many apples? calculate[3*4]",
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Your task is to: take the key."}],
    "go",
]


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory):
    return ensure_model_dir(tmp_path_factory.getbasetemp() / "tiny-model", "tiny", seed=0)


@pytest.fixture(scope="module")
def backend(tiny_dir):
    return HFBackend.from_pretrained(tiny_dir, batch_size=8)


def _recompute(model, completion, temperature=1.0):
    ids = torch.tensor([completion.prompt_token_ids + completion.token_ids])
    with torch.no_grad():
        logits = model(ids).logits[0].float() / temperature
    logp = torch.log_softmax(logits, -1)
    start = len(completion.prompt_token_ids) - 1
    return [logp[start + i, t].item() for i, t in enumerate(completion.token_ids)]


def test_implements_the_protocol(backend):
    assert isinstance(backend, PolicyBackend) and backend.name == "hf"


def test_raw_logprobs_match_a_forward_pass(backend):
    outs = backend.generate(PROMPTS, SamplingParams(max_new_tokens=10, temperature=0.7, top_p=0.9, seed=1))
    assert len(outs) == len(PROMPTS)
    for out in outs:
        assert out.error is None and len(out.token_ids) == len(out.logprobs) >= 1
        assert out.logprobs == pytest.approx(_recompute(backend.model, out), abs=1e-4)
        assert out.text == backend.tokenizer.decode(out.token_ids, skip_special_tokens=True)
        assert out.entropy is not None and out.entropy > 0


def test_processed_logprobs_use_the_temperature(tiny_dir):
    b = HFBackend.from_pretrained(tiny_dir, logprobs_mode="processed")
    out = b.generate([MESSAGES], SamplingParams(max_new_tokens=8, temperature=0.5, seed=2))[0]
    assert out.logprobs == pytest.approx(_recompute(b.model, out, temperature=0.5), abs=1e-4)
    assert out.logprobs != pytest.approx(_recompute(b.model, out), abs=1e-3)


def test_greedy_matches_transformers_generate(backend):
    outs = backend.generate(PROMPTS, SamplingParams(max_new_tokens=12, temperature=0))
    for prompt, out in zip(PROMPTS, outs):
        ids = backend.encode_prompt(prompt)
        ref = backend.model.generate(torch.tensor([ids]), max_new_tokens=12, do_sample=False, pad_token_id=backend.pad_id)
        assert out.token_ids == ref[0, len(ids) :].tolist()[: len(out.token_ids)]
    # top-k 1 and a tiny nucleus are greedy too
    assert [o.token_ids for o in backend.generate(PROMPTS, SamplingParams(max_new_tokens=12, top_k=1, seed=5))] == [o.token_ids for o in outs]
    assert [o.token_ids for o in backend.generate(PROMPTS, SamplingParams(max_new_tokens=12, top_p=1e-6, seed=5))] == [o.token_ids for o in outs]


def test_seeded_sampling_is_independent_of_the_batch(backend):
    params = SamplingParams(max_new_tokens=16, temperature=1.0, seed=11)
    batch = backend.generate(PROMPTS, params)
    for prompt, out in zip(PROMPTS, batch):
        alone = backend.generate([prompt], params)[0]
        assert alone.token_ids == out.token_ids
    per_prompt = [SamplingParams(max_new_tokens=16, seed=s) for s in (1, 2, 3, 4)]
    a = backend.generate([MESSAGES] * 4, per_prompt)
    b = backend.generate([MESSAGES] * 4, list(reversed(per_prompt)))
    assert [o.token_ids for o in a] == [o.token_ids for o in reversed(b)]
    assert len({tuple(o.token_ids) for o in a}) > 1  # different seeds, different samples
    unseeded = {tuple(o.token_ids) for o in backend.generate([MESSAGES] * 6, SamplingParams(max_new_tokens=16))}
    assert len(unseeded) > 1


def test_stop_strings_cut_after_the_completing_token(backend):
    free = backend.generate([MESSAGES], SamplingParams(max_new_tokens=40, seed=7))[0]
    # pick a stop string from the middle of the free-running text so it must trigger
    text = free.text  # (a replacement char may be half of a multi-byte char: not a usable stop string)
    stop = next(text[i : i + 2] for i in range(len(text) // 2, len(text) - 1) if text[i : i + 2].strip() and "\ufffd" not in text[i : i + 2])
    out = backend.generate([MESSAGES], SamplingParams(max_new_tokens=40, seed=7, stop=[stop]))[0]
    tok = backend.tokenizer
    assert out.finish_reason == "stop" and stop in out.text
    assert stop not in tok.decode(out.token_ids[:-1], skip_special_tokens=True)  # nothing kept past the stop
    assert out.token_ids == free.token_ids[: len(out.token_ids)]
    assert out.text == tok.decode(out.token_ids, skip_special_tokens=True)


def test_length_and_eos_finish_reasons(backend):
    out = backend.generate([MESSAGES], SamplingParams(max_new_tokens=5, temperature=0))[0]
    assert out.finish_reason == "length" and len(out.token_ids) == 5
    eos_b = HFBackend(backend.model, backend.tokenizer)
    eos_b.eos_ids = {out.token_ids[2]}  # make the third greedy token an end-of-sequence token
    stopped = eos_b.generate([MESSAGES], SamplingParams(max_new_tokens=5, temperature=0))[0]
    assert stopped.finish_reason == "stop" and stopped.token_ids == out.token_ids[:3]  # EOS kept in the ids


def test_prompt_forms_and_bad_prompts(backend):
    ids = backend.encode_prompt(MESSAGES)
    text = backend.tokenizer.apply_chat_template(MESSAGES, tokenize=False, add_generation_prompt=True)
    outs = backend.generate([MESSAGES, ids, [], [10**9], 3.5, [{"x": 1}]], SamplingParams(max_new_tokens=4, temperature=0))
    assert outs[0].prompt_token_ids == outs[1].prompt_token_ids == ids == backend.tokenizer.encode(text, add_special_tokens=False)
    assert outs[0].token_ids == outs[1].token_ids
    for bad in outs[2:]:
        assert isinstance(bad, Completion) and bad.error and bad.finish_reason == "error" and bad.token_ids == []
    with pytest.raises(ValueError):
        backend.generate([MESSAGES], [SamplingParams(), SamplingParams()])


def test_shares_the_module_and_reloads_weights(tiny_dir):
    model, tok = load_model_and_tokenizer(tiny_dir)
    b = HFBackend(model, tok)
    assert b.model is model
    greedy = SamplingParams(max_new_tokens=8, temperature=0)
    base = b.generate(PROMPTS, greedy)
    with torch.no_grad():  # a trainer update, in place
        model.lm_head.weight.add_(torch.randn_like(model.lm_head.weight) * 0.5)
    changed = b.generate(PROMPTS, greedy)
    assert [o.token_ids for o in changed] != [o.token_ids for o in base]
    b.load_weights(tiny_dir)  # back to the checkpoint on disk
    assert [o.token_ids for o in b.generate(PROMPTS, greedy)] == [o.token_ids for o in base]
    b.load_weights({k: v.clone() for k, v in model.state_dict().items()})
    with pytest.raises(ValueError, match="unexpected"):
        b.load_weights({"not.a.weight": torch.zeros(1)})


def test_load_lora_adapter_matches_peft(tiny_dir, tmp_path):
    from peft import LoraConfig, get_peft_model

    model, tok = load_model_and_tokenizer(tiny_dir)
    torch.manual_seed(0)
    config = LoraConfig(r=4, lora_alpha=32, target_modules=["q_proj", "v_proj", "o_proj", "down_proj"], init_lora_weights=False)
    peft_model = get_peft_model(model, config)
    peft_model.save_pretrained(tmp_path / "adapter")
    greedy = SamplingParams(max_new_tokens=8, temperature=0)
    expected = HFBackend(peft_model, tok).generate(PROMPTS, greedy)

    fresh_model, fresh_tok = load_model_and_tokenizer(tiny_dir)
    b = HFBackend(fresh_model, fresh_tok)
    base = b.generate(PROMPTS, greedy)
    b.load_adapter(str(tmp_path / "adapter"), name="a1")
    got = b.generate(PROMPTS, greedy)
    assert [o.token_ids for o in got] == [o.token_ids for o in expected]
    assert [o.token_ids for o in got] != [o.token_ids for o in base]
    for o in b.generate(PROMPTS, SamplingParams(max_new_tokens=6, seed=3)):
        assert o.logprobs == pytest.approx(_recompute(b.model, o), abs=1e-4)


def test_reports_throughput(backend):
    backend.generate(PROMPTS, SamplingParams(max_new_tokens=6, temperature=0))
    stats = backend.last_stats
    assert stats["prompts"] == 4 and stats["new_tokens"] == 24 and stats["tok_per_s"] > 0


def test_rejects_bad_configuration(backend):
    with pytest.raises(ValueError):
        HFBackend(backend.model, backend.tokenizer, batch_size=0)
    with pytest.raises(ValueError):
        HFBackend(backend.model, backend.tokenizer, logprobs_mode="sampled")
