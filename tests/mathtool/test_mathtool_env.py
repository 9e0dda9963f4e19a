"""MathTool-v0: registration, the checker, the tool protocol, rewards, the oracle and determinism."""

from __future__ import annotations

import re

import gymnasium
import pytest
from typer.testing import CliRunner

import turngym
from turngym.cli.main import app
from turngym.envs.checker import check_env_id
from turngym.envs.mathtool import MathToolEnv
from turngym.envs.mathtool.env import LAST_CALL_NOTICE


def code(src: str, tags: str = "markdown") -> str:
    block = f"```python\n{src}\n```"
    return f"Let me compute.\n{block}" if tags == "markdown" else f"Let me compute.\n<code>\n{block}\n</code>"


def play_oracle(env: MathToolEnv, **reset):
    obs, info = env.reset(**reset)
    observations, total = [obs], 0.0
    while True:
        obs, reward, term, trunc, info = env.step(info["expert_action"])
        observations.append(obs)
        total += reward
        if term or trunc:
            return observations, total, info


def test_registered_builtin_and_gymnasium_make():
    env = gymnasium.make("turngym/MathTool-v0", split="test")
    obs, info = env.reset(seed=0)
    assert isinstance(env.unwrapped, MathToolEnv)
    assert "\\boxed{}" in obs and info["task_id"] and info["question"] in obs
    env.close()
    res = CliRunner(env={"COLUMNS": "200"}).invoke(app, ["envs"])
    assert res.exit_code == 0 and "MathTool-v0" in res.output


def test_turngym_check_passes():
    report = check_env_id("MathTool-v0", seed=0, n_fuzz=200, raise_on_error=False)
    assert report.ok, str(report)
    assert not any(r.skipped for r in report.results), str(report)


def test_fixed_info_keys_and_expert_flag():
    env = turngym.make("MathTool-v0", split="test", expert=True)
    obs, info = env.reset(options={"task_id": "lcm-test-3"})
    assert {"task_id", "anchor", "action_valid", "won", "expert_action", "ground_truth", "question"} <= set(info)
    assert info["task_id"] == "lcm-test-3" and info["action_valid"] is True and info["won"] is False
    assert "```python" in info["expert_action"]
    obs, _, _, _, info = env.step(info["expert_action"])
    assert obs.startswith("```output\n") and info["tool_calls"][0]["name"] == "python" and info["code_status"] == "ok"
    assert "\\boxed{" in info["expert_action"]
    env.close()
    plain = turngym.make("MathTool-v0", split="test")
    _, info = plain.reset(seed=1)
    assert "expert_action" not in info
    plain.close()


@pytest.mark.slow
def test_oracle_solves_the_200_task_test_split_through_the_sandbox():
    env = turngym.make("MathTool-v0", split="test", expert=True)
    ids = env.task_ids("test")
    assert len(ids) == 200 and len({i.split("-")[0] for i in ids}) == 7
    won = 0
    for tid in ids:
        observations, _, info = play_oracle(env, options={"task_id": tid})
        assert observations[1].startswith("```output\n")  # the reference code really ran in the sandbox
        won += info["won"]
    env.close()
    assert won / len(ids) >= 0.99, won


def test_determinism_per_seed():
    a = turngym.make("MathTool-v0", split="test", expert=True)
    b = turngym.make("MathTool-v0", split="test", expert=True)
    for seed in (0, 7, 123):
        assert play_oracle(a, seed=seed) == play_oracle(b, seed=seed)
    assert a.task_ids("test") == b.task_ids("test")
    tasks = {a.reset(seed=s)[1]["task_id"] for s in range(20)}
    assert len(tasks) > 10  # seeds pick different tasks
    # the pinned split: the same id is the same problem on every instance (and machine)
    a.reset(options={"task_id": "simple_equations-train-11"})
    b.reset(options={"task_id": "simple_equations-train-11"})
    assert a.question == b.question and a.task.answer == b.task.answer
    a.close()
    b.close()


