"""CheckableAnswer on ToolCalc-v0 and SearchQA-v0: grading free-text final answers."""

from __future__ import annotations

import turngym
from turngym.envs.answers import CheckableAnswer, question_text


def test_toolcalc_checks_free_text_answers():
    env = turngym.make("ToolCalc-v0").unwrapped
    obs, info = env.reset(seed=4)
    assert isinstance(env, CheckableAnswer) and "answer[" in env.answer_spec()
    truth = info["ground_truth"]
    assert question_text(env, info, obs) == info["question"] and env.question in info["question"]
    assert env.check_answer(f"Let me think... answer[{truth}]") == 1.0
    assert env.check_answer(f"answer[{truth}] no wait answer[{int(truth) + 1}]") == 0.0  # the last answer counts
    assert env.check_answer(f"answer[{truth}.0]") == 1.0 and env.answer_key(f"answer[ {truth}.0 ]") == truth
    assert env.answer_key("answer[abc] and nothing else") is None and env.check_answer("") == 0.0
    assert env.answer_key("answer[" + "9" * 40 + "]") is None  # out of range, not an answer


def test_searchqa_checks_free_text_answers():
    env = turngym.make("SearchQA-v0", size="tiny").unwrapped
    obs, info = env.reset(seed=2)
    assert isinstance(env, CheckableAnswer) and "<answer>" in env.answer_spec()
    truth = info["ground_truth"]
    assert question_text(env, info, obs) == info["question"] and obs.endswith(info["question"])
    assert env.check_answer(f"<think>hm</think><answer> The {truth}! </answer>") == 1.0
    assert env.answer_key(f"<answer>{truth.upper()}</answer>") == env.answer_key(f"<answer>the {truth}</answer>")
    assert env.check_answer("<answer>nobody at all</answer>") == 0.0 and env.answer_key("<answer> </answer>") is None
    f1 = turngym.make("SearchQA-v0", size="tiny", reward="f1").unwrapped
    seed = 0
    while (truth := f1.reset(seed=seed)[1]["ground_truth"]).lower() in ("yes", "no"):  # yes/no answers match exactly
        seed += 1
    assert 0.0 < f1.check_answer(f"<answer>{truth} and more words</answer>") < 1.0
