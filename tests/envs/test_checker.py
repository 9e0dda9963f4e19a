"""check_env passes on the built-in envs and names the check and the problem for each broken env."""

from __future__ import annotations

import gymnasium as gym
import pytest

import turngym
from turngym.envs import checker
from turngym.envs.checker import (
    CHECKS,
    CheckReport,
    CheckResult,
    EnvCheckError,
    check_env,
    check_env_id,
    fuzz_inputs,
)

from turngym.envs.toys.keydoor import KeyDoorEnv
from turngym.envs.toys.toolcalc import ToolCalcEnv

import checker_broken_envs as broken

BUILTIN = ["KeyDoor-v0", "ToolCalc-v0"]
CHECK_NAMES = [name for name, _ in CHECKS]


# -- the built-in envs pass ------------------------------------------------------------------------
@pytest.mark.parametrize("env_id", BUILTIN)
def test_builtin_envs_pass(env_id: str) -> None:
    report = check_env(turngym.make(env_id))
    assert report.ok, str(report)
    assert [r.name for r in report.results] == CHECK_NAMES
    assert report.env_id == env_id
    # made by turngym.make, so fresh instances and the oracle are checked too, not skipped
    assert not any(r.skipped for r in report.results), str(report)
    assert "fresh ones" in report.results[CHECK_NAMES.index("determinism")].message


@pytest.mark.parametrize("env_id", BUILTIN)
@pytest.mark.parametrize("seed", [1, 12345])
def test_builtin_envs_pass_by_id(env_id: str, seed: int) -> None:
    report = check_env_id(env_id, seed=seed)
    assert report.ok, str(report)


def test_builtin_env_variants_pass() -> None:
    assert check_env_id("KeyDoor-v0", size=4, hint=False, split="test", max_turns=30).ok
    assert check_env_id("ToolCalc-v0", split="test", invalid_penalty=0.1).ok


def test_expert_env_checked_without_make_fresh() -> None:
    env = KeyDoorEnv(expert=True)  # not made by turngym.make: no spec id
    report = check_env(env)
    expert = report.results[CHECK_NAMES.index("expert")]
    assert expert.passed and not expert.skipped and "won 3 of 3" in expert.message


def test_plain_env_without_factory_skips_expert_and_fresh_instance() -> None:
    report = check_env(ToolCalcEnv())
    assert report.ok
    expert = report.results[CHECK_NAMES.index("expert")]
    assert expert.skipped and expert.message.startswith("skipped:")
    assert "no make_fresh" in report.results[CHECK_NAMES.index("determinism")].message


def test_gymnasium_wrapped_env_passes() -> None:
    turngym.list_envs()  # registers the built-ins and their gymnasium mirrors
    env = gym.make("turngym/KeyDoor-v0")
    report = check_env(env)
    assert report.ok, str(report)
    assert report.env_id == "KeyDoor-v0"


def test_report_str_and_fields() -> None:
    report = check_env_id("KeyDoor-v0", n_fuzz=50)
    text = str(report)
    assert text.splitlines()[0].startswith("check_env KeyDoor-v0: all 7 checks passed")
    for name in CHECK_NAMES:
        assert name in text
    assert all(isinstance(r, CheckResult) and r.seconds >= 0 for r in report.results)
    assert report.failures() == []
    assert "50 hostile inputs" in report.results[CHECK_NAMES.index("fuzz")].message


# -- broken envs fail with the check and the problem named -----------------------------------------
BROKEN = [
    # (factory, failing check, words the message must contain)
    (broken.BirdsongKeyDoor, "determinism", ["observation after step", "differs on replay", "A bird sings"]),
    (broken.LeakyResetKeyDoor, "determinism", ["two resets with seed=0", "different first observations"]),
    (broken.Countdown, "fuzz", ["raised IndexError", "checker_broken_envs.py", "in _step"]),
    (broken.Countdown, "invalid_action", ["raised ValueError: invalid literal for int()"]),
    (broken.ShoutingKeyDoor, "fuzz", ["UnicodeEncodeError", "'\\udcff'"]),
    (broken.EchoKeyDoor, "fuzz", ["observation", "not valid UTF-8"]),
    (broken.StumblingKeyDoor, "invalid_action", ["changed after garbage action"]),
    (lambda: broken.EagerToolCalc(expert=True), "invalid_action", ["expert_action changed after garbage action"]),
    (broken.SkippingCounter, "invalid_action", ["changed the env's state", "'inc' gives anchor", "Counter at 11"]),
    (broken.BytesParrot, "api", ["observation of type bytes, expected str"]),
    (broken.StringRewardParrot, "api", ["reward has type str"]),
    (broken.NumpyInfoKeyDoor, "info_keys", ["info['won']", "numpy.bool", "expected bool", "info['task_id']", "type int, expected str"]),
    (broken.EndlessParrot, "termination", ["did not end within max_turns=10"]),
    (broken.LimitlessParrot, "termination", ["did not end within 60 steps", "no max_turns"]),
    (lambda: broken.LyingOracleKeyDoor(expert=True), "expert", ["did not win within 15 turns", "won=False"]),
    (broken.NotAnEnv, "api", ["not a gymnasium.Env", "does not contain the string 'abc'"]),
    (broken.NotAnEnv, "invalid_action", ["returned action_valid=True, expected False"]),
]


