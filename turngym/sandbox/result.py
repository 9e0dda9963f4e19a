"""The result record every backend returns, so rewards and parsers never depend on the backend."""

from __future__ import annotations

import base64
import binascii
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from .integrity import safe_file_name

Status = Literal["ok", "error", "timeout", "killed", "output_limit", "sandbox_error"]
STATUSES: tuple[str, ...] = ("ok", "error", "timeout", "killed", "output_limit", "sandbox_error")


@dataclass
class ExecResult:
    """Outcome of one execution.

    ``status`` separates what the *code* did (``ok``/``error``) from what the *sandbox* did to it
    (``timeout``, ``killed`` by a limit, ``output_limit``) and from infrastructure failure
    (``sandbox_error``): a reward function must never punish a policy for a broken sandbox.
    """

    status: Status
    stdout: str = ""
    stderr: str = ""
    exit_code: int | None = None
    duration_s: float = 0.0
    error_name: str | None = None
    error_value: str | None = None
    traceback: str | None = None
    files: dict[str, bytes] = field(default_factory=dict)
    #: True when a session's process died during this call (hard timeout, limit, crash).
    session_lost: bool = False
    #: Backend-specific details (signal number, truncation flags, raw remote response...).
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown ExecResult status {self.status!r}; expected one of {STATUSES}")

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (file contents base64) for wire protocols and logs."""
        d = asdict(self)
        d["files"] = {k: base64.b64encode(v).decode() for k, v in self.files.items()}
        return d

    @classmethod
    def from_dict(cls, d: Any) -> ExecResult:
        """Inverse of :meth:`to_dict`. Wire input, so it is checked: anything malformed raises
        ``ValueError`` naming the field (never ``TypeError``/``AttributeError``/``binascii.Error``),
        and file names must be relative paths inside the sandbox's scratch directory."""
        if not isinstance(d, dict):
            raise ValueError(f"an ExecResult must be a JSON object, got {type(d).__name__}")
        kw = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        if kw.get("status") not in STATUSES:
            raise ValueError(f"unknown ExecResult status {str(kw.get('status'))[:40]!r}; expected one of {STATUSES}")
        for key in ("stdout", "stderr"):
            if not isinstance(kw.get(key, ""), str):
                raise ValueError(f"ExecResult.{key} must be a string")
        for key in ("error_name", "error_value", "traceback"):
            if kw.get(key) is not None and not isinstance(kw[key], str):
                raise ValueError(f"ExecResult.{key} must be a string or null")
        code = kw.get("exit_code")
        if code is not None and type(code) is not int:
            raise ValueError("ExecResult.exit_code must be an integer or null")
        duration = kw.get("duration_s", 0.0)
        if type(duration) not in (int, float):
            raise ValueError("ExecResult.duration_s must be a number")
        kw["duration_s"] = float(duration)
        if not isinstance(kw.get("session_lost", False), bool):
            raise ValueError("ExecResult.session_lost must be a boolean")
        if not isinstance(kw.get("meta", {}), dict):
            raise ValueError("ExecResult.meta must be an object")
        files = kw.get("files") or {}
        if not isinstance(files, dict):
            raise ValueError("ExecResult.files must map file names to base64 strings")
        decoded: dict[str, bytes] = {}
        for name, b64 in files.items():
            norm = safe_file_name(name)
            if norm is None or norm != name:
                raise ValueError(f"ExecResult.files: {str(name)[:80]!r} is not a normalised relative path inside the scratch directory")
            if not isinstance(b64, str):
                raise ValueError(f"ExecResult.files[{name!r}] must be a base64 string")
            try:
                decoded[name] = base64.b64decode(b64, validate=True)
            except (binascii.Error, ValueError):
                raise ValueError(f"ExecResult.files[{name!r}] is not valid base64") from None
        kw["files"] = decoded
        return cls(**kw)

    @classmethod
    def sandbox_error(cls, message: str, **meta: Any) -> ExecResult:
        return cls(status="sandbox_error", stderr=message, error_name="SandboxError", error_value=message, meta=meta)