def test_session_state_persists_within_an_episode_and_not_across():
    env = turngym.make("MathTool-v0", split="test")
    env.reset(seed=0)
    obs, *_ = env.step(code("x = 20 + 1"))
    assert obs == "```output\n(no output)\n```\n"
    obs, *_ = env.step(code("print(x * 2)"))
    assert obs == "```output\n42\n```\n"
    env.reset(seed=0)
    obs, _, _, _, info = env.step(code("print(x)"))
    assert "NameError" in obs and info["code_status"] == "error"
    env.close()


def test_one_line_fences_and_the_tir_projection():
    from turngym.agents.parsing import make_projection

    env = turngym.make("MathTool-v0", split="test")
    env.reset(seed=0)
    assert env.step("```python print(6 * 7)```")[0] == "```output\n42\n```\n"  # what a player types in one line
    tir = make_projection("tir")
    response = "First x.\n```python\nx = 3\nprint(x)\n```\n```output\n3 (imagined)\n```"
    assert tir(response).action == "First x.\n```python\nx = 3\nprint(x)\n```"
    assert tir("So \\boxed{4}").action == "So \\boxed{4}" and not tir("  ").parsed
    assert make_projection("tir", tags="retool").stop == ("</code>",) and tir.stop == ("```\n",)
    env.close()


def test_torl_truncation_and_retool_tags():
    env = turngym.make("MathTool-v0", split="test", output_head=10, output_tail=5)
    env.reset(seed=0)
    obs, *_ = env.step(code("print('a' * 30 + 'b' * 30)"))
    assert obs == "```output\n" + "a" * 10 + "..." + "b" * 5 + "\n```\n"
    env.close()
    env = turngym.make("MathTool-v0", split="test", tags="retool")
    obs, _ = env.reset(seed=0)
    assert "<code>" in obs
    obs, *_ = env.step(code("print(6 * 7)", tags="retool"))
    assert obs == "<interpreter>\n42\n</interpreter>\n"
    # a markdown fence outside <code> tags is not a tool call in ReTool mode
    obs, _, _, _, info = env.step(code("print(1)"))
    assert info["action_valid"] is False and info["void_turn"] is True
    env.close()


def test_tool_call_budget_notice_and_no_execution_after():
    env = turngym.make("MathTool-v0", split="test", max_tool_calls=2, max_turns=6)
    env.reset(options={"task_id": "gcd-test-0"})
    obs, *_ = env.step(code("print(1)"))
    assert LAST_CALL_NOTICE not in obs
    obs, *_ = env.step(code("print(2)"))
    assert obs.endswith(f"2\n{LAST_CALL_NOTICE}\n```\n")
    obs, r, term, _, info = env.step(code("print(3)"))
    assert info["action_valid"] is False and "not run" in obs and not term
    answer = env.task.answer
    obs, r, term, _, info = env.step(code("print(3)") + f"\nSo \\boxed{{{answer}}}")
    assert term and info["won"] and r == 1.0 and info["tool_calls_used"] == 2
    env.close()


@pytest.mark.parametrize("kind,right,wrong,right_after_error", [("binary", 1.0, 0.0, 1.0), ("pm1", 1.0, -1.0, 1.0), ("pm1_error", 1.0, -1.0, 0.5)])
def test_reward_variants(kind, right, wrong, right_after_error):
    env = turngym.make("MathTool-v0", split="test", reward=kind)
    env.reset(options={"task_id": "basic_arithmetic-test-2"})
    answer = env.task.answer
    assert env.step(f"It is \\boxed{{{answer}}}.")[1] == right
    env.reset(options={"task_id": "basic_arithmetic-test-2"})
    assert env.step("It is \\boxed{123456789}.")[1] == wrong
    env.reset(options={"task_id": "basic_arithmetic-test-2"})
    obs, r, *_ = env.step(code("1 / 0"))
    assert "ZeroDivisionError" in obs and r == 0.0
    assert env.step(f"\\boxed{{{answer}}}")[1] == right_after_error
    env.close()


