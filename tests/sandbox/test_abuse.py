"""Abuse suite: hostile code is contained, the worker survives, the next run works, nothing is left.

Every dangerous case relies on layers that ``test_layers_active_before_abuse`` checks first (uid
drop, PID namespace, rlimits, seccomp, Landlock); with those, even ``kill(-1)`` can only reach the
child's own namespace. Limits are kept small (2-3 s timeouts, 64 processes, 64 MB files) so a
containment failure cannot take the shared machine down.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import warnings

import pytest
from sandbox_helpers import requires_root, wait_for_only_spares

from turngym.sandbox import SandboxConfig
from turngym.sandbox.integrity import VIOLATION

pytestmark = requires_root

REQUIRED = ("setuid", "pid_namespace", "rlimits", "seccomp", "landlock", "scratch_tmpfs", "ipc_namespace", "ipc_syscalls")


@pytest.fixture(autouse=True)
def contained(backend, request):
    """After each case: workers alive, a normal run succeeds, no stray sandbox processes."""
    if request.node.name.startswith("test_layers_active"):
        yield
        return
    layers = backend.capabilities()["layers"]
    missing = [n for n in REQUIRED if layers.get(n) is not True]
    if missing:
        pytest.skip(f"abuse cases need all layers, missing: {missing}")
    workers = backend.worker_pids()
    yield
    assert backend.worker_pids() == workers, "a worker was replaced: it died during the abuse"
    for pid in workers:
        os.kill(pid, 0)
    r = backend.run("print('alive')")
    assert r.status == "ok" and r.stdout == "alive\n"
    left = wait_for_only_spares(backend)
    assert not left, f"leftover sandbox processes: {left}"


def test_layers_active_before_abuse(backend):
    layers = backend.capabilities()["layers"]
    assert all(layers.get(n) is True for n in REQUIRED), layers
    r = backend.run("import os; print(os.getuid(), os.getpid())")
    uid, pid = map(int, r.stdout.split())
    assert uid != 0 and pid == 1


def test_infinite_loop(backend):
    r = backend.run("while True: pass", timeout=1)
    assert r.status == "timeout" and r.duration_s < 10


def test_loop_ignoring_sigxcpu(backend):
    r = backend.run("import signal\nsignal.signal(signal.SIGXCPU, signal.SIG_IGN)\nwhile True: pass", timeout=1.5)
    assert r.status == "timeout"


def test_sleep_past_timeout(backend):
    r = backend.run("import time; time.sleep(30)", timeout=1)
    assert r.status == "timeout"


def test_10gb_allocation(backend):
    r = backend.run("x = bytearray(10 * 2**30)")
    assert r.status == "error" and r.error_name == "MemoryError"
    r = backend.run("import numpy as np; x = np.ones(10 * 2**30 // 8)")
    assert r.status == "error" and r.error_name in ("MemoryError", "_ArrayMemoryError")


def test_fork_bomb(backend):
    code = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    r = backend.run(code, timeout=2)
    assert r.status == "timeout"


def test_thread_bomb(backend):
    code = "import threading, time\nwhile True:\n    threading.Thread(target=time.sleep, args=(60,)).start()"
    r = backend.run(code, timeout=3)
    assert r.status in ("error", "timeout")
    if r.status == "error":
        assert r.error_name == "RuntimeError"


def test_5gb_file(backend):
    code = "f = open('big', 'wb')\nfor _ in range(5 * 1024):\n    f.write(b'x' * 2**20)"
    r = backend.run(code, timeout=20)
    assert r.status in ("error", "killed")
    assert r.error_name == "OSError" or r.meta.get("signal_name") == "SIGXFSZ"


def test_many_files(backend):
    r = backend.run("for i in range(100_000):\n    open(f'f{i}', 'w').close()", timeout=20)
    assert r.status == "error" and r.error_name == "OSError"


@pytest.mark.parametrize("path", ["/etc/shadow", "/etc/hostname", "/work", os.path.abspath(__file__), "/root/.bashrc", "/proc/1/environ"])
def test_reading_outside_scratch(backend, path):
    r = backend.run(f"print(open({path!r}).read()[:10])")
    assert r.status == "error" and r.error_name in ("PermissionError", "FileNotFoundError", "IsADirectoryError")
    assert r.stdout == ""


def test_writing_outside_scratch(backend):
    target = os.path.join(tempfile.gettempdir(), "turngym-sandbox-escape")
    r = backend.run(f"open({target!r}, 'w').write('x')")
    assert r.status == "error" and not os.path.exists(target)


def test_listing_root(backend):
    r = backend.run("import os; print(os.listdir('/'))")
    assert r.status == "error" and r.error_name == "PermissionError"


def test_tcp_and_udp_to_localhost_get_nothing(backend):
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen(8)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    tport, uport = tcp.getsockname()[1], udp.getsockname()[1]
    try:
        code = textwrap.dedent(f"""
            import socket
            errors = []
            for kind, addr in ((socket.SOCK_STREAM, ('127.0.0.1', {tport})), (socket.SOCK_DGRAM, ('127.0.0.1', {uport}))):
                try:
                    s = socket.socket(socket.AF_INET, kind)
                    s.connect(addr)
                    s.send(b'hello')
                except OSError as e:
                    errors.append(type(e).__name__)
            print(errors)
        """)
        r = backend.run(code)
        assert r.status == "ok" and r.stdout.count("Error") == 2
        tcp.settimeout(0.3)
        with pytest.raises(socket.timeout):
            tcp.accept()
        udp.settimeout(0.3)
        with pytest.raises(socket.timeout):
            udp.recvfrom(100)
    finally:
        tcp.close()
        udp.close()


def test_unix_socket_of_the_test(backend):
    d = tempfile.mkdtemp()
    os.chmod(d, 0o777)
    path = os.path.join(d, "s")
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(path)
    os.chmod(path, 0o777)
    srv.listen(4)
    try:
        r = backend.run(f"import socket\ns = socket.socket(socket.AF_UNIX)\ns.connect({path!r})")
        assert r.status == "error" and r.error_name in ("PermissionError", "FileNotFoundError")
        srv.settimeout(0.3)
        with pytest.raises(socket.timeout):
            srv.accept()
    finally:
        srv.close()
        os.unlink(path)
        os.rmdir(d)


def test_100mb_stdout(backend):
    r = backend.run("import os\nos.write(1, b'x' * (100 * 2**20))", timeout=20)
    assert r.status == "output_limit" and len(r.stdout) == backend.config.max_output_bytes
    r = backend.run("while True: print('y' * 1000)", timeout=20)
    assert r.status == "output_limit"


def test_killing_parent_and_everyone(backend):
    me, workers = os.getpid(), backend.worker_pids() + backend.fork_server_pids()
    code = textwrap.dedent(f"""
        import os, signal
        out = []
        for pid in {workers + [me, 1]!r} + [-1, 0 - {me}]:
            try:
                os.kill(pid, signal.SIGKILL if pid not in (1, 0) else 0)
                out.append((pid, 'sent'))
            except OSError as e:
                out.append((pid, type(e).__name__))
        print(out)
    """)
    r = backend.run(code)
    assert r.status == "ok"
    outcome = dict(eval(r.stdout))
    for pid in workers + [me, -1, -me]:
        assert outcome[pid] in ("ProcessLookupError", "PermissionError"), outcome
    for pid in workers:
        os.kill(pid, 0)  # still there


def test_ptrace_mount_unshare_setuid(backend):
    wpid = backend.worker_pids()[0]
    code = textwrap.dedent(f"""
        import ctypes, os
        libc = ctypes.CDLL(None, use_errno=True)
        res = {{}}
        res['ptrace'] = libc.ptrace(16, {wpid}, 0, 0)
        res['mount'] = libc.mount(b'tmpfs', b'.', b'tmpfs', 0, None)
        res['unshare_user'] = libc.unshare(0x10000000)
        res['unshare_net'] = libc.unshare(0x40000000)
        try:
            os.setuid(0); res['setuid'] = 0
        except PermissionError:
            res['setuid'] = -1
        try:
            os.chroot('.'); res['chroot'] = 0
        except PermissionError:
            res['chroot'] = -1
        print(res)
    """)
    r = backend.run(code)
    assert r.status == "ok", r.stderr
    res = eval(r.stdout)
    assert all(v == -1 for v in res.values()), res


def test_trainer_dying_takes_worker_and_child(tmp_path):
    """SIGKILL the 'trainer' mid-run: its workers notice EOF and die, their children die with them."""
    script = tmp_path / "trainer.py"
    script.write_text(textwrap.dedent("""
        import sys, threading, time, warnings
        warnings.simplefilter("ignore")
        from turngym.sandbox.local import LocalBackend
        b = LocalBackend(workers=1)
        threading.Thread(target=b.run, args=("import time; time.sleep(120)",), kwargs={"timeout": 120}, daemon=True).start()
        time.sleep(0.5)
        print(b.worker_pids()[0], b.config.uid_base, b.fork_server_pids()[0], flush=True)
        time.sleep(600)
    """))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        wpid, uid_base, server = map(int, proc.stdout.readline().split())
        uid = uid_base + wpid
        assert _uid_pids(uid), "the run child should be alive before the trainer dies"
    finally:
        proc.kill()
        proc.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (_alive(wpid) or _alive(server) or _uid_pids(uid)):
        time.sleep(0.1)
    assert not _alive(wpid), "worker survived its trainer"
    assert not _alive(server), "fork server survived its worker"
    assert not _uid_pids(uid), "sandbox child survived its worker"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as f:
            return "State:\tZ" not in f.read()
    except OSError:
        return False


def _uid_pids(uid: int) -> list[int]:
    out = []
    for e in os.listdir("/proc"):
        if e.isdigit():
            try:
                with open(f"/proc/{e}/status") as f:
                    st = f.read()
            except OSError:
                continue
            if int(st.split("Uid:")[1].split()[0]) == uid and "State:\tZ" not in st:
                out.append(int(e))
    return out


def test_worker_enforces_the_deadline_even_if_the_caller_does_not():
    """A caller that never collects (hung trainer thread): the worker still kills the run."""
    import select
    import warnings

    from turngym.sandbox import SandboxConfig, _protocol
    from turngym.sandbox.local import LocalBackend

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        b = LocalBackend(SandboxConfig(workers=1, kill_grace_s=0.5))
    try:
        w = b._acquire()
        spare = w.take_spare(timeout=30)
        _protocol.write_frame(spare.req, {"op": "run", "code": "while True: pass", "timeout": 1.0})
        os.close(spare.req)
        spare.req = -1
        r, _, _ = select.select([spare.pidfd], [], [], 15)
        assert r, "the worker did not kill the overdue child"
        spare.close()
        b._release(w)
        assert b.run("print('next')").stdout == "next\n"
    finally:
        b.close()


# ------------------------------------------------------------------ result integrity (reward hacking)
# The policy is the attacker: code that can make a failing run look passing will be found by
# training. Each case runs through every local mode: one-shot (the caller collects), proxied (the
# worker collects), the --stdio worker (Docker's protocol), the HTTP server, sessions of each, and
# the pool under concurrent callers.
RUN_MODES = ("run", "proxied", "stdio", "http")
SESSION_MODES = ("session", "stdio", "http")
_TARGETS = {"run": "backend", "session": "backend", "proxied": "proxied_backend", "stdio": "stdio_backend", "http": "http_backend"}

#: Writes ``data`` to every fd number the child might hold (the result pipe is among them).
_SPRAY = """
import json, os, struct, sys
def raw(body):
    return struct.pack(">I", len(body)) + body
