"""The local backend: a pool of sandbox workers serving many concurrent callers.

The trainer never forks: each worker is a fresh interpreter started with ``subprocess.Popen`` and a
scrubbed environment, talking over a Unix socket. Workers lend their pre-confined spare children to
the trainer ahead of time (pipes and a pidfd handed over with SCM_RIGHTS), so a run is one write and
one read with no worker in the path; the trainer enforces the wall-clock limit and output caps and
kills race-free through the pidfd, and the worker reaps, reports abnormal exits and forks the
replacement. A session is the same idea with a long-lived child.
"""

from __future__ import annotations

import base64
import collections
import os
import queue
import select
import signal
import socket
import subprocess
import threading
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

from . import _protocol, collector, integrity
from . import worker as _worker
from .base import Backend, Files, Session, validate_call, validate_collect, validate_files
from .config import SandboxConfig
from .errors import SandboxError, SandboxUnavailable, SandboxWarning, SessionLost
from .result import ExecResult

#: Variables a worker keeps from the trainer's environment (everything else is dropped).
_KEEP_ENV = ("PATH", "LANG", "LC_ALL", "TZ")
#: Layers whose absence is reported only as information (they do not hold anything back on their own).
_INFO_ONLY = {"seccomp_strict"}


class WorkerDied(SandboxError):
    pass


def _scrubbed_env() -> dict[str, str]:
    env = {k: os.environ[k] for k in _KEEP_ENV if k in os.environ}
    env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONHASHSEED="0")
    return env


@dataclass
class _Spare:
    """A pre-confined child lent by a worker: its pipes and a pidfd, held by the trainer."""

    pid: int
    pidns: bool
    req: int
    res: int
    out: int
    err: int
    pidfd: int
    pre_frames: list[Any] = field(default_factory=list)

    def kill(self) -> None:
        try:
            signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
        except OSError:
            pass

    def close(self) -> None:
        for fd in (self.req, self.res, self.out, self.err, self.pidfd):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.req = self.res = self.out = self.err = self.pidfd = -1


