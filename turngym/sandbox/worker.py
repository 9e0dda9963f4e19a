"""The sandbox worker: a long-lived process that forks pre-confined children.

Started with ``subprocess.Popen`` (never forked from the trainer) and a scrubbed environment, it
speaks length-prefixed JSON over a Unix socket on fd 0 (or over stdin/stdout with ``--stdio``, inside
a container). It pre-imports the common modules once, then keeps *spare* children that are already
confined and blocked on their request pipe, so a run costs one pipe write plus the code itself.
The children are forked by the worker's fork server (``forkserver``), a copy of the worker that
does nothing else, so the heap they share stays untouched between forks.
Each child is pid 1 of its own PID namespace (when root), so everything it spawns dies with it, and
its scratch is a private tmpfs that vanishes with its mount namespace. Like any init, it ignores
signals it sends *itself* without a handler (``os.kill(os.getpid(), SIGKILL)`` is a no-op); faults
and signals from outside still kill it.

The worker exits when its channel reaches EOF, i.e. when the trainer dies, killing its children.
"""

from __future__ import annotations

import gc
import importlib
import os
import select
import shutil
import signal
import socket
import struct
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

from . import _protocol, _sys, collector, confine, forkserver, hugepages, integrity, landlock, seccomp_filter
from .child import main as child_main
from .child import rehearse as child_rehearse
from .config import SandboxConfig

_RO_SYSTEM = ("/usr/lib", "/usr/lib64", "/usr/lib32", "/lib", "/lib64", "/usr/share/zoneinfo",
              "/usr/bin", "/bin", "/etc/ld.so.cache", "/etc/localtime", "/dev/urandom", "/dev/random", "/dev/zero")
_RW_FILES = ("/dev/null",)
#: Order of a child's pipe ends in a fork-server request.
_RUN_FDS = ("req", "res", "out", "err", "tick")
_SESSION_FDS = ("req", "res")


def _read_paths(cfg: SandboxConfig) -> list[str]:
    """Read-only allow-list: the interpreter, its stdlib and site-packages, system libraries."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    for p in sys.path:
        if p and os.path.isabs(p) and os.path.exists(p) and ("site-packages" in p or "dist-packages" in p):
            paths.add(p)
    paths.update(_RO_SYSTEM)
    paths.update(cfg.extra_read_paths)
    return sorted(p for p in paths if p and p != "/" and os.path.exists(p))


def _remove_stale_bases() -> None:
    """Scratch bases of workers that were SIGKILLed (no chance to clean up) are removed by the next one."""
    tmp = tempfile.gettempdir()
    for name in os.listdir(tmp):
        parts = name.split("-")
        if len(parts) < 4 or not name.startswith("turngym-sbx-") or not parts[2].isdigit():
            continue
        try:
            os.kill(int(parts[2]), 0)
            continue  # owner alive (or pid reused): leave it
        except ProcessLookupError:
            shutil.rmtree(os.path.join(tmp, name), ignore_errors=True)
        except OSError:
            continue


class SocketTransport:
    """Unix socketpair to the trainer: frames plus fd passing (used by the local backend)."""

    can_pass_fds = True

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def fileno(self) -> int:
        return self.sock.fileno()

    def pending(self) -> bool:
        return False

    def recv(self) -> tuple[Any, list[int]]:
        return _protocol.recv_msg(self.sock)

    def send(self, obj: Any, fds: list[int] | tuple[int, ...] = ()) -> None:
        _protocol.send_msg(self.sock, obj, fds)

    def fds(self) -> list[int]:
        return [self.sock.fileno()]

    def peer_gone(self) -> bool:
        """Called when readable while busy: True on EOF (a pipelined request stays queued)."""
        return not self.sock.recv(1, socket.MSG_PEEK)


class StdioTransport:
    """Frames over a plain byte stream (a container's attached stdin/stdout): no fd passing."""

    can_pass_fds = False

    def __init__(self, rfd: int, wfd: int) -> None:
        self.rfd, self.wfd = rfd, wfd
        self.buf = b""
        self.frames: list[Any] = []

    def fileno(self) -> int:
        return self.rfd

    def pending(self) -> bool:
        return bool(self.frames)

    def _fill(self) -> bool:
        chunk = os.read(self.rfd, 1 << 20)
        if not chunk:
            return False
        new, self.buf = _protocol.decode_buffer(self.buf + chunk)
        self.frames.extend(new)
        return True

    def recv(self) -> tuple[Any, list[int]]:
        while not self.frames:
            if not self._fill():
                raise _protocol.ProtocolError("peer closed the channel")
        return self.frames.pop(0), []

    def send(self, obj: Any, fds: list[int] | tuple[int, ...] = ()) -> None:
        if fds:
            raise _protocol.ProtocolError("fd passing is not possible over a byte stream")
        _protocol.write_frame(self.wfd, obj)

    def fds(self) -> list[int]:
        return [self.rfd, self.wfd]

    def peer_gone(self) -> bool:
        return not self._fill()


@dataclass
class _Child:
    pid: int
    pidfd: int
    pidns: bool
    fds: dict[str, int] = field(default_factory=dict)
    #: Frames already read from the result pipe (the "ready" report of a spare read at start-up).
    pre_frames: list[Any] = field(default_factory=list)
    #: Scratch directory to delete once the child is gone (only without a private tmpfs).
    scratch: str | None = None

    def close(self) -> None:
        for fd in list(self.fds.values()) + ([self.pidfd] if self.pidfd >= 0 else []):
            try:
                os.close(fd)
            except OSError:
                pass
        self.fds.clear()
        self.pidfd = -1


class Worker:
    """Forks confined children. Two ways to use a run child:

    * *direct* (Unix socket transport, the local backend): each spare's pipes and a pidfd are handed
      to the trainer, which talks to the child itself; the worker reaps it, reports its exit status
      and forks a replacement, keeping ``cfg.spares`` spares alive.
    * *proxied* (``--stdio``, or ``cfg.direct=False``): the worker runs each ``run`` request through
      its own spare and collects the result.
    """

    def __init__(self, cfg: SandboxConfig, transport: SocketTransport | StdioTransport) -> None:
        self.cfg = cfg
        self.sock = transport
        self.direct = bool(cfg.direct and getattr(transport, "can_pass_fds", False))
        self.disabled = set(cfg.disable)
        self.is_root = os.geteuid() == 0
        self.uid = cfg.uid_base + os.getpid() if self.is_root else None
        _remove_stale_bases()
        self.base = tempfile.mkdtemp(prefix=f"turngym-sbx-{os.getpid()}-")
        os.chmod(self.base, 0o711)
        os.mkdir(os.path.join(self.base, "scratch"), 0o711)
        os.mkdir(os.path.join(self.base, "stage"), 0o700)
        self.counter = 0
        self.reaped: dict[int, tuple[int, float]] = {}  # pid -> (wait status, CPU seconds)
        self.sessions: dict[int, int] = {}  # pid -> pidfd (sessions whose pipes the trainer holds)
        self.proxied: dict[str, _Child] = {}  # sessions served through this worker (stdio transport)
        self.idle: list[_Child] = []  # spares the worker keeps (proxied mode)
        self.lent: dict[int, _Child] = {}  # spares handed to the trainer (direct mode), by pid
        self.exiting: dict[int, _Child] = {}  # proxied runs finished but not yet reaped
        self.deadlines: dict[int, float] = {}  # lent child pid -> when we kill it regardless
        self.pidns_fd, self.pidns_reason = self._probe_pidns()
        # Nothing here starts threads (BLAS pools are pinned to one thread by the environment), so
        # forks can skip CPython's at-fork hooks; checked, since a native thread would make that unsafe.
        self.single_threaded = _sys.thread_count() == 1
        bpf, reason = None, ""
        skipped: list[str] = []
        if "seccomp" not in self.disabled:
            ok, reason = seccomp_filter.available()
            if ok:
                try:
                    bpf = seccomp_filter.compile_filter(strict=cfg.strict, skipped=skipped)
                    seccomp_filter.prepare(bpf)  # laid out once, inherited by every child
                except Exception as exc:
                    reason = f"compiling the filter failed: {exc}"
        self.plan: dict[str, Any] = {
            "uid": self.uid, "gid": self.uid, "scratch_base": self.base,
            "scratch_size_mb": cfg.scratch_size_mb, "scratch_inodes": cfg.scratch_inodes,
            "max_memory_mb": cfg.max_memory_mb, "max_cpu_s": int(cfg.max_timeout_s) + 1,
            "fsize_mb": cfg.fsize_mb, "nofile": cfg.nofile, "nproc": cfg.nproc,
            "ro_paths": _read_paths(cfg), "rw_files": list(_RW_FILES), "seccomp_bpf": bpf,
            "seccomp_reason": reason, "strict": cfg.strict, "disabled": sorted(self.disabled),
            # SysV/mqueue syscalls the filter could not name (architectures without them need no rule).
            "seccomp_ipc_missing": sorted(set(skipped) & set(seccomp_filter.IPC_DENIED) - {"ipc"}),
            "env": {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0",
                    "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"},
            "pid_namespace_reason": self.pidns_reason,
            "worker_mount_ns": False,
        }
        if self.is_root and "scratch_tmpfs" not in self.disabled:
            try:
                self.plan["exposed"] = confine.prepare_worker_namespace(self.plan["ro_paths"], os.path.join(self.base, "stage"))
                self.plan["worker_mount_ns"] = True
            except OSError as exc:
                self.plan["worker_mount_ns_reason"] = str(exc)
        self._prepare_for_children()
        # Last, so the server inherits everything above; it must not hold the trainer's channel.
        self.forks = forkserver.ForkServer(self._child_entry, pidns_fd=self.pidns_fd, close_in_server=self.sock.fds(),
                                           native=cfg.native_fork_server, bare=self.single_threaded,
                                           prepare=self._settle_heap)

    def _settle_heap(self) -> None:
        """Runs once in the (native) fork server: leave a heap that children share cheaply.

        The server never writes to its heap again, so what it leaves here is what every fork
        copies: an allocator with hot free chunks (``rehearse``), no pending garbage, and huge pages
        (``hugepages``: fork and exit cost per 2 MiB instead of per 4 KiB). Collapsing here, not in
        the worker, keeps them huge: the worker's own writes would split them.
        """
        child_rehearse()
        gc.collect()
        gc.freeze()
        if self.cfg.huge_pages:
            hugepages.collapse_heap()

    def _prepare_for_children(self) -> None:
        """Do once here what every child would otherwise redo on its critical path.

        Children with a private tmpfs all see their scratch at the same path, so the environment
        they must have and the Landlock ruleset they must enforce are the same for all of them. The
        worker builds both before forking (it never runs anything that reads its own environment);
        a child whose scratch ended up elsewhere (no tmpfs) builds its own from the plan.
        """
        parent = os.path.join(self.base, "scratch")
        scratch = parent
        if self.plan["worker_mount_ns"]:
            try:
                scratch = self.plan["scratch_mount"] = confine.prepare_scratch_parent(parent)
            except OSError as exc:
                self.plan["scratch_parent_reason"] = str(exc)
        os.environ.clear()
        os.environ.update(confine.child_environment(self.plan, scratch))
        self.plan["env_scratch"] = scratch
        if "landlock" in self.disabled or "scratch_mount" not in self.plan:
            return
        try:
            fd, abi = landlock.build_ruleset(self.plan["ro_paths"], [parent], self.plan["rw_files"])
        except OSError:
            return  # each child tries again and reports why the layer is inactive
        self.plan.update(landlock_ruleset_fd=fd, landlock_abi=abi, landlock_scratch=scratch)

    # ---------------------------------------------------------------- children
    def _probe_pidns(self) -> tuple[int | None, str]:
        if "pid_namespace" in self.disabled:
            return None, "disabled by configuration"
        if not self.is_root:
            return None, "needs root"
        try:
            fd = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
            _sys.setns(fd, _sys.CLONE_NEWPID)
            return fd, ""
        except OSError as exc:
            return None, str(exc)

    @property
    def target_spares(self) -> int:
        # Without a PID namespace, leftovers are killed by uid after each run: that would take an
        # idle spare of the same uid with them, so keep exactly one.
        return max(1, self.cfg.spares) if self.pidns_fd is not None else 1

    def _fork(self, mode: str, child_fds: dict[str, int], uid_offset: int = 0) -> _Child:
        """Have the fork server fork a child that confines itself and serves ``mode`` ('run'/'session')."""
        names = _RUN_FDS if mode == "run" else _SESSION_FDS
        self.counter += 1
        try:
            pid, pidfd, pidns = self.forks.fork(mode[0], [child_fds[n] for n in names], uid_offset, self.counter)
        finally:
            for fd in child_fds.values():
                os.close(fd)
        return _Child(pid=pid, pidfd=pidfd, pidns=pidns, scratch=os.path.join(self.base, f"c{self.counter}"))

    def _child_entry(self, mode: str, fds: list[int], uid_offset: int, scratch_id: int, pidns: bool) -> int:
        """Runs in each child the fork server forks: confine, then serve a run or a session."""
        names = _RUN_FDS if mode == "r" else _SESSION_FDS
        if len(fds) != len(names):
            return 71
        uid = self._uid(uid_offset)
        plan = self.plan | {"pid_namespace": pidns, "uid": uid, "gid": uid,
                            "fallback_scratch": os.path.join(self.base, f"c{scratch_id}")}
        return child_main("run" if mode == "r" else "session", plan, dict(zip(names, fds)), self.cfg)

    def _uid(self, offset: int) -> int | None:
        return None if self.uid is None else self.uid + offset

    def _new_spare(self) -> _Child:
        req_r, req_w = os.pipe()
        res_r, res_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        tick_r, tick_w = os.pipe()
        child = self._fork("run", {"req": req_r, "res": res_w, "out": out_w, "err": err_w, "tick": tick_w})
        child.fds = {"req": req_w, "res": res_r, "out": out_r, "err": err_r, "tick": tick_r}
        return child

    def _lend(self, child: _Child) -> None:
        """Hand a spare's pipes (and a pidfd) to the trainer; we keep only our pidfd to reap it."""
        fds = [child.fds["req"], child.fds["res"], child.fds["out"], child.fds["err"], child.pidfd]
        self.sock.send({"op": "spare", "pid": child.pid, "pidns": child.pidns, "pre_frames": child.pre_frames}, fds)
        for name in ("req", "res", "out", "err"):
            os.close(child.fds.pop(name))
        child.pre_frames = []
        self.lent[child.pid] = child  # we keep its "tick" pipe: it tells us when the run starts

    def _replenish(self) -> None:
        try:
            if self.direct:
                while len(self.lent) < self.target_spares:
                    self._lend(self._new_spare())
            elif not self.idle:
                self.idle.append(self._new_spare())
        except OSError:
            pass  # retried on the next loop iteration

    def _on_tick(self, child: _Child) -> None:
        """A lent child started its run and told us its timeout: arm our own deadline for it."""
        data = os.read(child.fds["tick"], 64)
        os.close(child.fds.pop("tick"))
        if len(data) == 8:
            (timeout,) = struct.unpack("d", data)
            timeout = min(max(timeout, 0.0), self.cfg.max_timeout_s)
            self.deadlines[child.pid] = time.monotonic() + timeout + self.cfg.kill_grace_s

    def _enforce_deadlines(self) -> float:
        """Kill lent children past their deadline (the caller should have already); next wait."""
        now = time.monotonic()
        wait = 1.0
        for pid, deadline in list(self.deadlines.items()):
            child = self.lent.get(pid)
            if child is None:
                del self.deadlines[pid]
            elif now >= deadline:
                self._kill(child)
                del self.deadlines[pid]
            else:
                wait = min(wait, deadline - now)
        return wait

    def _kill(self, child: _Child) -> None:
        if child.pidfd >= 0:
            try:
                signal.pidfd_send_signal(child.pidfd, signal.SIGKILL)
            except OSError:
                pass
        if not child.pidns:
            try:
                os.killpg(child.pid, signal.SIGKILL)
            except OSError:
                pass

    def _wait(self, pid: int) -> tuple[int, float] | None:
        """(wait status, CPU seconds) of a child, blocking until the fork server has reaped it."""
        if pid in self.reaped:
            return self.reaped.pop(pid)
        return self.forks.wait_exit(pid, timeout=60.0)

    def _after_exit(self, child: _Child) -> None:
        if child.scratch and os.path.isdir(child.scratch):
            shutil.rmtree(child.scratch, ignore_errors=True)
        if not child.pidns:
            self._fallback_cleanup()

    def reap(self) -> None:
        """Act on every exit the fork server reported (children and orphans it adopted)."""
        self.forks.poll()
        while self.forks.exits:
            pid, status, cpu = self.forks.exits.popleft()
            if pid in self.sessions:
                os.close(self.sessions.pop(pid))
            elif pid in self.exiting:
                self._after_exit(self.exiting.pop(pid))
            elif pid in self.lent:
                child = self.lent.pop(pid)
                child.close()
                self._after_exit(child)
                self.sock.send({"op": "exit", "pid": pid, "status": status, "cpu_s": cpu})
            else:
                for child in list(self.idle):
                    if child.pid == pid:  # a spare died before use
                        self.idle.remove(child)
                        child.close()
                        self._after_exit(child)
                        break
                else:
                    self.reaped[pid] = (status, cpu)
            if len(self.reaped) > 256:  # statuses nobody asked for (orphans adopted as subreaper)
                self.reaped.pop(next(iter(self.reaped)))

    def _fallback_cleanup(self) -> None:
        """Without a PID namespace: kill whatever the run uid left behind, from a setuid helper."""
        if self.uid is None or "setuid" in self.disabled:
            return
        pid = os.fork()
        if pid == 0:
            try:
                os.setgroups([])
                os.setresgid(self.uid, self.uid, self.uid)
                os.setresuid(self.uid, self.uid, self.uid)
                if os.getresuid() == (self.uid,) * 3 and self.uid != 0:
                    os.kill(-1, signal.SIGKILL)
            finally:
                os._exit(0)
        os.waitpid(pid, 0)

    # ---------------------------------------------------------------- requests
    def hello(self) -> dict[str, Any]:
        """Confine a first spare and report which layers really took effect."""
        child = self._new_spare()
        frames, _ = self._read_ready(child)
        if not frames:
            self._kill(child)
            return {"op": "hello", "ok": False, "error": "the first sandbox child died while confining itself"}
        ready = frames[0]
        child.pre_frames = frames
        self.idle.append(child)
        return {"op": "hello", "ok": bool(ready.get("ready")), "error": ready.get("error"),
                "layers": ready.get("layers", {}), "info": ready.get("info", {}), "pid": os.getpid(),
                "uid": self.uid, "direct": self.direct,
                "fork_server": {"pid": self.forks.pid, "native": self.forks.native, "thp": hugepages.thp_mode(),
                                "huge_pages_mb": hugepages.anon_huge_mb(self.forks.pid)}}

    def _read_ready(self, child: _Child, timeout: float = 30.0) -> tuple[list[Any], bytes]:
        buf = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r, _, _ = select.select([child.fds["res"]], [], [], max(0.0, deadline - time.monotonic()))
            if not r:
                break
            chunk = os.read(child.fds["res"], 65536)
            if not chunk:
                break
            buf += chunk
            frames, rest = _protocol.decode_buffer(buf)
            if frames:
                return frames, rest
        return [], buf

    def run(self, msg: dict[str, Any]) -> dict[str, Any]:
        """Proxied run: the worker feeds its own spare and collects the result for the caller."""
        child = self.idle.pop(0) if self.idle else self._new_spare()
        t0 = time.monotonic()
        timeout = min(float(msg.get("timeout") or self.cfg.timeout_s), self.cfg.max_timeout_s)
        try:
            _protocol.write_frame(child.fds["req"], msg)
        except OSError:
            pass  # the collector reports the dead child
        os.close(child.fds.pop("req"))

        def on_watch() -> bool:
            if self.sock.peer_gone():
                self._kill(child)
                raise SystemExit(0)  # the trainer is gone
            return False  # a pipelined request: it waits for our reply

        status = None
        try:
            c = collector.collect(child.fds, child.pidfd, lambda: self._kill(child), t0=t0, timeout=timeout,
                                  max_output=self.cfg.max_output_bytes, res_cap=integrity.max_report_bytes(self.cfg.max_files_out_bytes),
                                  pre_frames=child.pre_frames, watch_fd=self.sock.fileno(), on_watch=on_watch)
            # Without a PID namespace the uid sweep must finish before the next spare (same uid) exists.
            if collector.needs_exit_status(c) or not child.pidns:
                if not c.exited:
                    self._kill(child)
                status = self._wait(child.pid)
                self._after_exit(child)
            else:
                self.exiting[child.pid] = child  # exits on its own; reap() cleans up after it
            return collector.build_result(c, status, timeout=timeout, max_output=self.cfg.max_output_bytes,
                                          max_cpu_s=self.plan["max_cpu_s"], collect_spec=msg.get("collect_files"),
                                          max_files_bytes=self.cfg.max_files_out_bytes)
        finally:
            child.close()

    def open_session(self, msg: dict[str, Any], fds: list[int]) -> tuple[dict[str, Any], list[int]]:
        if len(fds) != 2:
            for fd in fds:
                os.close(fd)
            return {"op": "reply", "ok": False, "error": "session needs exactly two fds"}, []
        child = self._fork("session", {"req": fds[0], "res": fds[1]}, uid_offset=1 << 22)
        pidfd = os.dup(child.pidfd)
        self.sessions[child.pid] = child.pidfd
        return {"op": "reply", "ok": True, "pid": child.pid}, [pidfd]

    def serve(self) -> None:
        try:
            hello = self.hello()
            self.sock.send(hello)
            if not hello["ok"]:
                return  # strict mode refused, or no child could start: clean up and leave
            if self.direct:
                while self.idle:
                    self._lend(self.idle.pop(0))
            while True:
                self._replenish()
                if not self.sock.pending():
                    ticks = {c.fds["tick"]: c for c in self.lent.values() if "tick" in c.fds}
                    # Exits arrive as fork-server messages: a lent child's pidfd turns readable
                    # before the server has reaped it, so watching it here would spin.
                    watched = [self.sock, self.forks, *ticks]
                    r, _, _ = select.select(watched, [], [], self._enforce_deadlines())
                    for fd in r:
                        if fd in ticks:
                            self._on_tick(ticks[fd])
                    self.reap()
                    self._enforce_deadlines()
                    if self.sock not in r:
                        continue
                try:
                    msg, fds = self.sock.recv()
                except (_protocol.ProtocolError, OSError, ValueError):
                    return
                op = msg.get("op") if isinstance(msg, dict) else None
                if op == "run":
                    self.sock.send(self.run(msg) | {"op": "reply"})
                    # The next spare is forked after replying, off the caller's critical path.
                    self._replenish()
                    self.reap()
                elif op == "session":
                    reply, out_fds = self.open_session(msg, fds)
                    self.sock.send(reply, out_fds)
                    for fd in out_fds:
                        os.close(fd)
                elif op == "session_open":
                    self.sock.send(self.proxy_open(msg) | {"op": "reply"})
                elif op == "session_run":
                    self.sock.send(self.proxy_run(msg) | {"op": "reply"})
                elif op == "session_close":
                    self.sock.send(self.proxy_close(msg.get("sid")) | {"op": "reply"})
                elif op == "ping":
                    self.sock.send({"op": "reply", "ok": True, "pid": os.getpid()})
                elif op == "close":
                    return
                else:
                    for fd in fds:
                        os.close(fd)
                    self.sock.send({"op": "reply", "ok": False, "error": f"unknown op {op!r}"})
        except (BrokenPipeError, ConnectionError):  # includes ForkServerDied: the pool starts a new worker
            return
        finally:
            self.shutdown()

    # ------------------------------------------------------------ proxied sessions (no fd passing)
    def proxy_open(self, msg: dict[str, Any]) -> dict[str, Any]:
        req_r, req_w = os.pipe()
        resp_r, resp_w = os.pipe()
        child = self._fork("session", {"req": req_r, "res": resp_w}, uid_offset=1 << 22)
        child.fds = {"req": req_w, "res": resp_r}
        self.sessions[child.pid] = os.dup(child.pidfd)
        frames, _ = self._read_ready(child)
        if not frames or not frames[0].get("ready"):
            self._kill(child)
            child.close()
            return {"ok": False, "error": (frames[0].get("error") if frames else "session child died while starting")}
        sid = f"s{child.pid}"
        self.proxied[sid] = child
        return {"ok": True, "sid": sid, "layers": frames[0].get("layers", {})}

    def proxy_run(self, msg: dict[str, Any]) -> dict[str, Any]:
        """A proxied session call, checked like ``LocalSession.run`` checks a direct one (``integrity``)."""
        sid = str(msg.get("sid"))
        child = self.proxied.get(sid)
        if child is None:
            return {"status": "sandbox_error", "session_lost": True, "error_name": "SessionLost", "error_value": "no such session"}
        cfg = self.cfg
        try:
            timeout = min(float(msg.get("timeout") or cfg.timeout_s), cfg.max_timeout_s)
        except (TypeError, ValueError):
            timeout = cfg.timeout_s
        call = integrity.new_call_id()
        spec = msg.get("collect_files")
        t0 = time.monotonic()
        deadline = t0 + timeout + cfg.session_grace_s
        buf = _protocol.FrameBuffer(integrity.max_report_bytes(cfg.max_files_out_bytes, cfg.max_output_bytes))
        try:
            _protocol.write_frame(child.fds["req"], {k: v for k, v in msg.items() if k not in ("op", "sid")} | {"call": call})
            while True:
                r, _, _ = select.select([child.fds["res"]], [], [], max(0.0, deadline - time.monotonic()))
                if not r:
                    raise TimeoutError
                chunk = os.read(child.fds["res"], 1 << 20)
                if not chunk:
                    raise EOFError
                frames = buf.feed(chunk)
                if frames:
                    if len(frames) > 1 or buf.pending:
                        raise integrity.Violation(f"{len(frames)} frames and {buf.pending} more bytes for one call")
                    fields = integrity.check_session_reply(frames[0], call, timeout=timeout, elapsed=time.monotonic() - t0, collect_spec=spec,
                                                           max_files_bytes=cfg.max_files_out_bytes, max_output=cfg.max_output_bytes)
                    return integrity.session_result_fields(fields, time.monotonic() - t0)
        except TimeoutError:
            self.proxy_close(sid)
            return {"status": "timeout", "session_lost": True, "error_name": "TimeoutError", "duration_s": time.monotonic() - t0,
                    "error_value": f"cell ignored the {timeout:g} s soft timeout; session process killed"}
        except (integrity.Violation, _protocol.ProtocolError) as exc:  # before OSError: ProtocolError is one
            self.proxy_close(sid)
            return integrity.violation_fields(str(exc)) | {"session_lost": True, "duration_s": time.monotonic() - t0}
        except (EOFError, OSError) as exc:
            self.proxy_close(sid)
            return {"status": "killed", "session_lost": True, "error_name": "Killed", "duration_s": time.monotonic() - t0,
                    "error_value": f"session process died ({type(exc).__name__}); state is lost"}

    def proxy_close(self, sid: Any) -> dict[str, Any]:
        child = self.proxied.pop(str(sid), None)
        if child is None:
            return {"ok": False, "error": "no such session"}
        self._kill(child)
        child.close()
        return {"ok": True}

    def shutdown(self) -> None:
        for child in self.idle + list(self.lent.values()) + list(self.proxied.values()):
            self._kill(child)
        for pidfd in self.sessions.values():
            try:
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            except OSError:
                pass
        if self.pidns_fd is None:
            self._fallback_cleanup()  # orphans a run left behind (no namespace took them down)
        time.sleep(0.01)
        self.lent.clear()
        try:
            self.reap()
        except OSError:
            pass
        self.forks.close()
        if "scratch_mount" in self.plan:  # our read-only scratch parent, or rmtree cannot empty it
            try:
                _sys.umount2(os.path.join(self.base, "scratch"), _sys.MNT_DETACH)
            except OSError:
                pass
        shutil.rmtree(self.base, ignore_errors=True)


# -------------------------------------------------------------------- entry point
def _preimport(names: tuple[str, ...]) -> list[str]:
    failed = []
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:
            failed.append(name)
    return failed


def main(argv: list[str] | None = None) -> None:
    import json

    argv = sys.argv[1:] if argv is None else argv
    cfg = SandboxConfig.from_json(json.loads(argv[0]))
    stdio = "--stdio" in argv[1:]
    transport: SocketTransport | StdioTransport
    if stdio:  # frames on stdin/stdout (inside a container); our own prints must not reach them
        transport = StdioTransport(os.dup(0), os.dup(1))
        os.dup2(os.open("/dev/null", os.O_WRONLY), 1)
    else:
        transport = SocketTransport(socket.socket(fileno=os.dup(0)))
    devnull = os.open("/dev/null", os.O_RDONLY)
    os.dup2(devnull, 0)
    try:
        _sys.prctl(_sys.PR_SET_CHILD_SUBREAPER, 1)
    except OSError:
        pass
    sys.dont_write_bytecode = True
    # Children inherit this CPU limit, armed by fork itself; the worker only ignores the SIGXCPU
    # it may earn over a long life (its hard limit stays as it was).
    import resource

    cpu = int(cfg.max_timeout_s) + 1
    signal.signal(signal.SIGXCPU, signal.SIG_IGN)
    try:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, resource.getrlimit(resource.RLIMIT_CPU)[1]))
    except (ValueError, OSError):
        pass
    _preimport(cfg.preimport)
    # Warm lazily-initialised sympy caches so children do not pay for them on first use.
    if "sympy" in sys.modules:
        try:
            sympy = sys.modules["sympy"]
            sympy.simplify(sympy.Symbol("x") ** 2 - 1)
            sympy.sympify("1+1")
        except Exception:
            pass
    gc.collect()
    gc.freeze()  # keep the shared heap out of later collections: fewer copy-on-write faults per child
    Worker(cfg, transport).serve()


BOOTSTRAP = (
    "import importlib.util as u,sys;"
    "s=u.spec_from_file_location('_turngym_sandbox',{init!r},submodule_search_locations=[{pkg!r}]);"
    "m=u.module_from_spec(s);sys.modules['_turngym_sandbox']=m;s.loader.exec_module(m);"
    "from _turngym_sandbox.worker import main;main()"
)


def command(cfg: SandboxConfig, *, stdio: bool = False, package_dir: str | None = None) -> list[str]:
    """argv that starts a worker without importing the (heavier) ``turngym`` package.

    ``package_dir`` is where this package is visible to that interpreter (e.g. a read-only bind mount
    inside a container); ``stdio`` selects the byte-stream transport.
    """
    import json

    pkg = package_dir or os.path.dirname(os.path.abspath(__file__))
    argv = [cfg.python, "-I", "-c", BOOTSTRAP.format(init=os.path.join(pkg, "__init__.py"), pkg=pkg), json.dumps(cfg.to_json())]
    return argv + (["--stdio"] if stdio else [])


__all__ = ["Worker", "command", "main"]