def frame(obj):
    return raw(json.dumps(obj).encode())
def call_id():  # the current request's id, read from the harness's frame (it is not a secret)
    f = sys._getframe()
    while f is not None:
        m = f.f_locals.get("msg")
        if isinstance(m, dict) and "call" in m:
            return m["call"]
        f = f.f_back
def spray(data):
    for fd in range(3, 256):
        try:
            os.write(fd, data)
        except OSError:
            pass
"""
_OK = '{"status": "ok", "exit_code": 0, "stdout": "FORGED", "stderr": "", "files": {}}'
FORGERIES = {
    "ok_then_assert": "spray(frame(" + _OK + "))\nassert 1 == 2",
    "ok_with_call_id": "spray(frame(dict(" + _OK + ", call=call_id())))\nassert 1 == 2",
    "file_traversal": "spray(frame({'status': 'ok', 'exit_code': 0, 'files': {'../../etc/evil': 'eA=='}, 'call': call_id()}))",
    "bad_base64": "spray(frame({'status': 'ok', 'exit_code': 0, 'files': {'a': 'a'}, 'call': call_id()}))",
    "files_not_a_mapping": "spray(frame({'status': 'ok', 'exit_code': 0, 'files': [1], 'call': call_id()}))",
    "wrong_types": "spray(frame({'status': 'ok', 'exit_code': 'zero', 'duration_s': 'fast', 'call': call_id()}))",
    "not_an_object": "spray(frame([1, 2, 3]))",
    "garbage_then_fail": "spray(b'\\xff' * 16)\nassert 1 == 2",
    "huge_header": "spray(b'\\x7f\\xff\\xff\\xff')\nassert 1 == 2",
    "truncated_frame": "spray(frame(" + _OK + ")[:-3])\nassert 1 == 2",
    "sandbox_error_claim": "spray(frame({'status': 'sandbox_error', 'call': call_id()}))\nassert 1 == 2",
    "timeout_claim": "spray(frame({'status': 'timeout', 'exit_code': None, 'call': call_id()}))\nassert 1 == 2",
    "deep_nesting": "spray(raw(b'[' * 100000 + b']' * 100000))\nassert 1 == 2",
    "nan_duration": "spray(raw(b'{\"status\": \"ok\", \"exit_code\": 0, \"duration_s\": NaN}'))\nassert 1 == 2",
    "int_past_digit_limit": "spray(raw(b'{\"status\": \"ok\", \"exit_code\": ' + b'9' * 5000 + b'}'))\nassert 1 == 2",
    "bad_utf8": "spray(raw(b'{\"status\": \"\\xff\"}'))\nassert 1 == 2",
    "flood": "spray(struct.pack('>I', 50 << 20) + b'x' * (23 << 20))\nassert 1 == 2",  # past the channel's byte budget
}


def _target(request, mode):
    return request.getfixturevalue(_TARGETS[mode])


def _assert_void(r):
    """What a forged frame may get: this run's error, never ok, another status or a forged field."""
    assert r.status == "error" and r.error_name in (VIOLATION, "AssertionError"), (r.status, r.error_name, r.error_value)
    assert "FORGED" not in r.stdout and not r.files


