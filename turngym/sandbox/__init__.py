"""Execute untrusted, model-written Python: fast and confined locally, same interface remotely.

``run(code, timeout=..., memory_mb=...) -> ExecResult`` and ``session()`` use a lazily created
default :class:`LocalBackend`; ``get_backend("docker" | "e2b" | "fusion", ...)`` gives the others.
This module only uses the standard library (the worker imports it by file path, cheaply); remote
backends import their SDKs when created.

    from turngym.sandbox import LocalBackend, SandboxConfig
    with LocalBackend(SandboxConfig(workers=2)) as sb:
        r = sb.run("print(6*7)", timeout=5, memory_mb=512)          # r.status == "ok", r.stdout == "42\n"
        with sb.session() as s:                                        # notebook-like state
            s.run("x = 2"); s.run("print(x + 1)")
        r = await sb.arun(code)                                        # inside the rollout loop

Status meanings: ``ok``/``error`` (what the code did), ``timeout``/``killed``/``output_limit`` (what
the sandbox did to it), ``sandbox_error`` (infrastructure; never the policy's fault).
``capabilities()`` previews what the kernel offers; ``LocalBackend.capabilities()`` reports what the
children really applied. See ``turngym sandbox check``.

How a grader must read results (rewards for code and tool envs). In RL the policy is the attacker:
whatever its code can make a grader believe, training will find. Trust only what the harness
measured after the code ended, outside its process:

* ``status`` ``timeout``/``output_limit``/``killed``, ``duration_s``, ``meta["cpu_s"]`` and
  ``meta["signal"]`` are measured by the caller or the worker. A forged, extra or malformed frame on
  the result channel makes the run ``error`` with ``error_name == "ResultChannelViolation"``
  (``integrity`` explains why that makes forging worthless); it is never ``sandbox_error``, the one
  status a grader may skip without a penalty.
* ``ok``/``exit_code`` mean "the process ended with 0", nothing more. Code placed after the policy's
  in the same run may never have run (``os._exit(0)``), and the policy can redefine anything it
  shares a process with (``assert``, ``__eq__``, the test module, builtins). Never reward "the
  appended tests did not fail"; compare the run's stdout (or a collected file) against expected
  values that never entered the sandbox, e.g. run each test input through the program and check
  the printed outputs in the grader's own process.
* ``error_name``/``error_value``/``traceback``, ``stdout``/``stderr`` and ``files`` are the code's
  own account: parse them as untrusted text (file names are confined to the scratch directory and
  to the names asked for, contents are whatever the code wrote).
* A session's later cells run in a process its earlier cells shaped: never grade inside the
  policy's session; grade in a fresh one-shot run (or a fresh session) of your own.
"""

from __future__ import annotations

import atexit
import threading
from typing import Any

from .base import Backend, Session
from .config import LAYERS, SandboxConfig
from .errors import SandboxError, SandboxUnavailable, SandboxWarning, SessionLost
from .probe import capabilities
from .result import STATUSES, ExecResult, Status

_default: Backend | None = None
_default_lock = threading.Lock()


def get_backend(name: str = "local", **kwargs: Any) -> Backend:
    """Create a backend by name: ``local`` (default), ``docker``, ``e2b`` or ``fusion``."""
    if name == "local":
        from .local import LocalBackend

        return LocalBackend(**kwargs)
    if name == "docker":
        from .docker_backend import DockerBackend

        return DockerBackend(**kwargs)
    if name == "e2b":
        from .e2b_backend import E2BBackend

        return E2BBackend(**kwargs)
    if name == "fusion":
        from .fusion import FusionBackend

        return FusionBackend(**kwargs)
    raise ValueError(f"unknown sandbox backend {name!r}; choose local, docker, e2b or fusion")


def default_backend() -> Backend:
    global _default
    with _default_lock:
        if _default is None:
            _default = get_backend("local")
            atexit.register(_default.close)
        return _default


def run(code: str, **kwargs: Any) -> ExecResult:
    return default_backend().run(code, **kwargs)


async def arun(code: str, **kwargs: Any) -> ExecResult:
    return await default_backend().arun(code, **kwargs)


def session(**kwargs: Any) -> Session:
    return default_backend().session(**kwargs)


async def asession(**kwargs: Any) -> Session:
    return await default_backend().asession(**kwargs)


def __getattr__(name: str) -> Any:  # lazy: keeps ``import turngym.sandbox`` light
    if name in ("LocalBackend", "LocalSession"):
        from . import local

        return getattr(local, name)
    raise AttributeError(name)


__all__ = [
    "LAYERS", "STATUSES", "Backend", "ExecResult", "LocalBackend", "LocalSession", "SandboxConfig", "SandboxError",
    "SandboxUnavailable", "SandboxWarning", "Session", "SessionLost", "Status", "arun", "asession", "capabilities",
    "default_backend", "get_backend", "run", "session",
]
