"""The result record every backend returns, so rewards and parsers never depend on the backend."""

from __future__ import annotations

import base64
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

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
    def from_dict(cls, d: dict[str, Any]) -> ExecResult:
        d = dict(d)
        d["files"] = {k: base64.b64decode(v) for k, v in (d.get("files") or {}).items()}
        known = cls.__dataclass_fields__.keys()
        return cls(**{k: v for k, v in d.items() if k in known})

    @classmethod
    def sandbox_error(cls, message: str, **meta: Any) -> ExecResult:
        return cls(status="sandbox_error", stderr=message, error_name="SandboxError", error_value=message, meta=meta)