@pytest.mark.parametrize("forgery", sorted(FORGERIES))
@pytest.mark.parametrize("mode", RUN_MODES)
def test_forged_result_frames_are_void_in_one_shot_runs(request, mode, forgery):
    target = _target(request, mode)
    r = target.run(_SPRAY + FORGERIES[forgery], collect_files=True)
    _assert_void(r)
    assert r.error_name == VIOLATION
    assert target.run("print('next')").stdout == "next\n"


@pytest.mark.parametrize("forgery", sorted(FORGERIES))
@pytest.mark.parametrize("mode", SESSION_MODES)
def test_forged_frames_never_shift_session_replies(request, mode, forgery):
    """A frame the cell writes is never taken as a later call's reply: the channel is void and the
    session is killed, at this call or (when the forged frame carried this call's own id) the next."""
    from turngym.sandbox import SessionLost

    s = _target(request, mode).session()
    try:
        assert s.run("x = 41").ok
        r = s.run(_SPRAY + FORGERIES[forgery] + "\nimport time; time.sleep(0.05)", collect_files=True)
        if r.error_name != VIOLATION:  # a frame with this call's id came first: the cell's own account
            assert r.status in ("ok", "error") and not r.files, r
            time.sleep(0.2)  # the harness's reply lands behind it
            try:
                r = s.run("print(x + 1)")
            except SessionLost:
                pytest.fail("the violation went unreported")
        assert r.status == "error" and r.error_name == VIOLATION and r.session_lost, r
        assert "42" not in r.stdout
        with pytest.raises(SessionLost):
            s.run("print(x + 1)")
        s.reopen()
        assert s.run("print('fresh')").stdout == "fresh\n"
    finally:
        s.close()


