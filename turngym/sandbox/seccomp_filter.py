"""Seccomp filter for sandboxed children, compiled once per worker and loaded per child.

libseccomp (``pyseccomp`` from PyPI, or Debian's ``python3-seccomp`` as module ``seccomp``) builds the
BPF program once in the worker; every child then installs those bytes with the raw ``seccomp(2)``
syscall, which costs microseconds instead of a libseccomp compile per child.
"""

from __future__ import annotations

import ctypes
import errno
import tempfile
from typing import Any

#: Denied with EPERM in every mode: network sockets, debugging other processes, namespaces and
#: mounts, kernel attack surface (bpf, io_uring, perf, keyrings, modules), identity changes.
DENIED = (
    "socket", "ptrace", "process_vm_readv", "process_vm_writev", "mount", "umount2", "pivot_root",
    "chroot", "unshare", "setns", "bpf", "perf_event_open", "io_uring_setup", "io_uring_enter",
    "io_uring_register", "keyctl", "add_key", "request_key", "kexec_load", "kexec_file_load",
    "init_module", "finit_module", "delete_module", "reboot", "swapon", "swapoff", "acct",
    "userfaultfd", "open_by_handle_at", "name_to_handle_at", "quotactl", "syslog", "settimeofday",
    "clock_settime", "clock_adjtime", "adjtimex", "mknod", "mknodat", "fanotify_init",
    "move_mount", "open_tree", "fsopen", "fsconfig", "fsmount", "fspick", "setuid", "setgid",
    "setreuid", "setregid", "setresuid", "setresgid", "setgroups", "setfsuid", "setfsgid", "capset",
    "vhangup", "iopl", "ioperm", "mount_setattr",
)
#: System V IPC and POSIX message queues: kernel objects that outlive the process that made them
#: (a segment survives its run, readable by the next; ``shmget`` pins memory outside RLIMIT_AS).
#: Denied here and, as a second layer, confined to the child's own IPC namespace (``confine``).
IPC_DENIED = (
    "shmget", "shmat", "shmdt", "shmctl", "msgget", "msgsnd", "msgrcv", "msgctl", "semget", "semop",
    "semtimedop", "semctl", "mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive", "mq_notify",
    "mq_getsetattr", "ipc",
)
#: Strict mode: no new processes and no exec (threads stay allowed).
STRICT_DENIED = ("fork", "vfork", "execve", "execveat")

_CLONE_NEW = (0x00020000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000, 0x02000000, 0x00000080)
_CLONE_THREAD = 0x00010000


def _module() -> Any:
    try:
        import pyseccomp as seccomp  # type: ignore[import-not-found]
    except ImportError:
        import seccomp  # type: ignore[import-not-found,no-redef]
    return seccomp


def available() -> tuple[bool, str]:
    """Whether a libseccomp binding loads here; the reason when not."""
    try:
        _module().system_arch()
    except Exception as exc:  # ImportError, OSError (no libseccomp.so)
        return False, f"no libseccomp binding ({type(exc).__name__}: {exc}); install turngym[sandbox] (pyseccomp) or python3-seccomp"
    return True, ""


def compile_filter(strict: bool = False, skipped: list[str] | None = None) -> bytes:
    """Return the raw BPF program (array of ``struct sock_filter``) for the current architecture.

    Names of denied syscalls this architecture does not have are appended to ``skipped``.
    """
    sc = _module()
    f = sc.SyscallFilter(sc.ALLOW)
    try:
        # A binary search over syscall numbers instead of a linear list: every syscall a child makes
        # runs the filter, and the linear form cost ~4% of a run's CPU here.
        f.set_attr(sc.Attr.CTL_OPTIMIZE, 2)
    except (AttributeError, OSError, ValueError, RuntimeError):
        pass  # older libseccomp: the linear filter is just as correct
    eperm = sc.ERRNO(errno.EPERM)
    for name in DENIED + IPC_DENIED + (STRICT_DENIED if strict else ()):
        try:
            f.add_rule(eperm, name)
        except (OSError, ValueError, RuntimeError):
            if skipped is not None:
                skipped.append(name)  # syscall unknown on this arch (``ipc`` exists on 32-bit x86 only)
    # kill(-1)/tgkill(-1): never signal "every process we may".
    f.add_rule(eperm, "kill", sc.Arg(0, sc.MASKED_EQ, 0xFFFFFFFF, 0xFFFFFFFF))
    # clone3 hides its flags in memory: refuse it so libc falls back to clone(2), which we can filter.
    f.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    for flag in _CLONE_NEW:
        f.add_rule(eperm, "clone", sc.Arg(0, sc.MASKED_EQ, flag, flag))
    if strict:
        f.add_rule(eperm, "clone", sc.Arg(0, sc.MASKED_EQ, _CLONE_THREAD, 0))
    with tempfile.TemporaryFile() as fh:
        f.export_bpf(fh)
        fh.seek(0)
        return fh.read()


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
try:  # C wrappers from the fork server's extension: cheaper than ctypes in a freshly forked child
    from . import _forkloop as _native  # type: ignore[attr-defined]
except ImportError:
    _native = None
_SYS_SECCOMP = 317  # x86-64
_SECCOMP_SET_MODE_FILTER = 1


class Prepared:
    """A filter laid out in memory once (in the worker), so each forked child only makes the syscall."""

    def __init__(self, bpf: bytes) -> None:
        if len(bpf) % 8 or not bpf:
            raise ValueError("malformed BPF program")
        self.bpf = bpf
        self._buf = ctypes.create_string_buffer(bpf, len(bpf))
        self.prog = _SockFprog(len(bpf) // 8, ctypes.cast(self._buf, ctypes.c_void_p))


_prepared: dict[bytes, Prepared] = {}


def prepare(bpf: bytes) -> Prepared:
    return _prepared.get(bpf) or _prepared.setdefault(bpf, Prepared(bpf))


def load(bpf: bytes) -> None:
    """Install a compiled filter on the calling thread (requires no_new_privs or CAP_SYS_ADMIN)."""
    if _native is not None:
        return _native.seccomp_load(bpf)
    prog = prepare(bpf).prog
    if _libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    if _libc.syscall(_SYS_SECCOMP, _SECCOMP_SET_MODE_FILTER, 0, ctypes.byref(prog)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"seccomp(SET_MODE_FILTER): {errno.errorcode.get(err, err)}")
