"""Static probe of what this kernel and process could offer, without starting a worker.

The authoritative answer is what a worker's child actually managed to apply
(``LocalBackend.capabilities()``); this probe is the cheap, side-effect-free preview used by
``turngym sandbox check`` and by callers choosing a backend.
"""

from __future__ import annotations

import os
import platform
from typing import Any

from . import landlock, seccomp_filter


def capabilities() -> dict[str, Any]:
    """Each layer maps to True or to the reason it is unavailable."""
    is_root = os.geteuid() == 0
    abi = landlock.abi_version()
    sec_ok, sec_reason = seccomp_filter.available()
    has_pidns = os.path.exists("/proc/self/ns/pid")
    caps: dict[str, Any] = {
        "platform": f"{platform.system()} {platform.release()} {platform.machine()}",
        "root": is_root,
        "rlimits": True,
        "landlock": True if abi else "kernel has no Landlock (or it is disabled by the LSM list)",
        "landlock_abi": abi,
        "landlock_net": abi >= 4,
        "landlock_scoped_signals": abi >= 6,
        "seccomp": True if sec_ok else sec_reason,
        "setuid": True if is_root else "not root: runs stay under the caller's uid",
        "pid_namespace": True if is_root and has_pidns else "needs root and PID namespaces",
        "scratch_tmpfs": True if is_root else "needs root for a private mount namespace",
        "ipc_namespace": True if is_root and os.path.exists("/proc/self/ns/ipc") else "needs root and IPC namespaces",
        "ipc_syscalls": True if sec_ok else f"needs seccomp: {sec_reason}",
    }
    return caps
