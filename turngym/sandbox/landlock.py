"""Landlock through raw syscalls (ctypes): the stdlib has no binding and the PyPI ones lag the ABI.

Only what the sandbox needs: probe the ABI, build a ruleset from read-only and read-write path
allow-lists, deny all TCP bind/connect (ABI >= 4) and scope abstract Unix sockets and signals to the
domain (ABI >= 6), then restrict the calling thread. Unknown ABIs are handled by masking the access
rights down to what the running kernel knows, as the kernel documentation recommends.
"""

from __future__ import annotations

import ctypes
import os
import platform
from collections.abc import Iterable

# x86-64 / aarch64 share the generic syscall numbers for Landlock.
_SYS_CREATE_RULESET = 444
_SYS_ADD_RULE = 445
_SYS_RESTRICT_SELF = 446

_CREATE_RULESET_VERSION = 1 << 0
_RULE_PATH_BENEATH = 1

FS_EXECUTE = 1 << 0
FS_WRITE_FILE = 1 << 1
FS_READ_FILE = 1 << 2
FS_READ_DIR = 1 << 3
FS_REMOVE_DIR = 1 << 4
FS_REMOVE_FILE = 1 << 5
FS_MAKE_CHAR = 1 << 6
FS_MAKE_DIR = 1 << 7
FS_MAKE_REG = 1 << 8
FS_MAKE_SOCK = 1 << 9
FS_MAKE_FIFO = 1 << 10
FS_MAKE_BLOCK = 1 << 11
FS_MAKE_SYM = 1 << 12
FS_REFER = 1 << 13  # ABI 2
FS_TRUNCATE = 1 << 14  # ABI 3
FS_IOCTL_DEV = 1 << 15  # ABI 5

NET_BIND_TCP = 1 << 0  # ABI 4
NET_CONNECT_TCP = 1 << 1

SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
SCOPE_SIGNAL = 1 << 1

_FS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 4: (1 << 15) - 1, 5: (1 << 16) - 1}
READ_ONLY = FS_EXECUTE | FS_READ_FILE | FS_READ_DIR
READ_WRITE_FILE = FS_READ_FILE | FS_WRITE_FILE | FS_TRUNCATE


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64), ("scoped", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long

try:  # C wrappers from the fork server's extension: cheaper than ctypes in a freshly forked child
    from . import _forkloop as _native  # type: ignore[attr-defined]
except ImportError:
    _native = None


def abi_version() -> int:
    """Landlock ABI of the running kernel, 0 when unsupported or disabled (or not x86-64/aarch64)."""
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "aarch64"):
        return 0
    v = _libc.syscall(_SYS_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(_CREATE_RULESET_VERSION))
    return int(v) if v > 0 else 0


def fs_rights(abi: int) -> int:
    return _FS_BY_ABI.get(abi, _FS_BY_ABI[5]) if abi > 0 else 0


def build_ruleset(read_only: Iterable[str], read_write: Iterable[str], rw_files: Iterable[str] = (), *,
                  abi: int | None = None) -> tuple[int, int]:
    """A ruleset fd allowing the given paths, no TCP and scoped signals; returns (fd, abi).

    Paths that do not exist are skipped (a venv may lack ``lib64``). Raises ``OSError`` when the
    kernel refuses, so the caller can report the layer as inactive. A ruleset is only a description:
    it confines nobody until ``restrict_self`` and can be applied by any number of processes, which
    is how the worker builds it once and every forked child pays a single syscall.
    """
    abi = abi_version() if abi is None else abi
    if abi <= 0:
        raise OSError("Landlock is not supported by this kernel")
    handled_fs = fs_rights(abi)
    attr = _RulesetAttr(handled_fs, NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0,
                        SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0)
    size = 8 if abi < 4 else (16 if abi < 6 else 24)
    ruleset_fd = _libc.syscall(_SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    if ruleset_fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"landlock_create_ruleset: {os.strerror(err)}")
    try:
        rules = [(p, READ_ONLY) for p in read_only] + [(p, handled_fs) for p in read_write]
        rules += [(p, READ_WRITE_FILE) for p in rw_files]
        for path, access in rules:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                if not os.path.isdir(path):  # files accept only file rights
                    access &= FS_EXECUTE | FS_READ_FILE | FS_WRITE_FILE | FS_TRUNCATE | FS_IOCTL_DEV
                rule = _PathBeneathAttr(access & handled_fs, fd)
                if _libc.syscall(_SYS_ADD_RULE, ctypes.c_int(ruleset_fd), ctypes.c_int(_RULE_PATH_BENEATH),
                                 ctypes.byref(rule), ctypes.c_uint32(0)) < 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"landlock_add_rule({path}): {os.strerror(err)}")
            finally:
                os.close(fd)
    except BaseException:
        os.close(ruleset_fd)
        raise
    return ruleset_fd, abi


def restrict_self(ruleset_fd: int) -> None:
    """Enforce a ruleset on the calling process (and everything it later spawns); irreversible.

    The enforced domain is a copy: changes to the ruleset afterwards do not affect it.
    """
    if _native is not None:
        return _native.landlock_restrict_self(ruleset_fd)
    if _libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    if _libc.syscall(_SYS_RESTRICT_SELF, ctypes.c_int(ruleset_fd), ctypes.c_uint32(0)) < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"landlock_restrict_self: {os.strerror(err)}")


def restrict(read_only: Iterable[str], read_write: Iterable[str], rw_files: Iterable[str] = (), *, abi: int | None = None) -> int:
    """Confine the calling process to the given paths, with no TCP and scoped signals; returns the ABI."""
    ruleset_fd, abi = build_ruleset(read_only, read_write, rw_files, abi=abi)
    try:
        restrict_self(ruleset_fd)
    finally:
        os.close(ruleset_fd)
    return abi
