"""e2b backend (``e2b-code-interpreter``): cloud micro-VMs with a Jupyter kernel per code context.

``run`` uses a fresh code context per call (no state leaks between runs) on a warm sandbox;
``session`` keeps one context. e2b signals timeouts by raising ``TimeoutException``; we map an
execution timeout to status ``timeout`` (and, in a session, mark the context lost, since the kernel
may still be busy) and every other transport failure to ``sandbox_error``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

from .base import Backend, Files, Session, validate_call, validate_files
from .errors import SandboxUnavailable, SessionLost
from .result import ExecResult

EXTRA_HINT = "the e2b sandbox backend needs the e2b SDK: pip install 'turngym[e2b]' (e2b-code-interpreter)"


def _default_factory(api_key: str | None, template: str | None, lifetime_s: int) -> Any:
    try:
        from e2b_code_interpreter import Sandbox
    except ImportError as exc:
        raise ImportError(EXTRA_HINT) from exc
    kw: dict[str, Any] = {"timeout": lifetime_s}
    if template:
        kw["template"] = template
    if api_key:
        kw["api_key"] = api_key
    create = getattr(Sandbox, "create", None)
    return create(**kw) if create is not None else Sandbox(**kw)


def execution_to_result(execution: Any, duration_s: float, files: dict[str, bytes] | None = None) -> ExecResult:
    """Map an e2b ``Execution`` (results, logs.stdout/stderr lists, error) to an ExecResult."""
    logs = getattr(execution, "logs", None)
    stdout = "".join(getattr(logs, "stdout", None) or [])
    stderr = "".join(getattr(logs, "stderr", None) or [])
    main = [r for r in (getattr(execution, "results", None) or []) if getattr(r, "is_main_result", False)]
    meta: dict[str, Any] = {}
    if main and getattr(main[0], "text", None) is not None:
        meta["display"] = main[0].text  # value of the cell's trailing expression, as Jupyter shows it
    err = getattr(execution, "error", None)
    if err is None:
        return ExecResult(status="ok", stdout=stdout, stderr=stderr, exit_code=0, duration_s=duration_s, files=files or {}, meta=meta)
    name, value, tb = getattr(err, "name", None), getattr(err, "value", None), getattr(err, "traceback", None)
    if name == "SystemExit" and str(value) in ("0", "None", ""):
        return ExecResult(status="ok", stdout=stdout, stderr=stderr, exit_code=0, duration_s=duration_s, files=files or {}, meta=meta)
    exit_code = int(value) if name == "SystemExit" and str(value).lstrip("-").isdigit() else 1
    return ExecResult(status="error", stdout=stdout, stderr=stderr or (tb or ""), exit_code=exit_code, duration_s=duration_s,
                      error_name=name, error_value=value, traceback=tb, files=files or {}, meta=meta)


def exception_to_result(exc: BaseException, duration_s: float, timeout: float) -> ExecResult:
    """e2b raises for timeouts and transport failures; only an *execution* timeout is the code's fault."""
    msg = str(exc)
    if type(exc).__name__ == "TimeoutException" and "xecution timed out" in msg:
        return ExecResult(status="timeout", duration_s=duration_s, error_name="TimeoutError",
                          error_value=f"execution exceeded {timeout:g} s")
    return ExecResult.sandbox_error(f"e2b {type(exc).__name__}: {msg}", duration_s=duration_s)


