"""SandboxFusion-compatible HTTP backend: its ``/run_code`` request/response schema, both directions.

SandboxFusion (``POST /run_code``) is the interchange format code-RL stacks already speak, so a
rollout worker can point at a real SandboxFusion deployment or at ``turngym sandbox serve``. Our
server adds an optional ``turngym`` field carrying the full :class:`ExecResult` (lossless for our
clients, ignored by others) and session endpoints under ``/turngym/sessions`` that plain
SandboxFusion does not have.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import time
from typing import Any

from .base import Backend, Files, Session, validate_call, validate_files
from .errors import SandboxUnavailable, SessionLost
from .integrity import safe_file_name
from .result import ExecResult

DEFAULT_TIMEOUT_S = 10.0
_EXC_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning|Iteration)\w*)(?::\s?(.*))?$")


# ----------------------------------------------------------------------------- schema mapping
def to_fusion_request(code: str, *, timeout: float | None = None, memory_mb: int | None = None,
                      files: dict[str, bytes] | None = None, stdin: str | None = None,
                      fetch_files: list[str] | None = None, language: str = "python") -> dict[str, Any]:
    return {
        "code": code, "language": language, "compile_timeout": 10.0,
        "run_timeout": float(timeout or DEFAULT_TIMEOUT_S), "memory_limit_MB": int(memory_mb) if memory_mb else -1,
        "stdin": stdin if stdin is not None else "",
        "files": {k: base64.b64encode(v).decode() for k, v in (files or {}).items()},
        "fetch_files": list(fetch_files or []),
    }


def _number(req: dict[str, Any], key: str) -> float | None:
    """``req[key]`` as a finite number (numeric strings accepted, as SandboxFusion's server does),
    None when absent or null; ``ValueError`` naming the field otherwise."""
    value = req.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"'{key}' must be a number, got {type(value).__name__}")
    try:
        number = float(value)
    except (ValueError, OverflowError):
        raise ValueError(f"'{key}' must be a number, got {str(value)[:40]!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"'{key}' must be a finite number, got {value!r}")
    return number


def session_params(req: Any) -> dict[str, Any]:
    """Validate a ``/turngym/sessions`` body: keyword arguments for ``Backend.session``."""
    if not isinstance(req, dict):
        raise ValueError("request body must be a JSON object")
    mem, timeout = _number(req, "memory_limit_MB"), _number(req, "run_timeout")
    if timeout is not None and timeout <= 0:
        raise ValueError(f"'run_timeout' must be positive, got {timeout:g}")
    return {"memory_mb": int(mem) if mem and mem > 0 else None, "timeout": timeout or None}


def from_fusion_request(req: dict[str, Any]) -> dict[str, Any]:
    """Validate a ``/run_code`` body and return keyword arguments for ``Backend.run``."""
    if not isinstance(req, dict):
        raise ValueError("request body must be a JSON object")
    code = req.get("code")
    if not isinstance(code, str):
        raise ValueError("'code' must be a string")
    mem = _number(req, "memory_limit_MB")
    stdin = req.get("stdin")
    if stdin is not None and not isinstance(stdin, str):
        raise ValueError("'stdin' must be a string")
    files = req.get("files") or {}
    if not isinstance(files, dict):
        raise ValueError("'files' must map paths to base64 strings")
    try:
        decoded = {str(k): base64.b64decode(v, validate=True) for k, v in files.items()}
    except (ValueError, TypeError) as exc:
        raise ValueError(f"'files' values must be base64: {exc}") from exc
    fetch = req.get("fetch_files") or []
    if not isinstance(fetch, list) or not all(isinstance(p, str) for p in fetch):
        raise ValueError("'fetch_files' must be a list of paths")
    timeout = _number(req, "run_timeout")
    if timeout is not None and timeout < 0:
        raise ValueError(f"'run_timeout' must not be negative, got {timeout:g}")
    return {"code": code, "timeout": timeout or None,
            "memory_mb": int(mem) if mem and mem > 0 else None,
            "files": decoded, "stdin": stdin or None,
            "collect_files": True if fetch == ["*"] else (fetch or False)}


def to_fusion_response(r: ExecResult) -> dict[str, Any]:
    """ExecResult -> SandboxFusion RunCodeResponse (plus the lossless ``turngym`` extension)."""
    if r.status == "sandbox_error":
        return {"status": "SandboxError", "message": r.error_value or r.stderr, "compile_result": None,
                "run_result": None, "executor_pod_name": None, "files": {}, "turngym": r.to_dict()}
    run_status = {"timeout": "TimeLimitExceeded"}.get(r.status, "Finished")
    return_code = None if r.status == "timeout" else (r.exit_code if r.exit_code is not None else 1)
    return {
        "status": "Success" if r.status == "ok" else "Failed",
        "message": "" if r.status == "ok" else f"{r.status}: {r.error_name or ''} {r.error_value or ''}".strip(),
        "compile_result": None,
        "run_result": {"status": run_status, "execution_time": r.duration_s, "return_code": return_code,
                       "stdout": r.stdout, "stderr": r.stderr},
        "executor_pod_name": None,
        "files": {k: base64.b64encode(v).decode() for k, v in r.files.items()},
        "turngym": r.to_dict(),
    }


def _exception_from_stderr(stderr: str) -> tuple[str | None, str | None]:
    for line in reversed(stderr.strip().splitlines()):
        m = _EXC_LINE.match(line.strip())
        if m:
            return m.group(1).rsplit(".", 1)[-1], m.group(2) or ""
    return None, None


def _response_files(raw: Any) -> dict[str, bytes]:
    if not isinstance(raw, dict):
        raise ValueError("'files' must map file names to base64 strings")
    out = {}
    for name, b64 in raw.items():
        norm = safe_file_name(name)
        if norm is None:
            raise ValueError(f"file name {str(name)[:80]!r} is not a relative path inside the sandbox")
        if not isinstance(b64, str):
            raise ValueError(f"file {norm!r}: contents must be a base64 string")
        try:
            out[norm] = base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"file {norm!r}: contents are not valid base64") from None
    return out


def from_fusion_response(resp: dict[str, Any], *, prefer_extension: bool = True) -> ExecResult:
    """SandboxFusion RunCodeResponse -> ExecResult (uses the ``turngym`` field when present).

    A remote answer is untrusted input: anything malformed raises ``ValueError`` naming the field.
    """
    if not isinstance(resp, dict):
        raise ValueError("the response is not a JSON object")
    if prefer_extension and isinstance(resp.get("turngym"), dict):
        return ExecResult.from_dict(resp["turngym"])
    status = resp.get("status")
    files = _response_files(resp.get("files") or {})
    run = resp.get("run_result") or {}
    comp = resp.get("compile_result") or {}
    for part, value in (("run_result", run), ("compile_result", comp)):
        if not isinstance(value, dict):
            raise ValueError(f"'{part}' must be an object")
        for key in ("stdout", "stderr"):
            if value.get(key) is not None and not isinstance(value[key], str):
                raise ValueError(f"'{part}.{key}' must be a string")
        rc_ = value.get("return_code")
        if rc_ is not None and type(rc_) is not int:
            raise ValueError(f"'{part}.return_code' must be an integer")
    if status == "SandboxError" or (not run and not comp):
        msg = str(resp.get("message") or "remote sandbox error")[:4000]
        return ExecResult(status="sandbox_error", stderr=msg, error_name="SandboxError", error_value=msg, meta={"raw": resp})
    if not run and comp:  # failed compilation (compiled languages)
        return ExecResult(status="error", stdout=comp.get("stdout") or "", stderr=comp.get("stderr") or "",
                          exit_code=comp.get("return_code"), error_name="CompileError", meta={"raw": resp})
    stdout, stderr = run.get("stdout") or "", run.get("stderr") or ""
    rc = run.get("return_code")
    duration = _number(run, "execution_time") or 0.0
    if run.get("status") == "TimeLimitExceeded":
        return ExecResult(status="timeout", stdout=stdout, stderr=stderr, exit_code=None, duration_s=duration,
                          error_name="TimeoutError", error_value="time limit exceeded", files=files)
    if run.get("status") == "Finished" and rc == 0 and status != "Failed":
        return ExecResult(status="ok", stdout=stdout, stderr=stderr, exit_code=0, duration_s=duration, files=files)
    name, value = _exception_from_stderr(stderr)
    if rc is not None and rc < 0 or (rc is not None and rc > 128 and name is None):
        sig = -rc if rc < 0 else rc - 128
        return ExecResult(status="killed", stdout=stdout, stderr=stderr, exit_code=rc, duration_s=duration,
                          error_name="Killed", error_value=f"signal {sig}", files=files)
    return ExecResult(status="error", stdout=stdout, stderr=stderr, exit_code=rc if rc is not None else 1,
                      duration_s=duration, error_name=name, error_value=value, traceback=stderr or None, files=files)


# ----------------------------------------------------------------------------- client
class FusionBackend(Backend):
    """Client of a SandboxFusion-compatible server (a real SandboxFusion or ``turngym sandbox serve``)."""

    name = "fusion"

    def __init__(self, base_url: str = "http://127.0.0.1:8080", *, timeout_s: float = DEFAULT_TIMEOUT_S,
                 memory_mb: int | None = None, http_timeout_slack_s: float = 30.0, headers: dict[str, str] | None = None) -> None:
        try:
            import httpx
        except ImportError as exc:  # pragma: no cover - httpx is a core test dependency here
            raise ImportError("the fusion sandbox backend needs httpx: pip install 'turngym[sandbox]'") from exc
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self.slack = http_timeout_slack_s
        self._client = httpx.Client(base_url=self.base_url, headers=headers or {}, timeout=timeout_s + http_timeout_slack_s)
        self._httpx = httpx

    def _post(self, path: str, body: dict[str, Any], timeout: float) -> ExecResult:
        t0 = time.perf_counter()
        try:
            resp = self._client.post(path, json=body, timeout=timeout + self.slack)
        except self._httpx.HTTPError as exc:
            return ExecResult.sandbox_error(f"{type(exc).__name__} talking to {self.base_url}{path}: {exc}",
                                            duration_s=time.perf_counter() - t0)
        if resp.status_code == 404 and path.startswith("/turngym/sessions/"):
            raise SessionLost(f"the remote session is gone ({path})")
        if resp.status_code != 200:
            return ExecResult.sandbox_error(f"HTTP {resp.status_code} from {self.base_url}{path}: {resp.text[:500]}")
        try:
            return from_fusion_response(resp.json())
        except (ValueError, TypeError, KeyError) as exc:
            return ExecResult.sandbox_error(f"unreadable response from {self.base_url}{path}: {exc}")

    def run(self, code: str, *, timeout: float | None = None, memory_mb: int | None = None, files: Files | None = None,
            stdin: str | None = None, collect_files: bool | list[str] = False) -> ExecResult:
        validate_call(code, timeout, memory_mb, 24 * 3600, 1 << 20)
        fs = validate_files(files)
        timeout = float(timeout or self.timeout_s)
        fetch = _fetch_list(collect_files, fs)
        body = to_fusion_request(code, timeout=timeout, memory_mb=memory_mb or self.memory_mb, files=fs, stdin=stdin, fetch_files=fetch)
        return self._post("/run_code", body, timeout)

    def session(self, *, memory_mb: int | None = None, timeout: float | None = None) -> FusionSession:
        return FusionSession(self, memory_mb=memory_mb or self.memory_mb, timeout=timeout or self.timeout_s)

    def ping(self) -> bool:
        try:
            return self._client.get("/v1/ping", timeout=5).status_code == 200
        except self._httpx.HTTPError:
            return False

    def capabilities(self) -> dict[str, Any]:
        caps: dict[str, Any] = {"backend": self.name, "base_url": self.base_url, "reachable": self.ping()}
        try:
            r = self._client.get("/turngym/capabilities", timeout=5)
            if r.status_code == 200:
                caps["remote"] = r.json()
        except self._httpx.HTTPError:
            pass
        return caps

    def close(self) -> None:
        self._client.close()


def _fetch_list(collect_files: bool | list[str], inputs: dict[str, bytes]) -> list[str]:
    if collect_files is True:
        return ["*"]  # our server returns every new/changed file; SandboxFusion needs explicit names
    return list(collect_files or [])


class FusionSession(Session):
    """Session over ``turngym sandbox serve``'s extension endpoints (plain SandboxFusion has none)."""

    def __init__(self, backend: FusionBackend, *, memory_mb: int | None, timeout: float) -> None:
        self.backend = backend
        self.memory_mb = memory_mb
        self.timeout = timeout
        self.id: str | None = None
        self._open()

    def _open(self) -> None:
        c = self.backend
        try:
            r = c._client.post("/turngym/sessions", json={"memory_limit_MB": self.memory_mb or -1, "run_timeout": self.timeout})
        except c._httpx.HTTPError as exc:
            raise SandboxUnavailable(f"cannot reach {c.base_url}: {exc}") from exc
        if r.status_code == 404:
            raise SandboxUnavailable(f"{c.base_url} has no session endpoints (plain SandboxFusion only offers /run_code)")
        if r.status_code != 200:
            raise SandboxUnavailable(f"could not open a remote session: HTTP {r.status_code} {r.text[:300]}")
        self.id = r.json()["session_id"]

    @property
    def alive(self) -> bool:
        return self.id is not None

    def run(self, code: str, *, timeout: float | None = None, files: Files | None = None, stdin: str | None = None,
            collect_files: bool | list[str] = False) -> ExecResult:
        if self.id is None:
            raise SessionLost("the remote session is closed or was killed; call reopen()")
        validate_call(code, timeout, None, 24 * 3600, 1 << 20)
        fs = validate_files(files)
        timeout = float(timeout or self.timeout)
        body = to_fusion_request(code, timeout=timeout, files=fs, stdin=stdin, fetch_files=_fetch_list(collect_files, fs))
        try:
            r = self.backend._post(f"/turngym/sessions/{self.id}/run_code", body, timeout)
        except SessionLost:
            self.id = None
            raise
        if r.session_lost:
            self.id = None
        return r

    def close(self) -> None:
        if self.id is not None:
            try:
                self.backend._client.delete(f"/turngym/sessions/{self.id}", timeout=10)
            except self.backend._httpx.HTTPError:
                pass
            self.id = None

    def reopen(self) -> None:
        self.close()
        self._open()
