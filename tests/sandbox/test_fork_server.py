"""The fork server: both loops (C and Python) speak the same protocol and contain the same way."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import warnings

import pytest
from sandbox_helpers import requires_root, wait_for_only_spares

from turngym.sandbox import SandboxConfig, forkserver, hugepages
from turngym.sandbox.local import LocalBackend

PROTOCOL_SCRIPT = textwrap.dedent("""
    import errno, json, os, sys
    from turngym.sandbox import forkserver

    def entry(mode, fds, uid_offset, scratch_id, pidns):
        os.write(fds[0], json.dumps([mode, uid_offset, scratch_id, pidns, len(fds)]).encode())
        return 5

    fs = forkserver.ForkServer(entry, pidns_fd=None, close_in_server=[], native=sys.argv[1] == "1", bare=False)
    out = {"native": fs.native}
    r, w = os.pipe()
    pid, pidfd, pidns = fs.fork("r", [w], 7, 42)
    os.close(w)
    out["child_saw"] = json.loads(os.read(r, 200))
    status, cpu = fs.wait_exit(pid, timeout=10)
    out["exit_code"] = os.waitstatus_to_exitcode(status)
    out["pidfd_works"] = os.read(r, 10) == b""  # the child is gone and held the only write end
    fs.sock.send(b"bad")  # malformed request: an error reply, the server keeps serving
    kind, a, b, c, fds = fs._recv()
    out["malformed"] = [kind.decode(), errno.errorcode.get(b)]
    r2, w2 = os.pipe()
    pid2, _, _ = fs.fork("s", [w2], 0, 1)
    os.close(w2)
    out["after_error"] = json.loads(os.read(r2, 200))[0]
    fs.wait_exit(pid2, timeout=10)
    server = fs.pid
    fs.close()  # closing our end stops the server
    out["server_exited"] = not os.path.exists(f"/proc/{server}")
    print(json.dumps(out))
""")


@pytest.mark.parametrize("native", [True, False], ids=["c-loop", "python-loop"])
def test_protocol(native):
    if native and not forkserver.native_available():
        pytest.skip("the C loop was not compiled (no C compiler at install time)")
    proc = subprocess.run([sys.executable, "-c", PROTOCOL_SCRIPT, "1" if native else "0"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["native"] is native
    assert out["child_saw"] == ["r", 7, 42, False, 1]
    assert out["exit_code"] == 5 and out["pidfd_works"]
    assert out["malformed"] == ["E", "EINVAL"]
    assert out["after_error"] == "s"
    assert out["server_exited"]


def test_c_loop_is_built_where_a_compiler_exists():
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        pytest.skip("no C compiler on this machine: the Python loop is used")
    assert forkserver.native_available(), "turngym/sandbox/_forkloop.c was not compiled: reinstall with `pip install -e .`"


@pytest.fixture(scope="module")
def python_loop_backend():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        b = LocalBackend(SandboxConfig(workers=1, native_fork_server=False))
    yield b
    b.close()


def test_python_loop_runs_like_the_c_loop(python_loop_backend):
    b = python_loop_backend
    assert b.capabilities()["fork_server"]["native"] is False
    assert b.run("print(1+1)").stdout == "2\n"
    assert b.run("import sys; sys.exit(4)").exit_code == 4
    assert b.run("while True: pass", timeout=1).status == "timeout"
    assert b.run("import ctypes; ctypes.string_at(0)").status == "killed"
    with b.session() as s:
        s.run("q = 3")
        assert s.run("print(q)").stdout == "3\n"
    if os.geteuid() == 0:  # the same layers and the same result integrity as children of the C loop
        layers = b.capabilities()["layers"]
        assert layers["ipc_namespace"] is True and layers["ipc_syscalls"] is True
        forge = ("import os\nfor fd in range(3, 64):\n    try: os.write(fd, b'\\x00\\x00\\x00\\x02{}')\n"
                 "    except OSError: pass\nassert 1 == 2")
        assert b.run(forge).error_name == "ResultChannelViolation"
        assert b.run("import ctypes; print(ctypes.CDLL(None).shmget(0, 4096, 0o600))").stdout == "-1\n"
    assert not wait_for_only_spares(b)


@requires_root
def test_children_cannot_kill_the_fork_server(backend):
    servers = backend.fork_server_pids()
    r = backend.run(f"import os, signal\nfor p in {servers!r}:\n    try: os.kill(p, signal.SIGKILL)\n    except OSError as e: print(type(e).__name__)")
    assert r.stdout.split() == ["ProcessLookupError"] * len(servers)  # outside the child's PID namespace
    for pid in servers:
        os.kill(pid, 0)


def test_fork_server_keeps_its_huge_pages(backend):
    info = backend.capabilities()["fork_server"]
    if not info["native"]:
        pytest.skip("only the C loop leaves its heap untouched")
    if info["thp"] not in ("always", "madvise") or not info["huge_pages_mb"]:
        pytest.skip(f"no huge pages here (THP {info['thp']}, {info['huge_pages_mb']} MiB collapsed)")
    for _ in range(50):
        assert backend.run("x = [i * i for i in range(1000)]").status == "ok"
    now = [hugepages.anon_huge_mb(pid) for pid in backend.fork_server_pids()]
    assert min(now) >= info["huge_pages_mb"] * 0.8, (now, info)


def test_a_dead_fork_server_costs_one_run_then_the_worker_is_replaced():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        b = LocalBackend(SandboxConfig(workers=1))
    try:
        worker, server = b.worker_pids()[0], b.fork_server_pids()[0]
        os.kill(server, signal.SIGKILL)
        statuses = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            r = b.run("print('ok')")
            statuses.append(r.status)
            if r.status == "ok" and b.worker_pids()[0] != worker:
                break
        assert statuses[-1] == "ok" and set(statuses) <= {"ok", "sandbox_error"}, statuses
        assert statuses.count("sandbox_error") <= 2, statuses
        assert b.worker_pids()[0] != worker
        assert not wait_for_only_spares(b)
    finally:
        b.close()


CTYPES_SCRIPT = textwrap.dedent("""
    import json, os, socket, sys
    from turngym.sandbox import _sys, landlock, seccomp_filter
    for module in (_sys, landlock, seccomp_filter):
        module._native = None  # as on a machine where the C extension could not be built
    out = {"expect": [name for name, ok in (("seccomp", seccomp_filter.available()[0]),
                                            ("landlock", landlock.abi_version() > 0)) if ok]}
    try:
        _sys.setns(-1, 0)
    except OSError as exc:
        out["setns_errno"] = exc.errno
    _sys.prctl(_sys.PR_SET_PDEATHSIG, 9)
    if seccomp_filter.available()[0]:
        seccomp_filter.load(seccomp_filter.compile_filter())
        try:
            socket.socket()
            out["seccomp"] = "socket allowed"
        except PermissionError:
            out["seccomp"] = "denied"
    if landlock.abi_version():
        landlock.restrict([sys.prefix, sys.base_prefix, "/usr/lib", "/lib"], [])
        try:
            open("/etc/hostname").read()
            out["landlock"] = "read allowed"
        except PermissionError:
            out["landlock"] = "denied"
    print(json.dumps(out))
""")


def test_ctypes_fallbacks_of_the_syscall_wrappers():
    """Without the extension, _sys/landlock/seccomp_filter fall back to ctypes; the layers still hold."""
    proc = subprocess.run([sys.executable, "-c", CTYPES_SCRIPT], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["setns_errno"] == 9  # EBADF, raised as OSError like the C wrapper does
    for layer in out["expect"]:
        assert out[layer] == "denied", out
