"""The fork server: the one process that forks sandbox children, and nothing else.

Why a separate process: after a ``fork`` every page is shared copy-on-write, and each page the
*forking* process writes before its child exits is copied again, one fault each. The worker's own
loop (JSON frames, fd passing, bookkeeping, reaping) wrote ~200 pages per run, measured here at
~0.4 ms of CPU per run on top of the fork itself, and its writes also split the huge pages that make
``fork`` and ``exit`` cheap (``hugepages``). The fork server is forked from the worker once the heap
is ready; its loop touches a handful of pages, so its heap stays shared and huge.

Protocol over a ``SOCK_SEQPACKET`` pair (one datagram per message, fds by ``SCM_RIGHTS``):

* worker -> server: ``_REQUEST`` (mode ``r`` run / ``s`` session, uid offset, scratch id) with the
  child's ends of its pipes;
* server -> worker: ``F`` (pid, 1 if it is pid 1 of its own PID namespace) with a pidfd, ``E``
  (errno) when ``fork`` failed, and ``X`` (pid, wait status, CPU microseconds) for every child the
  server reaped, including orphans it adopted as a subreaper.

The loop runs in C (``_forkloop``, built with the package when a compiler is present) so that the
server runs no Python at all between forks; this module's ``serve`` is the same loop in Python, used
when the extension is missing or ``SandboxConfig.native_fork_server`` is off.

The server exits when the worker closes its end, and dies with the worker (parent-death signal);
children it forked die with it (their own parent-death signal).
"""

from __future__ import annotations

import collections
import os
import select
import signal
import socket
import struct
from collections.abc import Callable

from . import _sys

try:
    from . import _forkloop  # type: ignore[attr-defined]
except ImportError:  # not compiled (no C compiler at install time): the Python loop below
    _forkloop = None

_REQUEST = struct.Struct("=cIQ")
_REPLY = struct.Struct("=ciiq")
_MAX_FDS = 8

#: ``entry(mode, fds, uid_offset, scratch_id, pidns) -> exit code``: runs in each forked child.
ChildEntry = Callable[[str, list[int], int, int, bool], int]


def native_available() -> bool:
    return _forkloop is not None


class ForkServerDied(ConnectionError):
    """The fork server is gone; the worker cannot make children any more and should exit."""


def _noop(_signum: int, _frame: object) -> None:
    """SIGCHLD handler: its only job is to make the interpreter write to the wakeup fd."""


def serve(sock: socket.socket, pidns_fd: int | None, entry: ChildEntry, bare: bool) -> None:
    """The server loop in Python: fork on request, reap on SIGCHLD. Returns when the worker goes away."""
    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, _noop)
    close_in_child = [sock.fileno(), wake_r, wake_w] + ([pidns_fd] if pidns_fd is not None else [])
    watched = [sock, wake_r]
    while True:
        ready, _, _ = select.select(watched, [], [])
        if wake_r in ready:
            try:
                while os.read(wake_r, 512):
                    pass
            except BlockingIOError:
                pass
            _reap(sock)
        if sock not in ready:
            continue
        try:
            data, fds, _flags, _addr = socket.recv_fds(sock, _REQUEST.size, _MAX_FDS)
        except OSError:
            return
        if not data:
            return  # the worker closed its end
        try:
            mode, uid_offset, scratch_id = _REQUEST.unpack(data)
            pid, pidns = _fork(pidns_fd, bare)
            if pid == 0:
                signal.set_wakeup_fd(-1)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                for fd in close_in_child:
                    os.close(fd)
                run_child(entry, mode.decode(), fds, uid_offset, scratch_id, pidns)
            pidfd = os.pidfd_open(pid)
            try:
                socket.send_fds(sock, [_REPLY.pack(b"F", pid, int(pidns), 0)], [pidfd])
            finally:
                os.close(pidfd)
        except OSError as exc:
            sock.send(_REPLY.pack(b"E", 0, exc.errno or 0, 0))
        except struct.error:
            sock.send(_REPLY.pack(b"E", 0, 22, 0))  # EINVAL: malformed request
        finally:
            for fd in fds:
                os.close(fd)


def _fork(pidns_fd: int | None, bare: bool) -> tuple[int, bool]:
    """Fork one child, as pid 1 of a new PID namespace when ``pidns_fd`` (our own namespace) is given."""
    pidns = False
    if pidns_fd is not None:
        try:
            _sys.unshare(_sys.CLONE_NEWPID)
            pidns = True
        except OSError:
            pass  # the child reports the layer as inactive
    pid = -1
    try:
        pid = _sys.bare_fork() if bare else os.fork()
    finally:
        if pidns and pid != 0:
            _sys.setns(pidns_fd, _sys.CLONE_NEWPID)  # our later forks start from our own namespace
    return pid, pidns