class _WorkerHandle:
    """One worker process and the socket to it; not thread-safe (the pool hands it to one caller).

    Besides replies, the worker sends unsolicited ``spare`` (a new child's fds) and ``exit`` (a
    child's wait status) messages; ``_pump`` files them away whenever we read the socket.
    """

    def __init__(self, cfg: SandboxConfig) -> None:
        self.cfg = cfg
        self.spares: collections.deque[_Spare] = collections.deque()
        self.exits: collections.OrderedDict[int, tuple[int, float]] = collections.OrderedDict()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.proc = subprocess.Popen(
                _worker.command(cfg), stdin=theirs, stdout=subprocess.DEVNULL,
                stderr=None if cfg.debug else subprocess.DEVNULL, env=_scrubbed_env(), close_fds=True,
                start_new_session=True, cwd="/",
            )
        finally:
            theirs.close()
        self.sock = ours
        try:
            self.sock.settimeout(cfg.worker_start_timeout_s)
            self.hello, _ = _protocol.recv_msg(self.sock)
        except (OSError, _protocol.ProtocolError) as exc:
            self.kill()
            raise SandboxError(f"sandbox worker failed to start: {exc}") from exc
        if not self.hello.get("ok"):
            try:
                self.proc.wait(5)  # the worker cleans up and exits by itself
            except subprocess.TimeoutExpired:
                pass
            self.kill()
            raise SandboxUnavailable(f"sandbox worker refused to start: {self.hello.get('error')}")
        self.direct = bool(self.hello.get("direct"))

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _pump(self, timeout: float | None, keep_fds: bool = False) -> tuple[dict[str, Any], list[int]] | None:
        """Read one message; file spares and exits away, return anything else (a reply, with the fds
        that came with it when ``keep_fds``; otherwise they are closed)."""
        try:
            self.sock.settimeout(timeout)
            msg, fds = _protocol.recv_msg(self.sock)
        except (OSError, _protocol.ProtocolError, ValueError) as exc:
            self.kill()
            raise WorkerDied(f"sandbox worker {self.pid} died or hung: {exc!r}") from exc
        op = msg.get("op") if isinstance(msg, dict) else None
        if op == "spare" and len(fds) == 5:
            self.spares.append(_Spare(msg["pid"], bool(msg.get("pidns")), *fds, pre_frames=msg.get("pre_frames") or []))
            return None
        if op == "exit":
            self.exits[int(msg["pid"])] = (int(msg["status"]), float(msg.get("cpu_s", 0.0)))
            while len(self.exits) > 64:
                self.exits.popitem(last=False)
            return None
        if not keep_fds:
            for fd in fds:
                os.close(fd)
            fds = []
        return msg, fds

    def drain(self) -> None:
        """Pick up whatever the worker sent meanwhile, without blocking."""
        while True:
            r, _, _ = select.select([self.sock], [], [], 0)
            if not r:
                return
            if self._pump(None) is not None:
                raise WorkerDied("unexpected reply from sandbox worker")

    def take_spare(self, timeout: float) -> _Spare:
        deadline = time.monotonic() + timeout
        self.drain()
        while not self.spares:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.kill()
                raise WorkerDied(f"sandbox worker {self.pid} produced no spare child in {timeout:g} s")
            if self._pump(remaining) is not None:
                raise WorkerDied("unexpected reply from sandbox worker")
        return self.spares.popleft()

    def wait_exit(self, pid: int, timeout: float) -> tuple[int, float] | None:
        deadline = time.monotonic() + timeout
        while pid not in self.exits:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            r, _, _ = select.select([self.sock], [], [], remaining)
            if r and self._pump(None) is not None:
                raise WorkerDied("unexpected reply from sandbox worker")
        return self.exits.pop(pid)

    def call(self, msg: dict[str, Any], fds: list[int] | tuple[int, ...] = (), timeout: float | None = None) -> tuple[dict[str, Any], list[int]]:
        try:
            self.sock.settimeout(timeout)
            _protocol.send_msg(self.sock, msg, fds)
        except OSError as exc:
            self.kill()
            raise WorkerDied(f"sandbox worker {self.pid} is gone: {exc!r}") from exc
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            reply = self._pump(None if deadline is None else max(0.001, deadline - time.monotonic()), keep_fds=True)
            if reply is not None:
                return reply

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        for sp in self.spares:
            sp.close()
        self.spares.clear()
        try:
            self.sock.close()
        except OSError:
            pass
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.sock.settimeout(2)
                _protocol.send_msg(self.sock, {"op": "close"})
                self.proc.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self.kill()


