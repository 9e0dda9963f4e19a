"""Thin ctypes wrappers for the Linux calls Python 3.11 lacks (unshare, setns, mount, prctl)."""

from __future__ import annotations

import ctypes
import os

_libc = ctypes.CDLL(None, use_errno=True)

CLONE_NEWNS = 0x00020000
CLONE_NEWPID = 0x20000000
CLONE_NEWIPC = 0x08000000
MS_NOSUID, MS_NODEV, MS_NOEXEC = 2, 4, 8
MS_RDONLY, MS_REMOUNT = 1, 32
MS_BIND, MS_MOVE, MS_REC, MS_PRIVATE = 4096, 8192, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS, PR_SET_CHILD_SUBREAPER, PR_SET_DUMPABLE = 1, 38, 36, 4


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


try:  # the fork server's C extension also wraps these syscalls: far cheaper than ctypes in a fresh child
    from . import _forkloop as _native  # type: ignore[attr-defined]
except ImportError:
    _native = None


def unshare(flags: int) -> None:
    if _native is not None:
        return _native.unshare(flags)
    _check(_libc.unshare(flags), "unshare")


def setns(fd: int, nstype: int) -> None:
    if _native is not None:
        return _native.setns(fd, nstype)
    _check(_libc.setns(fd, nstype), "setns")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    if _native is not None:
        return _native.mount(source, target, fstype, flags, data)
    enc = lambda s: None if s is None else s.encode()
    _check(_libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)), f"mount({target})")


def umount2(target: str, flags: int = 0) -> None:
    _check(_libc.umount2(target.encode(), flags), f"umount2({target})")


def prctl(option: int, arg: int) -> None:
    if _native is not None:
        return _native.prctl(option, arg)
    _check(_libc.prctl(option, ctypes.c_ulong(arg), 0, 0, 0), f"prctl({option})")


_pylibc = ctypes.PyDLL(None, use_errno=True)  # PyDLL: the call keeps the GIL, as fork() must
_pylibc.fork.restype = ctypes.c_int


def thread_count() -> int:
    """Kernel threads in this process (``threading`` does not see native threads, e.g. BLAS pools)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    return 0


def bare_fork() -> int:
    """``fork()`` without CPython's at-fork hooks; only for a process that has a single thread.

    ``os.fork`` runs every ``os.register_at_fork`` callback in the child (``threading`` rebuilding its
    bookkeeping, ``random`` reseeding from urandom, ``logging`` re-creating handler locks). They exist
    for locks another thread might have held; in a single-threaded worker there is none, and running
    them first in a fresh child was measured at ~270 copy-on-write page faults and ~0.5 ms of CPU per
    sandbox run, a third of the child's start-up. The child reseeds its RNGs itself (``confine``).
    """
    pid = _pylibc.fork()
    if pid < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"fork: {os.strerror(err)}")
    return pid