def run_child(entry: ChildEntry, mode: str, fds: list[int], uid_offset: int, scratch_id: int, pidns: bool) -> None:
    """In a freshly forked child: run ``entry`` and exit, never returning into the server loop."""
    code = 70
    try:
        code = entry(mode, fds, uid_offset, scratch_id, pidns)
    except BaseException:
        pass
    os._exit(code)


def _reap(sock: socket.socket) -> None:
    while True:
        try:
            pid, status, ru = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        sock.send(_REPLY.pack(b"X", pid, status, int((ru.ru_utime + ru.ru_stime) * 1e6)))


class ForkServer:
    """The worker's handle on its fork server."""

    def __init__(self, entry: ChildEntry, *, pidns_fd: int | None, close_in_server: list[int],
                 native: bool = True, bare: bool = True, prepare: Callable[[], None] | None = None) -> None:
        """Fork the server. ``prepare`` runs in it once before the native loop starts (the last
        Python it runs as a server): the place to settle the heap that every child will share."""
        self.native = bool(native and _forkloop is not None)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = os.fork()  # once per worker; the hot-path forks happen in the server
        if pid == 0:
            code = 0
            try:
                ours.close()
                for fd in close_in_server:
                    try:
                        os.close(fd)
                    except OSError:
                        pass
                _sys.prctl(_sys.PR_SET_PDEATHSIG, signal.SIGKILL)
                try:
                    _sys.prctl(_sys.PR_SET_CHILD_SUBREAPER, 1)
                except OSError:
                    pass
                if self.native:
                    if prepare is not None:
                        try:
                            prepare()
                        except Exception:
                            pass  # an optimisation only: serve with the heap as it is
                    child = _forkloop.serve(theirs.fileno(), -1 if pidns_fd is None else pidns_fd, [theirs.fileno()])
                    if child is not None:  # we are a forked child, not the server
                        run_child(entry, *child)
                else:
                    serve(theirs, pidns_fd, entry, bare)
            except BaseException:
                code = 70
            os._exit(code)
        theirs.close()
        self.pid = pid
        self.sock = ours
        #: (pid, wait status, CPU seconds) of reaped children not yet handed to the worker.
        self.exits: collections.deque[tuple[int, int, float]] = collections.deque()

    def fileno(self) -> int:
        return self.sock.fileno()

    def _recv(self) -> tuple[bytes, int, int, int, list[int]]:
        try:
            data, fds, _flags, _addr = socket.recv_fds(self.sock, _REPLY.size, _MAX_FDS)
        except OSError as exc:
            raise ForkServerDied(f"fork server {self.pid}: {exc}") from exc
        if len(data) != _REPLY.size:
            for fd in fds:
                os.close(fd)
            raise ForkServerDied(f"fork server {self.pid} is gone")
        kind, a, b, c = _REPLY.unpack(data)
        if kind == b"X":
            self.exits.append((a, b, c / 1e6))
        if kind != b"F":  # only a fork reply carries an fd (the child's pidfd)
            for fd in fds:
                os.close(fd)
            fds = []
        return kind, a, b, c, fds

    def fork(self, mode: str, fds: list[int], uid_offset: int, scratch_id: int) -> tuple[int, int, bool]:
        """Have the server fork a child holding ``fds``; returns (pid, pidfd, pidns)."""
        try:
            socket.send_fds(self.sock, [_REQUEST.pack(mode.encode(), uid_offset, scratch_id)], fds)
        except OSError as exc:
            raise ForkServerDied(f"fork server {self.pid}: {exc}") from exc
        while True:
            kind, a, b, _c, got = self._recv()
            if kind == b"F" and len(got) == 1:
                return a, got[0], bool(b)
            for fd in got:  # a malformed fork reply
                os.close(fd)
            if kind == b"E":
                raise OSError(b, f"sandbox fork failed: {os.strerror(b)}")

    def poll(self) -> None:
        """Move every message already waiting into ``exits`` without blocking."""
        while select.select([self.sock], [], [], 0)[0]:
            self._recv()

    def wait_exit(self, pid: int, timeout: float | None = None) -> tuple[int, float] | None:
        """Block until the server reports ``pid`` reaped; (status, CPU seconds) or None on timeout."""
        while True:
            for i, (p, status, cpu) in enumerate(self.exits):
                if p == pid:
                    del self.exits[i]
                    return status, cpu
            if not select.select([self.sock], [], [], timeout)[0]:
                return None
            self._recv()

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass
