"""Docker backend: warm containers running the same sandbox worker, spoken to over attached stdio.

No ``docker run`` per call (~0.5 s each): each pool slot is one long-lived container with memory
and pids limits, no network, a read-only root, all capabilities dropped, ``no-new-privileges`` and
an optional ``runtime`` (e.g. ``runsc`` for gVisor). Inside, the worker from :mod:`.worker` runs in
``--stdio`` mode (frames on stdin/stdout, this package bind-mounted read-only), so runs and sessions
behave exactly as locally, with whatever layers the container allows on top.
"""

from __future__ import annotations

import base64
import os
import queue
import select
import socket
import struct
import subprocess
import threading
import time
from typing import Any

from . import _protocol
from . import worker as _worker
from .base import Backend, Files, Session, validate_call, validate_collect, validate_files
from .config import SandboxConfig
from .errors import SandboxError, SandboxUnavailable, SessionLost
from .result import ExecResult

EXTRA_HINT = "the docker sandbox backend needs the Docker SDK: pip install 'turngym[docker]' (docker>=7)"
MOUNT_POINT = "/opt/turngym_sandbox"


def _import_docker() -> Any:
    try:
        import docker
    except ImportError as exc:
        raise ImportError(EXTRA_HINT) from exc
    return docker


def container_kwargs(image: str, cfg: SandboxConfig, *, memory_mb: int, pids_limit: int, runtime: str | None = None,
                     user: str = "65534:65534", scratch_mb: int = 256) -> dict[str, Any]:
    """Arguments for ``client.containers.create``: the isolation contract of a warm container."""
    pkg_dir = os.path.dirname(os.path.abspath(__file__))
    kw: dict[str, Any] = {
        "image": image,
        "command": _worker.command(cfg, stdio=True, package_dir=MOUNT_POINT),
        "stdin_open": True, "tty": False, "detach": True,
        "network_disabled": True, "network_mode": "none", "read_only": True, "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges:true"],
        "mem_limit": f"{memory_mb}m", "memswap_limit": f"{memory_mb}m", "pids_limit": pids_limit,
        "tmpfs": {"/tmp": f"size={scratch_mb}m,mode=1777"},
        "volumes": {pkg_dir: {"bind": MOUNT_POINT, "mode": "ro"}},
        "user": user, "working_dir": "/tmp",
        "environment": {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"},
        "labels": {"turngym.sandbox": "worker"},
    }
    if runtime:
        kw["runtime"] = runtime
    return kw


def demux(buf: bytes) -> tuple[bytes, bytes, bytes]:
    """Split Docker's multiplexed attach stream (8-byte headers: stream id, 3 zero bytes, uint32 size).

    Returns (stdout bytes, stderr bytes, unconsumed rest).
    """
    out, err = bytearray(), bytearray()
    view = memoryview(buf)
    while len(view) >= 8:
        kind, size = view[0], struct.unpack(">I", view[4:8])[0]
        if len(view) < 8 + size:
            break
        payload = view[8:8 + size]
        if kind == 2:
            err += payload
        elif kind in (0, 1):
            out += payload
        view = view[8 + size:]
    return bytes(out), bytes(err), bytes(view)


