import pytest

import turngym
from turngym.envs.toys.keydoor import KeyDoorEnv
from turngym.envs.toys.toolcalc import ToolCalcEnv, safe_eval


def _play_expert(env, seed):
    obs, info = env.reset(seed=seed)
    observations = [obs]
    for _ in range(env.max_turns):
        obs, reward, term, trunc, info = env.step(info["expert_action"] if "expert_action" in info else "look")
        observations.append(obs)
        if term or trunc:
            return info["won"], reward, observations
    return False, 0.0, observations


@pytest.mark.parametrize("env_id", ["KeyDoor-v0", "ToolCalc-v0"])
def test_oracle_wins_every_task(env_id):
    env = turngym.make(env_id, expert=True)
    for seed in range(40):
        won, reward, _ = _play_expert(env, seed)
        assert won and reward == 1.0


def test_keydoor_splits_are_pinned_and_disjoint():
    env = KeyDoorEnv()
    train, test = env.task_ids("train"), env.task_ids("test")
    assert not set(train) & set(test)
    assert len(train) + len(test) == len(env.task_ids("all")) == 9 * 8 * 8
    assert 0.15 < len(test) / (len(train) + len(test)) < 0.25
    obs, info = env.reset(options={"task_id": test[0]})
    assert info["task_id"] == test[0]
    obs, info = env.reset(seed=0, options={"split": "test"})
    assert info["task_id"] in test


def test_keydoor_states_recur_within_an_episode():
    env = KeyDoorEnv()
    obs, info = env.reset(seed=0)
    first_anchor = info["anchor"]
    exits = [a for a in info["admissible_actions"] if a.startswith("go ")]
    back = {"go north": "go south", "go south": "go north", "go east": "go west", "go west": "go east"}
    env.step(exits[0])
    _, _, _, _, info = env.step(back[exits[0]])
    assert info["anchor"] == first_anchor
    assert "Your task is to" not in first_anchor


def test_invalid_actions_keep_state_and_penalise():
    env = KeyDoorEnv(invalid_penalty=0.05)
    _, info = env.reset(seed=5)
    before = (info["anchor"], info["admissible_actions"])
    for garbage in ["", "fly", "go up", "\x00\x1b[2J", "x" * 100_000, "\udcff", b"\xff\xfe", None, 42]:
        obs, reward, term, trunc, info = env.step(garbage)
        assert info["action_valid"] is False and reward == -0.05 and not term
        if trunc:
            break
        assert (info["anchor"], info["admissible_actions"]) == before
    assert "Nothing happens" in obs


def test_truncation_by_turn_limit_and_step_after_end():
    env = KeyDoorEnv(max_turns=3)
    env.reset(seed=0)
    flags = [env.step("look")[2:4] for _ in range(3)]
    assert flags == [(False, False), (False, False), (False, True)]
    obs, reward, term, trunc, info = env.step("look")
    assert term and reward == 0.0 and "finished episode" in info["error"]
    with pytest.raises(ValueError, match="max_turns"):
        KeyDoorEnv(max_turns=0)


def test_same_seed_same_observations():
    a, b = turngym.make("KeyDoor-v0", expert=True), turngym.make("KeyDoor-v0", expert=True)
    assert _play_expert(a, 11)[2] == _play_expert(b, 11)[2]


def test_toolcalc_tool_turn_and_ground_truth():
    env = ToolCalcEnv(expert=True)
    obs, info = env.reset(seed=2)
    assert "Choices:" in obs and info["ground_truth"]
    obs, reward, term, trunc, info = env.step(info["expert_action"])
    assert obs.startswith("Result: ") and info["tool_calls"][0]["name"] == "calculate" and not term
    assert obs == f"Result: {info['ground_truth']}"
    obs, reward, term, trunc, info = env.step("calculate[__import__('os')]")
    assert info["action_valid"] is False and "Calculator error" in obs
    obs, reward, term, trunc, info = env.step("answer[-1]")
    assert term and reward == 0.0 and info["won"] is False and info["action_valid"] is True


@pytest.mark.parametrize(
    "expr,value", [("2+3*4", 14), ("(7-2)//2", 2), ("-3*-3", 9), ("10/4", 2.5)]
)
def test_safe_eval(expr, value):
    assert safe_eval(expr) == value


@pytest.mark.parametrize("expr", ["2**9999", "9" * 300, "a+1", "1/0", "[1]", "10**13*10", "9" * 200, "-" + "9" * 199,
                                  "1" + "0" * 12 + "1", "1e999", "-1e999", "1e13", "(" * 40 + "9" * 20 + ")" * 40])
def test_safe_eval_rejects(expr):
    """Every value is bounded, literals too: a bare 200-digit number used to pass (the bound was
    only checked on the results of operators)."""
    with pytest.raises(ValueError):
        safe_eval(expr)


def test_toolcalc_rejects_a_bare_huge_number_as_an_invalid_action():
    env = ToolCalcEnv()
    env.reset(seed=0)
    obs, reward, term, trunc, info = env.step("calculate[" + "9" * 200 + "]")
    assert info["action_valid"] is False and "too large" in obs and not term


class _Unprintable:
    def __str__(self):
        raise RuntimeError("no str for you")


class _HostileStr(str):
    def strip(self, *a):
        raise RuntimeError("hostile strip")

    def lower(self):
        raise RuntimeError("hostile lower")

    def __eq__(self, other):
        raise RuntimeError("hostile eq")

    __hash__ = str.__hash__


class _StrReturnsHostile:
    def __str__(self):
        return _HostileStr("look")


class _HostileBytes(bytes):
    def decode(self, *a, **k):
        raise RuntimeError("hostile decode")

    def __bytes__(self):
        raise RuntimeError("hostile bytes")


@pytest.mark.parametrize("env_id", ["KeyDoor-v0", "ToolCalc-v0"])
@pytest.mark.parametrize("action", [_Unprintable(), _HostileStr("answer[1]"), _StrReturnsHostile(), _HostileBytes(b"look"),
                                    bytearray(b"\xff"), None, 12, object()], ids=lambda a: type(a).__name__)
def test_step_never_raises_on_hostile_objects(env_id, action):
    """The env contract: invalid input is an invalid action, never an exception (``coerce_action``)."""
    env = turngym.make(env_id)
    env.reset(seed=3)
    obs, reward, term, trunc, info = env.step(action)
    assert isinstance(obs, str) and isinstance(info["action_valid"], bool)
    if not (term or trunc):  # the env still works
        assert env.step("look" if env_id == "KeyDoor-v0" else "answer[0]")[4]["action_valid"] is True