@pytest.mark.parametrize(("factory", "check", "words"), BROKEN, ids=lambda x: getattr(x, "__name__", str(x)))
def test_broken_env_raises_naming_check_and_problem(factory, check: str, words: list[str]) -> None:
    with pytest.raises(EnvCheckError) as caught:
        check_env(factory(), n_fuzz=120)
    message = str(caught.value)
    line = next((ln for ln in message.splitlines() if ln.strip().startswith(f"{check}:")), None)
    assert line is not None, f"{check!r} not named in:\n{message}"
    for word in words:
        assert word in line, f"{word!r} not in {line!r}"
    report = caught.value.report
    assert isinstance(report, CheckReport) and not report.ok
    assert check in [r.name for r in report.failures()]
    assert isinstance(caught.value, AssertionError)


@pytest.mark.parametrize(
    ("factory", "only_failure"),
    [
        (broken.BirdsongKeyDoor, "determinism"),
        (broken.ShoutingKeyDoor, "fuzz"),
        (broken.StumblingKeyDoor, "invalid_action"),
        (broken.SkippingCounter, "invalid_action"),
        (broken.EndlessParrot, "termination"),
        (lambda: broken.LyingOracleKeyDoor(expert=True), "expert"),
    ],
)
def test_single_bug_fails_only_its_check(factory, only_failure: str) -> None:
    report = check_env(factory(), raise_on_error=False)
    assert [r.name for r in report.failures()] == [only_failure], str(report)


def test_expert_check_uses_make_fresh_and_checks_oracle_actions() -> None:
    env = broken.UpperCaseOracleKeyDoor()  # made without expert=True: only make_fresh can show the oracle
    assert check_env(env, raise_on_error=False).ok  # no factory: the expert check is skipped
    with pytest.raises(EnvCheckError) as caught:
        check_env(env, make_fresh=lambda **kw: broken.UpperCaseOracleKeyDoor(**kw))
    assert [r.name for r in caught.value.report.failures()] == ["expert"]
    assert "info['expert_action'] after reset(seed=300) (expert env) = 'GO" in str(caught.value)
    assert "is not in admissible_actions" in str(caught.value)


def test_every_check_runs_after_failures() -> None:
    report = check_env(broken.CrashOnResetKeyDoor(expert=True), raise_on_error=False)
    assert [r.name for r in report.results] == CHECK_NAMES
    assert not any(r.passed for r in report.results)
    for r in report.results:
        assert "raised RuntimeError: task file not found" in r.message, r


def test_raise_on_error_false_returns_report() -> None:
    report = check_env(broken.BirdsongKeyDoor(), raise_on_error=False)
    assert not report.ok
    assert "FAILED" in str(report).splitlines()[0]
    assert "FAIL  determinism" in str(report)


def test_cross_instance_determinism_uses_make_fresh() -> None:
    """Each instance is deterministic on its own; only a fresh instance shows the difference."""

    class PerInstanceKeyDoor(KeyDoorEnv):
        made = 0

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            PerInstanceKeyDoor.made += 1
            self.offset = PerInstanceKeyDoor.made  # e.g. tasks shuffled by an unseeded RNG at __init__

        def _reset(self, options):
            tasks = self.task_ids()
            return super()._reset({"task_id": tasks[(int(self.np_random.integers(len(tasks))) + self.offset) % len(tasks)]})

    assert check_env(PerInstanceKeyDoor(), raise_on_error=False).ok  # no factory: cannot see it
    with pytest.raises(EnvCheckError, match="determinism: reset\\(seed=0\\) on fresh instance 1 gives a different first observation"):
        check_env(PerInstanceKeyDoor(), make_fresh=PerInstanceKeyDoor)


def test_hanging_env_is_reported_not_waited_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checker, "CALL_TIMEOUT_S", 0.3)
    with pytest.raises(EnvCheckError) as caught:
        check_env(broken.HangOnHugeInputKeyDoor(), n_fuzz=60)
    assert "fuzz:" in str(caught.value)
    assert "1,000,000-char string" in str(caught.value)
    assert "did not return within 0.3 s" in str(caught.value)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="max_steps"):
        check_env(turngym.make("KeyDoor-v0"), max_steps=0)


# -- fuzz inputs -----------------------------------------------------------------------------------
def test_fuzz_inputs_cover_the_hostile_kinds() -> None:
    inputs = list(fuzz_inputs(0, 300, lambda: ["go north", "answer[12]"]))
    assert len(inputs) == 300
    assert all(isinstance(s, str) for s in inputs)
    for required in ("", " ", "\udcff", "\x00", "\x1b[2J", "{0}", "%s"):
        assert required in inputs, required
    assert any(len(s) == 1_000_000 for s in inputs)
    assert any(len(s) >= 1000 and s.lstrip("+-").isdigit() for s in inputs)  # a very long number
    assert any(s != "go north" and s.lower() == "go north" for s in inputs)  # different case
    assert any(s.strip().split() == ["go", "north"] and s != "go north" for s in inputs)  # extra spaces
    assert any(s.startswith("answer[") and s != "answer[12]" for s in inputs)  # hostile argument
    assert any(s.count("[") != s.count("]") and "answer" in s for s in inputs)  # unbalanced brackets
    assert any(any(0xD800 <= ord(c) <= 0xDFFF for c in s) for s in inputs[50:])  # random lone surrogates
    assert any(any(ord(c) > 0xFFFF for c in s) for s in inputs)  # astral characters


def test_fuzz_inputs_are_seeded() -> None:
    assert list(fuzz_inputs(3, 120, lambda: ["look"])) == list(fuzz_inputs(3, 120, lambda: ["look"]))
    assert list(fuzz_inputs(3, 120, lambda: ["look"])) != list(fuzz_inputs(4, 120, lambda: ["look"]))
