"""Docker and e2b backends: request/response mapping, the stdio worker protocol they share, and
contract tests against the real services (skipped here: no Docker engine, no E2B_API_KEY)."""

from __future__ import annotations

import os
import struct
from types import SimpleNamespace

import pytest

from turngym.sandbox import SandboxConfig, SandboxUnavailable, SessionLost
from turngym.sandbox.docker_backend import MOUNT_POINT, PipeStream, StreamBackend, container_kwargs, demux
from turngym.sandbox.e2b_backend import E2BBackend, exception_to_result, execution_to_result


# ------------------------------------------------------------------------------- docker pieces
def test_container_kwargs_lock_the_container_down():
    kw = container_kwargs("python:3.11-slim", SandboxConfig(), memory_mb=512, pids_limit=64, runtime="runsc")
    assert kw["network_disabled"] is True and kw["read_only"] is True and kw["cap_drop"] == ["ALL"]
    assert kw["mem_limit"] == "512m" and kw["memswap_limit"] == "512m" and kw["pids_limit"] == 64
    assert kw["runtime"] == "runsc" and "no-new-privileges:true" in kw["security_opt"]
    assert kw["stdin_open"] and not kw["tty"] and kw["user"] != "0"
    assert kw["command"][-1] == "--stdio" and MOUNT_POINT in kw["command"][3]
    assert list(kw["volumes"].values()) == [{"bind": MOUNT_POINT, "mode": "ro"}]
    assert "runtime" not in container_kwargs("img", SandboxConfig(), memory_mb=1, pids_limit=1)


def test_container_kwargs_are_accepted_by_the_docker_sdk():
    """The real SDK turns our kwargs into an engine request (no engine needed for this step)."""
    containers = pytest.importorskip("docker.models.containers", reason="docker SDK not installed (turngym[docker])")
    kw = container_kwargs("python:3.11-slim", SandboxConfig(), memory_mb=256, pids_limit=64, runtime="runsc")
    kw.pop("detach")
    args = containers._create_container_args(dict(kw, version="1.44"))
    hc = args["host_config"]
    assert args["network_disabled"] is True and hc["NetworkMode"] == "none"
    assert hc["ReadonlyRootfs"] is True and hc["CapDrop"] == ["ALL"] and hc["PidsLimit"] == 64
    assert hc["Memory"] == hc["MemorySwap"] == 256 * 2**20 and hc["Runtime"] == "runsc"
    assert hc["Binds"][0].endswith(f":{MOUNT_POINT}:ro")


def test_demux_docker_attach_stream():
    def frame(kind: int, data: bytes) -> bytes:
        return bytes([kind, 0, 0, 0]) + struct.pack(">I", len(data)) + data

    buf = frame(1, b"hel") + frame(2, b"warn") + frame(1, b"lo") + frame(1, b"partial")[:-3]
    out, err, rest = demux(buf)
    assert (out, err) == (b"hello", b"warn") and rest == frame(1, b"partial")[:-3]
    assert demux(rest + b"ial") == (b"partial", b"", b"")


@pytest.fixture(scope="module")
def stream_backend():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cfg = SandboxConfig(workers=1)
        b = StreamBackend(lambda: PipeStream(cfg), workers=1, cfg=cfg)
    yield b
    b.close()


def test_stdio_worker_protocol_runs(stream_backend):
    """The exact protocol the Docker backend speaks inside its containers, over local pipes."""
    assert stream_backend.run("print(1+1)").stdout == "2\n"
    r = stream_backend.run("raise ValueError('v')")
    assert r.status == "error" and r.error_name == "ValueError"
    assert stream_backend.run("while True: pass", timeout=1).status == "timeout"
    r = stream_backend.run("open('o','w').write('x')", collect_files=["o"])
    assert r.files == {"o": b"x"}


def test_stdio_worker_protocol_sessions(stream_backend):
    s = stream_backend.session()
    try:
        s.run("n = 0")
        for _ in range(20):
            s.run("n += 1")
        assert s.run("print(n)").stdout == "20\n"
        assert s.run("while True: pass", timeout=0.5).status == "timeout" and s.alive
        r = s.run("import time\nwhile True:\n    try: time.sleep(5)\n    except BaseException: pass", timeout=0.3)
        assert r.session_lost and not s.alive
        with pytest.raises(SessionLost):
            s.run("print(n)")
        s.reopen()
        assert s.run("print('n' in globals())").stdout == "False\n"
    finally:
        s.close()


def _docker_engine() -> str | None:
    try:
        import docker
    except ImportError:
        return "docker SDK not installed (pip install 'turngym[docker]')"
    try:
        docker.from_env().ping()
    except Exception as exc:
        return f"no Docker engine reachable: {exc}"
    return None


def test_docker_backend_without_engine_or_sdk_is_clear():
    reason = _docker_engine()
    if reason is None:
        pytest.skip("a Docker engine is available: covered by the contract test")
    from turngym.sandbox import get_backend

    with pytest.raises((SandboxUnavailable, ImportError), match="Docker"):
        get_backend("docker")