@pytest.mark.parametrize("mode", SESSION_MODES)
def test_frame_written_after_the_reply_is_caught_at_the_next_call(request, mode):
    code = _SPRAY + textwrap.dedent("""
        import threading, time
        def later():
            time.sleep(0.1)
            spray(frame({"status": "ok", "exit_code": 0, "stdout": "FORGED", "stderr": "", "files": {}, "call": "next"}))
        threading.Thread(target=later, daemon=True).start()
    """)
    s = _target(request, mode).session()
    try:
        assert s.run(code).ok
        time.sleep(0.4)
        r = s.run("print('honest')")
        assert r.error_name == VIOLATION and r.session_lost and "FORGED" not in r.stdout
    finally:
        s.close()


@pytest.mark.parametrize("mode", RUN_MODES)
def test_silencing_the_harness_gains_nothing_over_exiting(request, mode):
    """A forged report the harness cannot contradict (the code exits right after) is worth exactly
    what ``os._exit(0)`` is: the measured duration stays, a file must really be asked for."""
    target = _target(request, mode)
    forged = target.run(_SPRAY + "import time; time.sleep(0.3)\n"
                        "spray(frame({'status': 'ok', 'exit_code': 0, 'duration_s': 0.0, 'files': {'o': 'eA=='}}))\nos._exit(0)",
                        collect_files=["o"])
    plain = target.run("import os; open('o', 'w').write('x'); os._exit(0)", collect_files=["o"])
    assert forged.status == plain.status == "ok" and forged.exit_code == plain.exit_code == 0
    assert forged.duration_s >= 0.3
    assert forged.files == {"o": b"x"}
    r = target.run(_SPRAY + "spray(frame({'status': 'ok', 'exit_code': 0, 'files': {'p': 'eA=='}}))\nos._exit(0)", collect_files=["o"])
    assert r.error_name == VIOLATION and not r.files