class _Stream:
    """A byte stream to a ``--stdio`` worker."""

    def write(self, data: bytes) -> None:
        raise NotImplementedError

    def read(self, timeout: float | None) -> bytes:
        """Some bytes, b"" on EOF; raises TimeoutError."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class PipeStream(_Stream):
    """A local ``--stdio`` worker over subprocess pipes (the container protocol, without Docker)."""

    def __init__(self, cfg: SandboxConfig) -> None:
        self.proc = subprocess.Popen(_worker.command(cfg, stdio=True), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=None if cfg.debug else subprocess.DEVNULL, env={"PATH": "/usr/bin:/bin"},
                                     start_new_session=True, cwd="/")

    def write(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def read(self, timeout: float | None) -> bytes:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        r, _, _ = select.select([fd], [], [], timeout)
        if not r:
            raise TimeoutError
        return os.read(fd, 1 << 20)

    def close(self) -> None:
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()  # EOF: the worker kills its children, cleans up and exits
            self.proc.wait(5)
        except (OSError, subprocess.TimeoutExpired):
            pass
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


class DockerAttachStream(_Stream):
    """stdin/stdout of a container through the engine's attach socket (demultiplexed)."""

    def __init__(self, container: Any) -> None:
        self.container = container
        sock = container.attach_socket(params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1})
        self.sock: socket.socket = getattr(sock, "_sock", sock)
        self.raw = b""

    def write(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read(self, timeout: float | None) -> bytes:
        while True:
            r, _, _ = select.select([self.sock], [], [], timeout)
            if not r:
                raise TimeoutError
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                return b""
            out, _err, self.raw = demux(self.raw + chunk)
            if out:
                return out

    def close(self) -> None:
        try:
            self.sock.close()
        finally:
            try:
                self.container.remove(force=True)
            except Exception:
                pass


class StreamWorker:
    """Frames to/from one ``--stdio`` worker; one call at a time (the lock serialises callers)."""

    def __init__(self, stream: _Stream, start_timeout: float = 120.0) -> None:
        self.stream = stream
        self.buf = b""
        self.lock = threading.Lock()
        self.dead = False
        self.hello = self._recv(time.monotonic() + start_timeout)
        if not self.hello.get("ok"):
            raise SandboxUnavailable(f"sandbox worker refused to start: {self.hello.get('error')}")

    def _recv(self, deadline: float) -> Any:
        while True:
            try:
                frames, self.buf = _protocol.decode_buffer(self.buf)
            except _protocol.ProtocolError as exc:
                self.dead = True
                raise SandboxError(f"sandbox worker sent a malformed frame: {exc}") from None
            if frames:
                if len(frames) > 1:  # cannot happen with one call in flight; keep the rest anyway
                    self.buf = b"".join(_protocol.encode(f) for f in frames[1:]) + self.buf
                return frames[0]
            try:
                chunk = self.stream.read(max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                self.dead = True
                raise SandboxError("sandbox worker did not answer in time") from None
            if not chunk:
                self.dead = True
                raise SandboxError("sandbox worker closed its stream")
            self.buf += chunk

    def call(self, msg: dict[str, Any], timeout: float) -> Any:
        with self.lock:
            if self.dead:
                raise SandboxError("sandbox worker is dead")
            try:
                self.stream.write(_protocol.encode(msg))
            except OSError as exc:
                self.dead = True
                raise SandboxError(f"sandbox worker stream broken: {exc}") from exc
            return self._recv(time.monotonic() + timeout)

    def close(self) -> None:
        self.dead = True
        try:
            self.stream.write(_protocol.encode({"op": "close"}))
        except OSError:
            pass
        self.stream.close()


def _run_msg(code: str, timeout: float, memory_mb: int | None, fs: dict[str, bytes], stdin: str | None,
             collect_files: bool | list[str]) -> dict[str, Any]:
    return {"op": "run", "code": code, "timeout": timeout, "memory_mb": memory_mb, "stdin": stdin,
            "collect_files": validate_collect(collect_files),
            "files": {k: base64.b64encode(v).decode() for k, v in fs.items()}}


def _from_worker(reply: Any) -> ExecResult:
    """A worker's reply (it checked the child's report already: a malformed one is infrastructure)."""
    try:
        return ExecResult.from_dict(reply)
    except ValueError as exc:
        return ExecResult.sandbox_error(f"malformed reply from the sandbox worker: {exc}")


class StreamBackend(Backend):
    """A pool of ``--stdio`` workers behind any stream factory (Docker containers, or local pipes)."""

    name = "stream"

    def __init__(self, make_stream: Any, *, workers: int = 2, cfg: SandboxConfig | None = None) -> None:
        self.cfg = cfg or SandboxConfig()
        self._make_stream = make_stream
        self._free: queue.SimpleQueue[StreamWorker] = queue.SimpleQueue()
        self._all: list[StreamWorker] = []
        self._rr = 0
        for _ in range(workers):
            w = self._spawn()
            self._all.append(w)
            self._free.put(w)
        self.layers = dict(self._all[0].hello.get("layers", {}))

    def _spawn(self) -> StreamWorker:
        stream = self._make_stream()
        try:
            return StreamWorker(stream, self.cfg.worker_start_timeout_s)
        except BaseException:
            stream.close()
            raise

    def _healthy(self, w: StreamWorker) -> StreamWorker:
        if not w.dead:
            return w
        w.close()
        new = self._spawn()
        self._all = [new if x is w else x for x in self._all]
        return new

    def run(self, code: str, *, timeout: float | None = None, memory_mb: int | None = None, files: Files | None = None,
            stdin: str | None = None, collect_files: bool | list[str] = False) -> ExecResult:
        validate_call(code, timeout, memory_mb, self.cfg.max_timeout_s, self.cfg.max_memory_mb)
        fs = validate_files(files)
        timeout = float(timeout or self.cfg.timeout_s)
        w = self._healthy(self._free.get())
        try:
            reply = w.call(_run_msg(code, timeout, memory_mb or self.cfg.memory_mb, fs, stdin, collect_files), timeout + 30)
        except SandboxError as exc:
            return ExecResult.sandbox_error(str(exc))
        finally:
            self._free.put(w)
        return _from_worker(reply)

    def session(self, *, memory_mb: int | None = None, timeout: float | None = None) -> StreamSession:
        self._rr = (self._rr + 1) % len(self._all)
        return StreamSession(self, self._healthy(self._all[self._rr]), memory_mb=memory_mb, timeout=timeout)

    def capabilities(self) -> dict[str, Any]:
        return {"backend": self.name, "layers": dict(self.layers), "workers": len(self._all)}

    def close(self) -> None:
        for w in self._all:
            w.close()
        self._all = []


class StreamSession(Session):
    """A session child inside a ``--stdio`` worker; every call is proxied by that worker."""

    def __init__(self, backend: StreamBackend, worker: StreamWorker, *, memory_mb: int | None, timeout: float | None) -> None:
        self.backend, self.worker = backend, worker
        self.memory_mb = memory_mb or backend.cfg.memory_mb
        self.timeout = float(timeout or backend.cfg.timeout_s)
        self.sid: str | None = None
        self._open()

    def _open(self) -> None:
        reply = self.worker.call({"op": "session_open", "memory_mb": self.memory_mb}, 60)
        if not reply.get("ok"):
            raise SandboxUnavailable(f"could not open a session: {reply.get('error')}")
        self.sid = reply["sid"]

    @property
    def alive(self) -> bool:
        return self.sid is not None

    def run(self, code: str, *, timeout: float | None = None, files: Files | None = None, stdin: str | None = None,
            collect_files: bool | list[str] = False) -> ExecResult:
        if self.sid is None:
            raise SessionLost("the session is closed or was killed; call reopen()")
        cfg = self.backend.cfg
        validate_call(code, timeout, None, cfg.max_timeout_s, cfg.max_memory_mb)
        timeout = float(timeout or self.timeout)
        msg = _run_msg(code, timeout, self.memory_mb, validate_files(files), stdin, collect_files)
        msg.update(op="session_run", sid=self.sid)
        try:
            reply = self.worker.call(msg, timeout + cfg.session_grace_s + 30)
        except SandboxError as exc:
            self.sid = None
            return ExecResult(status="sandbox_error", error_name="SandboxError", error_value=str(exc), session_lost=True)
        r = _from_worker(reply)
        if r.session_lost:
            self.sid = None
        return r

    def close(self) -> None:
        if self.sid is not None and not self.worker.dead:
            try:
                self.worker.call({"op": "session_close", "sid": self.sid}, 30)
            except SandboxError:
                pass
        self.sid = None

    def reopen(self) -> None:
        self.close()
        self.worker = self.backend._healthy(self.worker)
        self._open()


class DockerBackend(StreamBackend):
    """Warm, locked-down containers (docker SDK). Raises SandboxUnavailable without a Docker engine."""

    name = "docker"

    def __init__(self, image: str = "python:3.11-slim", *, containers: int = 2, memory_mb: int = 1024,
                 pids_limit: int = 128, runtime: str | None = None, python: str = "python3",
                 config: SandboxConfig | None = None, client: Any = None) -> None:
        docker = _import_docker()
        try:
            self.client = client or docker.from_env()
            self.client.ping()
        except Exception as exc:
            raise SandboxUnavailable(f"no Docker engine reachable: {exc}") from exc
        cfg = (config or SandboxConfig()).with_(python=python, workers=1)
        self.image, self.runtime = image, runtime
        kwargs = container_kwargs(image, cfg, memory_mb=memory_mb, pids_limit=pids_limit, runtime=runtime)

        def make() -> DockerAttachStream:
            create_kw = {k: v for k, v in kwargs.items() if k != "detach"}
            container = self.client.containers.create(**create_kw)
            stream = DockerAttachStream(container)  # attach before start: the hello frame is not lost
            container.start()
            return stream

        super().__init__(make, workers=containers, cfg=cfg)

    def capabilities(self) -> dict[str, Any]:
        caps = super().capabilities()
        caps.update(image=self.image, runtime=self.runtime or "runc")
        return caps