@pytest.mark.docker
@pytest.mark.skipif(_docker_engine() is not None, reason=str(_docker_engine()))
def test_docker_contract():
    from turngym.sandbox.docker_backend import DockerBackend

    b = DockerBackend(containers=1, memory_mb=256)
    try:
        assert b.run("print(1+1)").stdout == "2\n"
        assert b.run("import socket; socket.create_connection(('1.1.1.1', 53), timeout=2)").status == "error"
        assert b.run("open('/etc/x', 'w')").status == "error"  # read-only root
        assert b.run("while True: pass", timeout=1).status == "timeout"
        with b.session() as s:
            s.run("a = 5")
            assert s.run("print(a * 2)").stdout == "10\n"
    finally:
        b.close()


# ------------------------------------------------------------------------------- e2b pieces
class TimeoutException(Exception):
    """Same name and messages as ``e2b.TimeoutException``."""


class FakeE2BSandbox:
    """Stand-in for the e2b cloud API (unreachable here): a Jupyter-like kernel per code context,
    backed by our own local sessions so code really runs. The e2b backend code under test is real."""

    def __init__(self, backend) -> None:
        self.backend = backend
        self.written: dict[str, bytes] = {}
        self.files = SimpleNamespace(write=self._write, read=self._read)
        self.killed = False

    def _write(self, path: str, data: bytes) -> None:
        self.written[path] = data

    def _read(self, path: str, format: str = "text") -> bytes:
        return self.written[path]

    def create_code_context(self, cwd: str | None = None):
        return self.backend.session()

    def remove_code_context(self, ctx) -> None:
        ctx.close()

    def run_code(self, code: str, context=None, timeout: float | None = None):
        for path, data in self.written.items():
            name = os.path.basename(path)
            code = f"open({name!r}, 'wb').write({data!r})\n" + code
        r = context.run(code, timeout=timeout, collect_files=True)
        if r.status == "timeout":
            raise TimeoutException("Execution timed out — the 'timeout' option can be used to increase this timeout")
        for name, data in r.files.items():
            self.written[f"/home/user/{name}"] = data
        err = None if r.status == "ok" else SimpleNamespace(name=r.error_name, value=r.error_value, traceback=r.traceback or "")
        return SimpleNamespace(results=[], logs=SimpleNamespace(stdout=[r.stdout] if r.stdout else [], stderr=[]), error=err)

    def kill(self) -> None:
        self.killed = True


def test_e2b_execution_mapping():
    ok = SimpleNamespace(results=[SimpleNamespace(is_main_result=True, text="3")], logs=SimpleNamespace(stdout=["a\n", "b\n"], stderr=[]), error=None)
    r = execution_to_result(ok, 0.1)
    assert r.status == "ok" and r.stdout == "a\nb\n" and r.meta["display"] == "3"
    bad = SimpleNamespace(results=[], logs=SimpleNamespace(stdout=[], stderr=[]), error=SimpleNamespace(name="NameError", value="x", traceback="tb"))
    r = execution_to_result(bad, 0.1)
    assert (r.status, r.error_name, r.error_value, r.traceback) == ("error", "NameError", "x", "tb")
    ex = SimpleNamespace(results=[], logs=SimpleNamespace(stdout=[], stderr=[]), error=SimpleNamespace(name="SystemExit", value="0", traceback=""))
    assert execution_to_result(ex, 0).status == "ok"
    assert exception_to_result(TimeoutException("Execution timed out — ..."), 1, 1).status == "timeout"
    assert exception_to_result(TimeoutException("Request timed out — ..."), 1, 1).status == "sandbox_error"
    assert exception_to_result(ConnectionError("boom"), 1, 1).status == "sandbox_error"


def test_e2b_backend_against_stand_in(backend):
    fake = FakeE2BSandbox(backend)
    b = E2BBackend(sandbox_factory=lambda: fake)
    try:
        assert b.run("print(6*7)").stdout == "42\n"
        assert b.run("x = 1").ok and b.run("print(x)").error_name == "NameError"  # fresh context per run
        assert b.run("print(input())", stdin="hey").stdout == "hey\n"
        r = b.run("open('o.txt','w').write(open('i.txt').read()+'!')", files={"i.txt": "hi"}, collect_files=["o.txt"])
        assert r.files == {"o.txt": b"hi!"}
        assert b.run("while True: pass", timeout=0.5).status == "timeout"
        s = b.session()
        s.run("y = 2")
        assert s.run("print(y + 1)").stdout == "3\n"
        r = s.run("while True: pass", timeout=0.5)
        assert r.status == "timeout" and r.session_lost and not s.alive
        with pytest.raises(SessionLost):
            s.run("print(y)")
    finally:
        b.close()
    assert fake.killed


def test_e2b_without_key_is_clear(monkeypatch):
    monkeypatch.delenv("E2B_API_KEY", raising=False)
    with pytest.raises(SandboxUnavailable, match="E2B_API_KEY"):
        E2BBackend()


@pytest.mark.e2b
@pytest.mark.skipif(not os.environ.get("E2B_API_KEY"), reason="E2B_API_KEY not set: no e2b account on this machine")
def test_e2b_contract():
    pytest.importorskip("e2b_code_interpreter", reason="pip install 'turngym[e2b]'")
    b = E2BBackend(timeout_s=20)
    try:
        assert b.run("print(1+1)").stdout.strip() == "2"
        assert b.run("1/0").error_name == "ZeroDivisionError"
        with b.session() as s:
            s.run("z = 3")
            assert s.run("print(z)").stdout.strip() == "3"
    finally:
        b.close()
