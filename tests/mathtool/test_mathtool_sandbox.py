"""MathTool through the real sandbox: hostile code, fuzzed responses, and session lifetime."""

from __future__ import annotations

import os
import time
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import turngym
from turngym.envs.mathtool.tools import SandboxExecutor

HOSTILE = {
    "syntax": "def f(:\n  pass",
    "null_bytes": "print(1)\x00",
    "deep_parens": "(" * 5000,
    "recursion": "def f(n):\n    return f(n + 1)\nf(0)",
    "infinite_loop": "while True:\n    pass",
    "sleep": "import time\ntime.sleep(60)",
    "memory": "x = bytearray(50 * 1024 ** 3)",
    "output_flood": "import sys\nsys.stdout.write('x' * (64 << 20))",
    "exit": "raise SystemExit(3)",
    "hard_exit": "import os\nos._exit(0)",
    "segfault": "import ctypes\nctypes.string_at(0)",
    "kill_parent": "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)",
    "kill_all": "import os, signal\nos.kill(-1, signal.SIGKILL)",
    "socket": "import socket\nsocket.create_connection(('1.1.1.1', 80), timeout=2)",
    "forge_result_channel": "import os\nfor fd in range(3, 64):\n    try:\n        os.write(fd, b'\\x00\\x00\\x00\\x10{\"status\":\"ok\"}')\n    except OSError:\n        pass",
    "fork_many": (
        "import os, time\nkids = 0\nfor _ in range(200):\n    try:\n        pid = os.fork()\n    except OSError:\n        break\n"
        "    if pid == 0:\n        time.sleep(30)\n        os._exit(0)\n    kids += 1\nprint(kids)"
    ),
    "huge_int_str": "print(10 ** 10 ** 7)",
    "unicode": "print('\u2603\udcff')",
    "interrupt_handler": "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\nwhile True:\n    pass",
}


@pytest.fixture(scope="module")
def env():
    e = turngym.make("MathTool-v0", split="test", max_tool_calls=1000, max_turns=2000, code_timeout=1.0)
    yield e
    e.close()


def _cell(src: str) -> str:
    return f"```python\n{src}\n```"


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_code_is_an_error_output_and_the_episode_goes_on(env, name):
    env.reset(seed=0)
    t0 = time.monotonic()
    obs, reward, term, trunc, info = env.step(_cell(HOSTILE[name]))
    assert time.monotonic() - t0 < 30  # bounded by the cell timeout plus the session's grace and restart
    assert obs.startswith("```output\n") and obs.endswith("```\n")
    assert not term and not trunc and reward == 0.0 and info["action_valid"] is True
    assert info["tool_calls"][0]["result"] in ("ok", "error", "timeout", "killed", "output_limit")
    if name not in ("fork_many", "unicode", "kill_parent", "kill_all"):  # harmless there: no parent or peers to reach
        assert info["code_status"] != "ok", (name, obs)
    obs, *_ = env.step(_cell("print(6 * 7)"))  # the tool still works (a killed session is reopened)
    assert obs == "```output\n42\n```\n"


def test_code_cannot_write_outside_its_scratch_directory(env):
    target = f"/tmp/mathtool-escape-{uuid.uuid4().hex}"
    env.reset(seed=0)
    env.step(_cell(f"import os\nos.system('echo pwned > {target}')\nopen({target!r}, 'w').write('pwned')"))
    env.step(_cell(f"import subprocess\nsubprocess.run(['sh', '-c', 'echo pwned > {target}'])"))
    assert not os.path.exists(target)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    prefix=st.text(max_size=40),
    body=st.one_of(st.text(max_size=80), st.sampled_from(["print(1)", "x=", "import os", "1/0", "\\boxed{3}"])),
    wrap=st.sampled_from(["fence", "open_fence", "boxed", "plain", "code_tag", "two_fences"]),
)
def test_fuzzed_responses_never_raise(env, prefix, body, wrap):
    env.reset(seed=1)
    action = {
        "fence": f"{prefix}```python\n{body}\n```",
        "open_fence": f"{prefix}```python\n{body}",
        "boxed": f"{prefix}\\boxed{{{body}}}",
        "plain": prefix + body,
        "code_tag": f"{prefix}<code>{body}</code>",
        "two_fences": f"```python\n{body}\n```{prefix}```python\nprint(2)\n```",
    }[wrap]
    obs, reward, _, _, info = env.step(action)
    assert isinstance(obs, str) and isinstance(reward, float) and isinstance(info["action_valid"], bool)
    if wrap == "two_fences":
        assert obs == "```output\n2\n```\n"  # the last complete block is the one that runs


class _Recording(SandboxExecutor):
    """The real executor; remembers the sessions it opened so the test can look at their processes."""

    def __init__(self) -> None:
        super().__init__("local", memory_mb=256)
        self.opened: list = []

    def open(self):
        runner = super().open()
        self.opened.append(runner.session)
        return runner


def _children(parents: set[int]) -> int:
    n = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        n += ppid in parents
    return n


def _episode(env, i: int) -> None:
    env.reset(seed=i)
    env.step(_cell(f"x = {i}"))
    session = env._runner.session
    obs, *_ = env.step(_cell("print(x + 1)"))
    assert obs.startswith(f"```output\n{i + 1}\n")  # the second turn ran in the first turn's process
    assert env._runner.session is session
    kind = i % 4
    if kind == 0:
        env.step(f"\\boxed{{{env.task.answer}}}")  # terminated by the answer
    elif kind == 1:
        env.step("no answer at the turn limit")  # truncated (max_turns = 3)
    elif kind == 2:
        return  # abandoned mid-episode: the next reset releases it
    else:
        env.step(_cell("import os\nos._exit(1)"))  # a cell that kills its session (reopened in place), then the answer
        env.step("\\boxed{0}")
    assert env._runner is None and not session.alive


@pytest.mark.slow
def test_one_session_per_episode_reused_across_turns_and_released_1000_episodes():
    executor = _Recording()
    env = turngym.make("MathTool-v0", split="train", executor=executor, max_tool_calls=2)
    backend = executor.backend
    parents = set(backend.worker_pids()) | set(backend.fork_server_pids())
    for i in range(8):  # warm up every path (the backend hands out its spare children lazily)
        _episode(env, i)
    fds_before = len(os.listdir("/proc/self/fd"))
    children_before = _children(parents)
    for i in range(1000):
        _episode(env, i)
    env.reset(seed=0)
    assert len(executor.opened) == 1008  # one per episode, no more
    assert all(not s.alive for s in executor.opened)
    time.sleep(0.5)
    assert len(os.listdir("/proc/self/fd")) <= fds_before
    assert _children(parents) <= children_before
    env.close()