def test_forgers_cannot_touch_other_callers_in_the_pool(backend):
    """Concurrent callers across the pool's workers: forgers get violations, honest callers their own results."""
    results: dict[int, object] = {}

    def call(i: int) -> None:
        if i % 2:
            results[i] = backend.run(_SPRAY + FORGERIES["ok_then_assert"])
        else:
            results[i] = backend.run(f"print({i} * 2)")

    threads = [threading.Thread(target=call, args=(i,)) for i in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 24
    for i, r in results.items():
        if i % 2:
            assert r.error_name == VIOLATION, r
        else:
            assert r.status == "ok" and r.stdout == f"{i * 2}\n", r


# ------------------------------------------------------------------ System V IPC and POSIX shm
_IPC = textwrap.dedent("""
    import ctypes, errno
    libc = ctypes.CDLL(None, use_errno=True)
    out = {}
    for name, call in (("shmget", lambda: libc.shmget(0x7e57, 1 << 30, 0o1666)), ("msgget", lambda: libc.msgget(0x7e58, 0o1666)),
                       ("semget", lambda: libc.semget(0x7e59, 1, 0o1666)), ("shm_private", lambda: libc.shmget(0, 4096, 0o1600)),
                       ("mq_open", lambda: libc.mq_open(b"/turngym-abuse", 0o102, 0o600, None))):
        rc = call()
        out[name] = rc if rc >= 0 else errno.errorcode[ctypes.get_errno()]
    try:
        from multiprocessing import shared_memory
        shared_memory.SharedMemory(name="turngym-abuse", create=True, size=4096)
        out["posix_shm"] = "created"
    except OSError as e:
        out["posix_shm"] = type(e).__name__
    print(out)
""")


def _host_ipc_objects() -> set[str]:
    found = set()
    for kind in ("shm", "msg", "sem"):
        with open(f"/proc/sysvipc/{kind}") as f:
            found |= {f"{kind}:{line.split()[0]}" for line in f.readlines()[1:]}
    return found


@pytest.mark.parametrize("mode", RUN_MODES + ("session",))
def test_ipc_calls_are_denied_in_every_mode(request, mode):
    before = _host_ipc_objects()
    target = _target(request, mode)
    if mode == "session":
        with target.session(memory_mb=128) as s:
            r = s.run(_IPC)
    else:
        r = target.run(_IPC, memory_mb=128)
    assert r.status == "ok", r
    out = eval(r.stdout)
    assert {out[k] for k in ("shmget", "msgget", "semget", "shm_private", "mq_open")} == {"EPERM"}, out
    assert out["posix_shm"] in ("PermissionError", "OSError"), out
    assert _host_ipc_objects() <= before
    assert not os.path.exists("/dev/shm/turngym-abuse")


_WRITE_SECRET = textwrap.dedent("""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    libc.shmat.restype = ctypes.c_void_p
    shmid = libc.shmget(0x7e57, 4096, 0o1666)
    assert shmid >= 0, ctypes.get_errno()
    ctypes.memmove(libc.shmat(shmid, None, 0), b"SECRET42", 8)
    assert libc.shmget(0x7e5a, 1 << 30, 0o1666) >= 0  # 1 GiB outside the address-space limit
    print("written")
""")
_READ_SECRET = "import ctypes\nprint(ctypes.CDLL(None).shmget(0x7e57, 0, 0))"


def test_without_seccomp_the_ipc_namespace_still_isolates_each_run():
    """Defence in depth: with the syscalls allowed, what a run creates lives in its own namespace and
    dies with it: no other run, session or backend sees it, and no memory stays pinned."""
    from turngym.sandbox.local import LocalBackend

    before = _host_ipc_objects()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a, b = LocalBackend(SandboxConfig(workers=1, disable=("seccomp",))), LocalBackend(SandboxConfig(workers=1, disable=("seccomp",)))
    try:
        assert a.layers["ipc_namespace"] is True and a.layers["ipc_syscalls"] != True  # noqa: E712
        assert a.run(_WRITE_SECRET, memory_mb=128).stdout == "written\n"
        with a.session() as s:
            assert s.run(_WRITE_SECRET).stdout == "written\n"
            assert a.run(_READ_SECRET).stdout == "-1\n"
            with b.session() as t:
                assert t.run(_READ_SECRET).stdout == "-1\n"
            assert s.run(_READ_SECRET).stdout.strip() != "-1"  # its own namespace, still there
        assert _host_ipc_objects() <= before
    finally:
        a.close()
        b.close()
    assert _host_ipc_objects() <= before


def test_without_the_ipc_namespace_seccomp_still_denies():
    from turngym.sandbox.local import LocalBackend

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        b = LocalBackend(SandboxConfig(workers=1, disable=("ipc_namespace",)))
    try:
        assert b.layers["ipc_namespace"] == "disabled by configuration" and b.layers["ipc_syscalls"] is True
        r = b.run(_WRITE_SECRET)
        assert r.status == "error" and r.error_name == "AssertionError" and "1" in r.error_value  # EPERM
    finally:
        b.close()
