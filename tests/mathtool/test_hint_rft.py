"""START Hint-infer (the backend wrapper) and the Hint-RFT data pipeline, with a tiny model on CPU."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from turngym.agents.backends.base import Completion, SamplingParams
from turngym.agents.backends.hf import HFBackend
from turngym.agents.hint import HintBackend, HintedCompletion
from turngym.cli.main import app
from turngym.models.tiny import ensure_model_dir

PY_HINT = "Wait, maybe using Python here is a good idea."


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    torch.set_num_threads(1)
    return HFBackend.from_pretrained(ensure_model_dir(tmp_path_factory.mktemp("tiny")))


def _completion(backend, text, finish="stop"):
    ids = backend.tokenizer.encode(text, add_special_tokens=False)
    return Completion(text=backend.tokenizer.decode(ids), token_ids=ids, finish_reason=finish)


def test_insertion_points(tiny):
    hb = HintBackend(tiny, hints=[PY_HINT])
    sp = SamplingParams(stop=["```\n"])
    text = "The sum is 12. Wait, let me recount. Alternatively add them."
    assert hb._insertion_point(_completion(tiny, text), sp) == text.index("Wait")
    assert hb._insertion_point(_completion(tiny, text), sp, start=text.index("Wait") + 4) == text.index("Alternatively")
    assert hb._insertion_point(_completion(tiny, "So \\boxed{3}"), sp) == len("So \\boxed{3}")  # stopped by itself
    assert hb._insertion_point(_completion(tiny, "x\n```python\nprint(1)\n```\n"), sp) is None  # a tool call, not a stop
    assert hb._insertion_point(_completion(tiny, "cut off", "length"), sp) is None
    assert HintBackend(tiny, at_length=True)._insertion_point(_completion(tiny, "cut off", "length"), sp) == len("cut off")
    assert HintBackend(tiny, at_stop=False)._insertion_point(_completion(tiny, "So \\boxed{3}"), sp) is None
    assert hb._insertion_point(_completion(tiny, "Waiting is fine"), sp) == len("Waiting is fine")  # whole words only


def test_token_prefix_keeps_the_models_own_tokens(tiny):
    hb = HintBackend(tiny)
    text = "The sum is 12. Wait, let me recount."
    ids = tiny.tokenizer.encode(text, add_special_tokens=False)
    keep = hb._token_prefix(ids, text.index("Wait"))
    assert ids[: len(keep)] == keep
    assert tiny.tokenizer.decode(keep).rstrip() == "The sum is 12."


def test_hinted_generation_continues_after_the_hint(tiny):
    prompts = [[{"role": "user", "content": "What is 2 + 3?"}], [{"role": "user", "content": "Compute 7 * 6."}]]
    sp = SamplingParams(max_new_tokens=12, temperature=1.0, seed=3)
    plain = tiny.generate(prompts, [sp, sp])
    hb = HintBackend(tiny, hints=[PY_HINT], at_length=True, triggers=())
    hinted = hb.generate(prompts, [sp, sp])
    for p, h in zip(plain, hinted):
        assert p.finish_reason == "length"  # a random tiny model runs to the limit
        assert isinstance(h, HintedCompletion) and h.logprobs is None
        (offset, hint), = h.hints
        assert hint == PY_HINT and h.text[offset : offset + len(PY_HINT)] == PY_HINT
        n = len(p.token_ids)
        assert h.token_ids[:n] == p.token_ids  # the model's own tokens come first, unchanged
        hint_ids = tiny.tokenizer.encode("\n" + PY_HINT, add_special_tokens=False)
        assert h.token_ids[n : n + len(hint_ids)] == hint_ids and len(h.token_ids) > n + len(hint_ids)
    # deterministic under the sampling seed
    again = HintBackend(tiny, hints=[PY_HINT], at_length=True, triggers=()).generate(prompts, [sp, sp])
    assert [c.token_ids for c in again] == [c.token_ids for c in hinted]


@pytest.mark.slow
def test_hint_rft_cli_keeps_exactly_the_tasks_only_the_hint_solved(tmp_path):
    # gcd-test-0 has the answer 1, gcd-test-1..3 do not; a random tiny model never writes \boxed{1}
    # by itself, and the hint hands it that answer: only gcd-test-0 is solved by the hinted run alone.
    out = tmp_path / "rft" / "data.jsonl"
    args = ["hint-rft", "--out", str(out), "--tiny", "--samples", "2", "--max-new-tokens", "16", "--at-length",
            "--hint", "Wait, maybe the answer is \\boxed{1}.", "--env-kwarg", "max_tool_calls=1", "--env-kwarg", "split=test"]
    for t in ("gcd-test-0", "gcd-test-1", "gcd-test-2", "gcd-test-3"):
        args += ["--task-id", t]
    res = CliRunner(env={"COLUMNS": "200"}).invoke(app, args)
    assert res.exit_code == 0, res.output
    summary = json.loads(out.with_suffix(".summary.json").read_text())
    assert summary["plain_solved"] == 0 and summary["hinted_solved"] == 1 and summary["kept"] == 1
    assert summary["kept_task_ids"] == ["gcd-test-0"] and summary["hinted_episodes"] == 8
    (record,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert record["task_id"] == "gcd-test-0" and record["env_id"] == "MathTool-v0" and record["reward"] == 1.0
    assert "\\boxed{1}" in record["completion"] and record["hints"] == ["Wait, maybe the answer is \\boxed{1}."]
    assert "Find the Greatest Common Divisor" in record["prompt"]


def test_hint_rft_cli_rejects_bad_arguments(tmp_path):
    res = CliRunner().invoke(app, ["hint-rft", "--out", str(tmp_path / "x.jsonl")])
    assert res.exit_code == 2 and "--model DIR or --tiny" in res.output
    res = CliRunner().invoke(app, ["hint-rft", "--out", str(tmp_path / "x.jsonl"), "--tiny", "--env-kwarg", "nonsense"])
    assert res.exit_code == 2 and "KEY=VALUE" in res.output


def test_a_trigger_word_in_the_models_own_text_is_replaced_by_the_hint(tiny):
    import re

    prompts = [[{"role": "user", "content": "What is 2 + 3?"}]]
    sp = SamplingParams(max_new_tokens=24, temperature=1.0, seed=11)
    (plain,) = tiny.generate(prompts, [sp])
    words = re.findall(r"\b[A-Za-z]{3,}\b", plain.text)
    assert words, plain.text
    trigger = words[len(words) // 2]  # a word the model wrote by itself plays "Wait"
    (hinted,) = HintBackend(tiny, hints=[PY_HINT], triggers=(trigger,), at_stop=False).generate(prompts, [sp])
    cut = re.search(rf"\b{re.escape(trigger)}\b", plain.text).start()
    (offset, hint), = hinted.hints
    assert hint == PY_HINT and hinted.text[offset:].startswith(PY_HINT)
    assert hinted.text[:offset].rstrip() == plain.text[:cut].rstrip()  # the model's text before its trigger is kept
    keep = HintBackend(tiny)._token_prefix(list(plain.token_ids), cut)
    assert hinted.token_ids[: len(keep)] == keep
