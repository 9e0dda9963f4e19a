"""Behaviour of the local backend on ordinary code: results, files, limits, concurrency."""

from __future__ import annotations

import asyncio
import threading

import pytest

from turngym.sandbox import ExecResult, capabilities


def test_print_and_ok(backend):
    r = backend.run("print(1+1)")
    assert r.status == "ok" and r.stdout == "2\n" and r.exit_code == 0 and r.stderr == ""


def test_exception_fields_and_user_traceback(backend):
    r = backend.run("def f():\n    return 1/0\nf()")
    assert r.status == "error" and r.error_name == "ZeroDivisionError" and r.error_value == "division by zero"
    assert "<cell>" in r.traceback and "line 2" in r.traceback and "worker.py" not in r.traceback
    assert "ZeroDivisionError" in r.stderr and r.exit_code == 1


def test_syntax_error(backend):
    r = backend.run("def (:")
    assert r.status == "error" and r.error_name == "SyntaxError"


@pytest.mark.parametrize(("code", "status", "exit_code"), [
    ("raise SystemExit(0)", "ok", 0), ("import sys; sys.exit(3)", "error", 3), ("import os; os._exit(5)", "error", 5),
    ("import os; os._exit(0)", "ok", 0),
])
def test_exit_codes(backend, code, status, exit_code):
    r = backend.run(code)
    assert (r.status, r.exit_code) == (status, exit_code)


def test_stdin_and_stderr(backend):
    r = backend.run("import sys\nx = sys.stdin.read()\nprint(x.upper()); print('warn', file=sys.stderr)", stdin="abc")
    assert r.stdout == "ABC\n" and r.stderr == "warn\n"


def test_files_in_and_out(backend):
    r = backend.run("data = open('in/a.txt').read()\nopen('out.txt', 'w').write(data * 2)",
                    files={"in/a.txt": "hi", "b.bin": b"\x00\x01"}, collect_files=True)
    assert r.status == "ok"
    assert r.files == {"out.txt": b"hihi"}  # unchanged inputs are not returned
    r = backend.run("open('x', 'w').write('1'); open('y', 'w').write('2')", collect_files=["y"])
    assert r.files == {"y": b"2"}


def test_scratch_wiped_between_runs(backend):
    assert backend.run("open('left.txt', 'w').write('x')").ok
    for _ in range(3):  # whichever worker serves it
        r = backend.run("import os; print(os.listdir('.'))")
        assert r.stdout == "[]\n"


def test_bad_input_is_a_clear_error(backend):
    with pytest.raises(ValueError, match="relative path"):
        backend.run("pass", files={"/etc/passwd": "x"})
    with pytest.raises(ValueError, match="relative path"):
        backend.run("pass", files={"../up": "x"})
    with pytest.raises(ValueError, match="timeout"):
        backend.run("pass", timeout=-1)
    with pytest.raises(ValueError, match="memory_mb"):
        backend.run("pass", memory_mb=10**9)
    with pytest.raises(TypeError, match="code must be a str"):
        backend.run(b"print(1)")


def test_preimports_and_sympy(backend):
    r = backend.run("import sympy, numpy as np\nx = sympy.Symbol('x')\nprint(sympy.factor(x**2 - 1), np.arange(3).sum())")
    assert r.stdout == "(x - 1)*(x + 1) 3\n"


def test_rngs_reseeded_per_run(backend):
    code = "import random, numpy as np; print(random.random(), np.random.rand())"
    outs = {backend.run(code).stdout for _ in range(4)}
    assert len(outs) == 4


def test_env_is_cleared(backend):
    r = backend.run("import os; print(sorted(os.environ))")
    names = eval(r.stdout)
    assert "PYTEST_CURRENT_TEST" not in names and "VIRTUAL_ENV" not in names and "HOME" in names


def test_memory_limit_per_call(backend):
    r = backend.run("x = bytearray(300 * 2**20)", memory_mb=128)
    assert r.status == "error" and r.error_name == "MemoryError"
    assert backend.run("x = bytearray(100 * 2**20); print(len(x))", memory_mb=512).stdout == "104857600\n"


def test_result_roundtrip():
    r = ExecResult(status="ok", stdout="a", files={"f": b"\xff"})
    assert ExecResult.from_dict(r.to_dict()) == r
    with pytest.raises(ValueError, match="unknown ExecResult status"):
        ExecResult(status="weird")


def test_capabilities_report_layers(backend):
    caps = backend.capabilities()
    static = capabilities()
    assert static["rlimits"] is True
    if static["landlock"] is True:
        assert caps["layers"]["landlock"] is True
    if static["seccomp"] is True:
        assert caps["layers"]["seccomp"] is True
    assert caps["layers"]["rlimits"] is True and caps["layers"]["close_fds"] is True


def test_threads_share_the_pool(backend):
    results: list = []

    def call(i: int) -> None:
        results.append(backend.run(f"print({i} * 2)").stdout)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == sorted(f"{i * 2}\n" for i in range(8))


def test_async_many_callers(backend):
    async def main() -> list[ExecResult]:
        return await asyncio.gather(*(backend.arun(f"print({i})") for i in range(10)))

    outs = asyncio.run(main())
    assert [r.stdout for r in outs] == [f"{i}\n" for i in range(10)]


def test_proxied_mode_matches_direct_mode():
    """cfg.direct=False: the worker collects runs itself (the path used over --stdio in containers)."""
    import warnings

    from turngym.sandbox import SandboxConfig
    from turngym.sandbox.local import LocalBackend

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        b = LocalBackend(SandboxConfig(workers=1, direct=False))
    try:
        assert b.run("print(1+1)").stdout == "2\n"
        assert b.run("import sys; sys.exit(4)").exit_code == 4
        assert b.run("while True: pass", timeout=1).status == "timeout"
        assert b.run("while True: print('z' * 100)").status == "output_limit"
        assert b.run("import ctypes; ctypes.string_at(0)").status == "killed"
        with b.session() as s:
            s.run("q = 3")
            assert s.run("print(q)").stdout == "3\n"
    finally:
        b.close()


def test_crash_is_killed_by_signal(backend):
    r = backend.run("import ctypes\nctypes.string_at(0)")
    assert r.status == "killed" and r.meta["signal_name"] == "SIGSEGV" and r.exit_code == -11


def test_scratch_parent_is_read_only(backend):
    """Landlock allows writes under the scratch's parent (it skips mount points); only the tmpfs is writable."""
    if backend.capabilities()["layers"].get("scratch_tmpfs") is not True:
        pytest.skip("no private tmpfs scratch here")
    r = backend.run("import os\nopen('inside', 'w').write('x')\nprint(os.path.exists('inside'))\nopen('../beside', 'w')")
    assert r.stdout == "True\n" and r.error_name in ("OSError", "PermissionError"), (r.stdout, r.error_name, r.error_value)
