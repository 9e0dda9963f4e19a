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
import time

import pytest
from sandbox_helpers import requires_root, wait_for_only_spares

pytestmark = requires_root

REQUIRED = ("setuid", "pid_namespace", "rlimits", "seccomp", "landlock", "scratch_tmpfs")


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