def test_turn_limit_without_answer_scores_as_wrong():
    env = turngym.make("MathTool-v0", split="test", max_tool_calls=1)  # max_turns = 2
    env.reset(seed=0)
    _, r1, _, trunc1, _ = env.step(code("print(1)"))
    _, r2, term, trunc2, info = env.step("I am not sure.")
    assert (r1, trunc1) == (0.0, False) and trunc2 and not term and r2 == -1.0
    assert info["void_turn"] and info["episode_void"]
    env.close()


def test_void_turns_are_invalid_and_marked():
    env = turngym.make("MathTool-v0", split="test", invalid_penalty=0.1)
    env.reset(seed=3)
    obs, r, term, _, info = env.step("Let me write code.\n```python\nx = 1\n")  # cut off inside its code
    assert info["action_valid"] is False and info["void_turn"] and info["episode_void"] and r == pytest.approx(-0.1)
    assert "not closed" in obs and not term
    obs, *_ , info = env.step(code("print(5)"))
    assert info["void_turn"] is False and info["episode_void"] is True and obs == "```output\n5\n```\n"
    obs, r, term, _, info = env.step("   ")
    assert info["action_valid"] is False and info["void_turn"] and obs.startswith("Empty response.") and not term
    env.close()
    last = turngym.make("MathTool-v0", split="test", max_tool_calls=0)  # one turn: an empty answer is a wrong one
    last.reset(seed=0)
    _, r, _, trunc, info = last.step("")
    assert trunc and r == -1.0 and info["void_turn"]
    last.close()


def test_checkable_answer_protocol():
    env = turngym.make("MathTool-v0", split="test")
    env.reset(options={"task_id": "fraction_simplification-test-0"})
    assert "\\boxed{}" in env.answer_spec()
    gold = env.task.answer  # a/b or \dfrac{a}{b}
    num, den = re.findall(r"\d+", gold)
    assert env.question and env.question in env.reset(options={"task_id": "fraction_simplification-test-0"})[0]
    assert env.check_answer(f"So the result is \\boxed{{{gold}}}.") == 1.0
    assert env.check_answer(f"I get \\boxed{{{num}/{den}}}") == 1.0
    assert env.check_answer(f"\\boxed{{{int(num) + 1}/{den}}}") == 0.0
    assert env.check_answer(f"{num}/{den} without a box") == 0.0
    assert env.answer_key(f"\\boxed{{{num}/{den}}}") == env.answer_key(f"so \\boxed{{\\frac{{{num}}}{{{den}}}}}")
    assert env.answer_key(f"\\boxed{{{num}/{den}}}") != env.answer_key("\\boxed{7}")
    assert env.answer_key("no answer here") is None
    assert env.answer_key("\\boxed{0.5}") == env.answer_key("\\boxed{\\frac{1}{2}}") == env.answer_key("\\boxed{1/2}")
    fresh = MathToolEnv(split="test")
    with pytest.raises(RuntimeError, match="reset"):
        fresh.check_answer("\\boxed{1}")
    env.close()


def test_bad_settings_fail_clearly():
    with pytest.raises(ValueError, match="reward"):
        MathToolEnv(reward="nope")
    with pytest.raises(ValueError, match="tags"):
        MathToolEnv(tags="xml")
    with pytest.raises(ValueError, match="sources"):
        MathToolEnv(sources=["gsm8k"])
    env = MathToolEnv()
    with pytest.raises(ValueError, match="not a MathTool task id"):
        env.reset(options={"task_id": "nonsense"})
    with pytest.raises(ValueError, match="not a task of this env"):
        env.reset(options={"task_id": "gsm8k-test-1"})


def test_missing_extra_names_the_install_command(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "champ_dataset", None)  # ``import champ_dataset`` now raises ImportError
    from turngym.envs.mathtool.data import MissingMathExtra

    with pytest.raises(MissingMathExtra, match=r"pip install 'turngym\[math\]'"):
        MathToolEnv()
