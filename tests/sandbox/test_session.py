"""Sessions: state across calls, soft vs hard timeouts, loss and reopening."""

from __future__ import annotations

import asyncio

import pytest

from turngym.sandbox import SessionLost


def test_state_persists_across_100_calls(backend):
    with backend.session() as s:
        assert s.run("import math\ncounter = 0\nhist = []").ok
        for i in range(100):
            r = s.run(f"counter += 1\nhist.append({i})")
            assert r.status == "ok", r
        r = s.run("print(counter, sum(hist), math.pi > 3)")
        assert r.stdout == "100 4950 True\n"


def test_each_call_captures_only_its_output(backend):
    with backend.session() as s:
        assert s.run("print('a')").stdout == "a\n"
        assert s.run("print('b')").stdout == "b\n"
        r = s.run("raise KeyError('k')")
        assert r.status == "error" and r.error_name == "KeyError" and "KeyError" in r.stderr
        assert s.run("print('still here')").stdout == "still here\n"


def test_soft_timeout_keeps_the_session(backend):
    with backend.session() as s:
        s.run("x = 41")
        r = s.run("while True: pass", timeout=0.5)
        assert r.status == "timeout" and not r.session_lost and s.alive
        assert s.run("print(x + 1)").stdout == "42\n"


def test_hard_kill_reports_loss_and_reopen_works(backend):
    s = backend.session()
    try:
        s.run("x = 1")
        code = "import time\nwhile True:\n    try:\n        time.sleep(10)\n    except BaseException:\n        pass"
        r = s.run(code, timeout=0.3)
        assert r.status == "timeout" and r.session_lost and not s.alive
        with pytest.raises(SessionLost):
            s.run("print(x)")
        s.reopen()
        assert s.alive
        r = s.run("print('x' in globals())")
        assert r.stdout == "False\n"
    finally:
        s.close()


def test_process_death_is_reported(backend):
    with backend.session() as s:
        r = s.run("import os; os._exit(0)")
        assert r.status == "killed" and r.session_lost and not s.alive


def test_limits_inside_a_session(backend):
    with backend.session(memory_mb=256) as s:
        r = s.run("x = bytearray(2 * 2**30)")
        assert r.status == "error" and r.error_name == "MemoryError" and s.alive
        r = s.run("while True: print('y' * 100)")
        assert r.status == "output_limit" and s.alive
        assert s.run("print(1)").stdout == "1\n"


def test_session_files(backend):
    with backend.session() as s:
        r = s.run("open('o.txt','w').write(open('i.txt').read()[::-1])", files={"i.txt": "abc"}, collect_files=["o.txt"])
        assert r.files == {"o.txt": b"cba"}
        assert s.run("print(open('o.txt').read())").stdout == "cba\n"


def test_async_sessions_in_parallel(backend):
    async def one(i: int) -> str:
        s = await backend.asession()
        async with s:
            await s.arun(f"v = {i}")
            return (await s.arun("print(v * 10)")).stdout

    async def main() -> list[str]:
        return await asyncio.gather(*(one(i) for i in range(4)))

    assert asyncio.run(main()) == [f"{i * 10}\n" for i in range(4)]