class LocalBackend(Backend):
    """Confined local execution (the default backend). Thread-safe; ``arun`` for asyncio callers."""

    name = "local"

    def __init__(self, config: SandboxConfig | None = None, **overrides: Any) -> None:
        cfg = config or SandboxConfig()
        self.config = cfg.with_(**overrides) if overrides else cfg
        self._free: queue.SimpleQueue[_WorkerHandle] = queue.SimpleQueue()
        self._all: list[_WorkerHandle] = []
        self._lock = threading.Lock()
        self._closed = False
        handles: list[_WorkerHandle | BaseException] = [SandboxError("not started")] * self.config.workers

        def start(i: int) -> None:
            try:
                handles[i] = _WorkerHandle(self.config)
            except BaseException as exc:
                handles[i] = exc

        threads = [threading.Thread(target=start, args=(i,)) for i in range(self.config.workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        errors = [h for h in handles if isinstance(h, BaseException)]
        for h in handles:
            if isinstance(h, _WorkerHandle):
                self._all.append(h)
                self._free.put(h)
        if errors:
            self.close()
            raise errors[0]
        self.layers: dict[str, Any] = dict(self._all[0].hello.get("layers", {}))
        self.info: dict[str, Any] = dict(self._all[0].hello.get("info", {}))
        inactive = {k: v for k, v in self.layers.items() if v is not True and k not in _INFO_ONLY}
        if inactive:
            detail = "; ".join(f"{k}: {v}" for k, v in sorted(inactive.items()))
            warnings.warn(f"turngym sandbox runs with reduced isolation, inactive layers: {detail}", SandboxWarning, stacklevel=2)

    # ------------------------------------------------------------------ pool
    def _acquire(self) -> _WorkerHandle:
        if self._closed:
            raise SandboxError("sandbox backend is closed")
        w = self._free.get()
        if not w.alive:
            try:
                w = self._replace(w)
            except BaseException:
                self._free.put(w)  # keep the slot: the next caller retries the restart
                raise
        return w

    def _release(self, w: _WorkerHandle) -> None:
        if self._closed:
            w.close()
        else:
            self._free.put(w)

    def _replace(self, dead: _WorkerHandle) -> _WorkerHandle:
        dead.kill()
        new = _WorkerHandle(self.config)
        with self._lock:
            self._all = [new if w is dead else w for w in self._all]
        return new

    # ------------------------------------------------------------------ API
    def run(self, code: str, *, timeout: float | None = None, memory_mb: int | None = None,
            files: Files | None = None, stdin: str | None = None, collect_files: bool | list[str] = False) -> ExecResult:
        cfg = self.config
        validate_call(code, timeout, memory_mb, cfg.max_timeout_s, cfg.max_memory_mb)
        if stdin is not None and not isinstance(stdin, str):
            raise TypeError("stdin must be a str")
        fs = validate_files(files)
        timeout = float(timeout or cfg.timeout_s)
        msg = {"op": "run", "code": code, "timeout": timeout, "memory_mb": int(memory_mb or cfg.memory_mb),
               "stdin": stdin, "collect_files": validate_collect(collect_files),
               "files": {k: base64.b64encode(v).decode() for k, v in fs.items()}}
        t0 = time.perf_counter()
        w = self._acquire()
        try:
            if w.direct:
                return self._run_direct(w, msg, timeout)
            reply, _ = w.call(msg, timeout=timeout + 30.0)
        except WorkerDied as exc:
            try:
                w = self._replace(w)
            except SandboxError:
                pass
            return ExecResult.sandbox_error(str(exc), duration_s=time.perf_counter() - t0)
        finally:
            self._release(w)
        try:  # the worker checked the child's report already; a bad reply is the worker's fault
            return ExecResult.from_dict(reply)
        except ValueError as exc:
            return ExecResult.sandbox_error(f"malformed reply from sandbox worker: {exc}")

    def _run_direct(self, w: _WorkerHandle, msg: dict[str, Any], timeout: float) -> ExecResult:
        """One hop: write the request into a lent spare and collect from its pipes ourselves."""
        cfg = self.config
        t_take = time.monotonic()
        spare = w.take_spare(timeout=cfg.worker_start_timeout_s)
        t0 = time.monotonic()
        ready = bool(spare.pre_frames) or bool(select.select([spare.res], [], [], 0)[0])
        try:
            try:
                _protocol.write_frame(spare.req, msg)
            except OSError:
                pass  # a dead spare: the collector sees no result and we ask the worker why
            os.close(spare.req)
            spare.req = -1
            c = collector.collect({"out": spare.out, "err": spare.err, "res": spare.res}, spare.pidfd, spare.kill,
                                  t0=t0, timeout=timeout, max_output=cfg.max_output_bytes,
                                  res_cap=integrity.max_report_bytes(cfg.max_files_out_bytes), pre_frames=spare.pre_frames)
            status = None
            if collector.needs_exit_status(c):
                if not c.exited:
                    spare.kill()
                status = w.wait_exit(spare.pid, timeout=10.0)
            r = collector.build_result(c, status, timeout=timeout, max_output=cfg.max_output_bytes, max_cpu_s=int(cfg.max_timeout_s) + 1,
                                       collect_spec=msg["collect_files"], max_files_bytes=cfg.max_files_out_bytes)
            r["meta"].update(spare_wait_s=t0 - t_take, spare_was_ready=ready)
            return _checked_result(r)
        finally:
            spare.close()

    def session(self, *, memory_mb: int | None = None, timeout: float | None = None) -> LocalSession:
        return LocalSession(self, memory_mb=memory_mb, timeout=timeout)

    def capabilities(self) -> dict[str, Any]:
        """Layers the worker's children actually applied (True) or why not (a reason string)."""
        return {"backend": self.name, "layers": dict(self.layers), "info": dict(self.info),
                "strict": self.config.strict, "workers": len(self._all), "worker_uid": self._all[0].hello.get("uid") if self._all else None,
                "fork_server": dict(self._all[0].hello.get("fork_server") or {}) if self._all else None}

    def worker_pids(self) -> list[int]:
        return [w.pid for w in self._all]

    def fork_server_pids(self) -> list[int]:
        """The processes that fork the sandbox children (one per worker; the children's parent)."""
        return [int(w.hello["fork_server"]["pid"]) for w in self._all if w.hello.get("fork_server")]

    def close(self) -> None:
        self._closed = True
        while True:
            try:
                w = self._free.get_nowait()
            except queue.Empty:
                break
            w.close()
        for w in self._all:
            if w.alive:
                w.kill()

    def __del__(self) -> None:
        try:
            if not self._closed:
                self.close()
        except Exception:
            pass


def _checked_result(r: dict[str, Any]) -> ExecResult:
    """ExecResult from fields ``integrity`` checked already (file contents still base64)."""
    files = r.get("files")
    return ExecResult(**(r | {"files": {k: base64.b64decode(v) for k, v in files.items()} if files else {}}))


def _read_frames_until(fd: int, deadline: float, max_size: int) -> tuple[list[Any], int]:
    """The frames ``fd`` brings until one is complete (at least one) and how many bytes followed them.

    ``TimeoutError`` at ``deadline``, ``EOFError`` when the peer is gone, ``ProtocolError`` for bytes
    that are no frame or announce more than ``max_size``.
    """
    buf = _protocol.FrameBuffer(max_size)
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        r, _, _ = select.select([fd], [], [], remaining)
        if not r:
            raise TimeoutError
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            raise EOFError
        frames = buf.feed(chunk)
        if frames:
            return frames, buf.pending


class LocalSession(Session):
    """A confined process keeping a namespace across calls; a soft timeout interrupts only the cell."""

    def __init__(self, backend: LocalBackend, *, memory_mb: int | None = None, timeout: float | None = None) -> None:
        cfg = backend.config
        validate_call("", timeout, memory_mb, cfg.max_timeout_s, cfg.max_memory_mb)
        self.backend = backend
        self.memory_mb = int(memory_mb or cfg.memory_mb)
        self.timeout = float(timeout or cfg.timeout_s)
        self._lock = threading.Lock()
        self._alive = False
        self._fds: dict[str, int] = {}
        self.pid: int | None = None
        self.layers: dict[str, Any] = {}
        self._open()

    def _open(self) -> None:
        req_r, req_w = os.pipe()
        resp_r, resp_w = os.pipe()
        w = self.backend._acquire()
        try:
            reply, fds = w.call({"op": "session", "memory_mb": self.memory_mb}, fds=[req_r, resp_w], timeout=60)
        except WorkerDied:
            self.backend._replace(w)
            for fd in (req_r, req_w, resp_r, resp_w):
                os.close(fd)
            raise
        finally:
            self.backend._release(w)
            for fd in (req_r, resp_w):
                try:
                    os.close(fd)
                except OSError:
                    pass
        if not reply.get("ok") or len(fds) != 1:
            for fd in fds + [req_w, resp_r]:
                os.close(fd)
            raise SandboxError(f"could not open a sandbox session: {reply.get('error')}")
        self._fds = {"req": req_w, "resp": resp_r, "pidfd": fds[0]}
        self.pid = reply.get("pid")
        try:
            frames, rest = _read_frames_until(resp_r, time.monotonic() + 30, 1 << 20)
        except (TimeoutError, EOFError, _protocol.ProtocolError) as exc:
            self._kill()
            raise SandboxError(f"sandbox session did not start: {exc!r}") from exc
        ready = frames[0] if isinstance(frames[0], dict) else {}
        if ready.get("ready") is not True or len(frames) > 1 or rest:
            self._kill()
            raise SandboxUnavailable(f"sandbox session refused to start: {str(ready.get('error'))[:2000]}")
        self.layers = ready.get("layers", {})
        self._alive = True

    @property
    def alive(self) -> bool:
        return self._alive

    def _kill(self) -> None:
        self._alive = False
        pidfd = self._fds.get("pidfd")
        if pidfd is not None:
            try:
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            except OSError:
                pass
        for fd in self._fds.values():
            try:
                os.close(fd)
            except OSError:
                pass
        self._fds = {}

    def run(self, code: str, *, timeout: float | None = None, files: Files | None = None,
            stdin: str | None = None, collect_files: bool | list[str] = False) -> ExecResult:
        cfg = self.backend.config
        validate_call(code, timeout, None, cfg.max_timeout_s, cfg.max_memory_mb)
        if stdin is not None and not isinstance(stdin, str):
            raise TypeError("stdin must be a str")
        fs = validate_files(files)
        timeout = float(timeout or self.timeout)
        spec = validate_collect(collect_files)
        call = integrity.new_call_id()
        msg = {"code": code, "timeout": timeout, "memory_mb": self.memory_mb, "stdin": stdin, "collect_files": spec,
               "files": {k: base64.b64encode(v).decode() for k, v in fs.items()}, "call": call}
        with self._lock:
            if not self._alive:
                raise SessionLost("the sandbox session is closed or was killed; call reopen()")
            t0 = time.monotonic()
            try:
                # Bytes the cell left on the pipe since the last reply are read first below: they carry
                # no frame with this call's fresh id, so they void the call (``integrity``).
                _protocol.write_frame(self._fds["req"], msg)
                frames, rest = _read_frames_until(self._fds["resp"], t0 + timeout + cfg.session_grace_s,
                                                        integrity.max_report_bytes(cfg.max_files_out_bytes, cfg.max_output_bytes))
                if len(frames) > 1 or rest:
                    raise integrity.Violation(f"{len(frames)} frames and {rest} more bytes for one call")
                fields = integrity.check_session_reply(frames[0], call, timeout=timeout, elapsed=time.monotonic() - t0, collect_spec=spec,
                                                       max_files_bytes=cfg.max_files_out_bytes, max_output=cfg.max_output_bytes)
            except TimeoutError:
                self._kill()
                return ExecResult(status="timeout", duration_s=time.monotonic() - t0, error_name="TimeoutError",
                                  error_value=f"cell ignored the {timeout:g} s soft timeout; session process killed",
                                  session_lost=True)
            except (integrity.Violation, _protocol.ProtocolError) as exc:  # before OSError: ProtocolError is one
                # An unreadable or foreign frame: the code wrote to the channel, which cannot be
                # trusted (nor re-synchronised) any more. Killed, so no later call reads its bytes.
                self._kill()
                return ExecResult(**integrity.violation_fields(str(exc)), duration_s=time.monotonic() - t0, session_lost=True)
            except (EOFError, OSError) as exc:
                self._kill()
                return ExecResult(status="killed", duration_s=time.monotonic() - t0, error_name="Killed",
                                  error_value=f"session process died ({type(exc).__name__}); state is lost",
                                  session_lost=True)
            duration = time.monotonic() - t0
        return ExecResult(**integrity.session_result_fields(fields, duration, decode=True))

    def close(self) -> None:
        with self._lock:
            self._kill()

    def reopen(self) -> None:
        with self._lock:
            self._kill()
            self._open()

    def __del__(self) -> None:
        try:
            self._kill()
        except Exception:
            pass
