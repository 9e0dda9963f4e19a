"""Configuration of the local sandbox; plain data so it travels to worker processes as JSON."""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

#: Layer names that may be switched off (for kernels without them, or to test degradation).
LAYERS = ("new_session", "pid_namespace", "scratch_tmpfs", "ipc_namespace", "rlimits", "landlock", "setuid",
          "pdeathsig", "seccomp", "clear_env", "reseed")

#: What each layer reported by a child does (``turngym sandbox check`` prints it beside an active one).
LAYER_HELP = {
    "pid_namespace": "pid 1 of its own PID namespace: everything it spawns dies with it",
    "new_session": "own process group / session",
    "close_fds": "no inherited file descriptors but its pipes",
    "scratch_tmpfs": "private tmpfs scratch in its own mount namespace, gone with the run",
    "ipc_namespace": "own System V IPC / POSIX message-queue namespace: segments, queues, semaphores die with the run",
    "rlimits": "address space, CPU, file size, open files, processes",
    "landlock": "file-system allow-list (read-only interpreter, read-write scratch), TCP and signal scoping",
    "setuid": "runs as an unprivileged uid of its own",
    "pdeathsig": "dies with its worker",
    "seccomp": "denies sockets, ptrace, mounts, namespaces, bpf, io_uring, keyrings, identity changes",
    "ipc_syscalls": "seccomp denies shm*/msg*/sem*/mq_* (nothing shared outlives or escapes the run)",
    "seccomp_strict": "also denies fork and exec",
    "clear_env": "scrubbed environment",
    "reseed": "fresh seeds for random and numpy",
}

#: Modules imported once in each worker so a run does not pay for them (cold ``import sympy`` ~0.3 s).
DEFAULT_PREIMPORT = (
    "math", "cmath", "random", "itertools", "functools", "collections", "collections.abc", "heapq",
    "bisect", "fractions", "decimal", "statistics", "string", "re", "json", "datetime", "time",
    "operator", "copy", "typing", "dataclasses", "enum", "io", "textwrap", "unittest", "numbers",
    "array", "struct", "hashlib", "base64", "pprint", "contextlib", "abc", "inspect", "traceback",
    "numpy", "numpy.random", "numpy.linalg", "sympy",
)


@dataclass(frozen=True)
class SandboxConfig:
    """Limits and layers of the local backend.

    ``timeout_s`` / ``memory_mb`` are per-call defaults; ``max_*`` bound what a caller may ask for
    (the spare child is confined with the maximum before the request is known and lowers its own
    limits once it is). ``memory_mb`` is an address-space budget *on top of* the pre-imported
    interpreter. ``strict`` refuses to start unless every layer in ``confine.STRICT_LAYERS`` works
    and additionally forbids fork/exec in the child.
    """

    workers: int = 2
    #: Pre-confined spare children per worker handed to the caller ahead of time.
    spares: int = 2
    #: The caller talks to run children directly (pipes passed over the worker socket): one hop.
    direct: bool = True
    timeout_s: float = 10.0
    memory_mb: int = 1024
    max_timeout_s: float = 600.0
    max_memory_mb: int = 8192
    max_output_bytes: int = 1 << 20
    max_files_out_bytes: int = 8 << 20
    fsize_mb: int = 64
    nofile: int = 256
    nproc: int = 64
    scratch_size_mb: int = 256
    scratch_inodes: int = 4096
    session_cpu_s: int = 3600
    strict: bool = False
    disable: tuple[str, ...] = ()
    uid_base: int = 200_000
    preimport: tuple[str, ...] = DEFAULT_PREIMPORT
    extra_read_paths: tuple[str, ...] = ()
    python: str = field(default_factory=lambda: sys.executable)
    #: Seconds a session call may run past its soft timeout before the process is killed.
    session_grace_s: float = 1.0
    #: Seconds past ``timeout`` after which the worker itself kills a run (the caller normally has).
    kill_grace_s: float = 2.0
    worker_start_timeout_s: float = 60.0
    #: Back each worker's pre-imported heap with transparent huge pages (cheaper fork and exit).
    huge_pages: bool = True
    #: Use the fork server's C loop when it was compiled (False: the pure-Python loop).
    native_fork_server: bool = True
    debug: bool = False

    def __post_init__(self) -> None:
        unknown = set(self.disable) - set(LAYERS)
        if unknown:
            raise ValueError(f"unknown sandbox layer(s) {sorted(unknown)}; known: {LAYERS}")
        if self.workers < 1:
            raise ValueError("workers must be >= 1")
        if self.timeout_s <= 0 or self.memory_mb <= 0:
            raise ValueError("timeout_s and memory_mb must be positive")

    def with_(self, **kw: Any) -> SandboxConfig:
        return replace(self, **kw)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> SandboxConfig:
        names = {f.name for f in fields(cls)}
        kw = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items() if k in names}
        return cls(**kw)