class E2BBackend(Backend):
    """Remote execution on e2b. Needs ``E2B_API_KEY`` (or ``api_key=``)."""

    name = "e2b"

    def __init__(self, *, api_key: str | None = None, template: str | None = None, timeout_s: float = 10.0,
                 lifetime_s: int = 3600, workdir: str = "/home/user",
                 sandbox_factory: Callable[[], Any] | None = None) -> None:
        api_key = api_key or os.environ.get("E2B_API_KEY")
        if sandbox_factory is None:
            if not api_key:
                raise SandboxUnavailable("the e2b backend needs an API key: set E2B_API_KEY or pass api_key=")
            sandbox_factory = lambda: _default_factory(api_key, template, lifetime_s)
        self.timeout_s = timeout_s
        self.workdir = workdir
        self._factory = sandbox_factory
        self._sbx: Any = None
        self._lock = threading.Lock()

    @property
    def sandbox(self) -> Any:
        with self._lock:
            if self._sbx is None:
                self._sbx = self._factory()
            return self._sbx

    def _upload(self, files: dict[str, bytes]) -> None:
        for name, data in files.items():
            self.sandbox.files.write(f"{self.workdir}/{name}", data)

    def _download(self, collect: bool | list[str]) -> dict[str, bytes]:
        if not collect:
            return {}
        if collect is True:
            raise ValueError("the e2b backend needs explicit file names in collect_files")
        out = {}
        for name in collect:
            try:
                out[name] = bytes(self.sandbox.files.read(f"{self.workdir}/{name}", format="bytes"))
            except Exception:
                continue
        return out

    def _execute(self, code: str, context: Any, timeout: float, files: dict[str, bytes], stdin: str | None,
                 collect: bool | list[str]) -> ExecResult:
        if stdin is not None:
            code = f"import io as _io, sys as _sys\n_sys.stdin = _io.StringIO({stdin!r})\n" + code
        t0 = time.perf_counter()
        try:
            self._upload(files)
            execution = self.sandbox.run_code(code, context=context, timeout=timeout)
            duration = time.perf_counter() - t0
            return execution_to_result(execution, duration, self._download(collect))
        except ValueError:
            raise
        except Exception as exc:
            return exception_to_result(exc, time.perf_counter() - t0, timeout)

    def run(self, code: str, *, timeout: float | None = None, memory_mb: int | None = None, files: Files | None = None,
            stdin: str | None = None, collect_files: bool | list[str] = False) -> ExecResult:
        validate_call(code, timeout, memory_mb, 24 * 3600, 1 << 20)
        fs = validate_files(files)
        timeout = float(timeout or self.timeout_s)
        try:
            ctx = self.sandbox.create_code_context(cwd=self.workdir)
        except Exception as exc:
            return exception_to_result(exc, 0.0, timeout)
        try:
            return self._execute(code, ctx, timeout, fs, stdin, collect_files)
        finally:
            try:
                self.sandbox.remove_code_context(ctx)
            except Exception:
                pass

    def session(self, *, memory_mb: int | None = None, timeout: float | None = None) -> E2BSession:
        return E2BSession(self, timeout=float(timeout or self.timeout_s))

    def capabilities(self) -> dict[str, Any]:
        return {"backend": self.name, "isolation": "e2b Firecracker micro-VM", "workdir": self.workdir}

    def close(self) -> None:
        with self._lock:
            if self._sbx is not None:
                try:
                    self._sbx.kill()
                except Exception:
                    pass
                self._sbx = None


class E2BSession(Session):
    def __init__(self, backend: E2BBackend, *, timeout: float) -> None:
        self.backend = backend
        self.timeout = timeout
        self.context: Any = None
        self._open()

    def _open(self) -> None:
        try:
            self.context = self.backend.sandbox.create_code_context(cwd=self.backend.workdir)
        except Exception as exc:
            raise SandboxUnavailable(f"could not create an e2b code context: {exc}") from exc

    @property
    def alive(self) -> bool:
        return self.context is not None

    def run(self, code: str, *, timeout: float | None = None, files: Files | None = None, stdin: str | None = None,
            collect_files: bool | list[str] = False) -> ExecResult:
        if self.context is None:
            raise SessionLost("the e2b session was closed or lost; call reopen()")
        validate_call(code, timeout, None, 24 * 3600, 1 << 20)
        r = self.backend._execute(code, self.context, float(timeout or self.timeout), validate_files(files), stdin, collect_files)
        if r.status in ("timeout", "sandbox_error"):
            r.session_lost = True  # the kernel may still be running the cell: do not reuse it
            self.close()
        return r

    def close(self) -> None:
        if self.context is not None:
            try:
                self.backend.sandbox.remove_code_context(self.context)
            except Exception:
                pass
            self.context = None

    def reopen(self) -> None:
        self.close()
        self._open()
