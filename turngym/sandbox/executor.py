"""Executing one cell inside a confined child, and describing how it ended.

Shared by one-shot runs and sessions so both report exceptions, ``SystemExit`` and limits the same
way. Tracebacks are trimmed to the user's frames: the model should see its own code, not ours.
"""

from __future__ import annotations

import io
import signal
import sys
import time
import traceback
from typing import Any

from .integrity import MAX_ERROR_NAME, MAX_ERROR_VALUE, MAX_TRACEBACK

CELL_FILENAME = "<cell>"


class CellTimeout(BaseException):
    """Raised by the soft-timeout alarm; a BaseException so ``except Exception`` cannot swallow it."""


class OutputLimitExceeded(BaseException):
    """Raised by the capped writer once a stream passes its byte budget."""


class CappedWriter(io.TextIOBase):
    """In-memory text stream with a byte budget (sessions: output is captured per cell in-process)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[str] = []
        self.size = 0
        self.exceeded = False

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        if not isinstance(s, str):
            raise TypeError(f"write() argument must be str, not {type(s).__name__}")
        n = len(s.encode("utf-8", "replace"))
        if self.size + n > self.limit:
            room = max(0, self.limit - self.size)
            self.parts.append(s.encode("utf-8", "replace")[:room].decode("utf-8", "ignore"))
            self.size = self.limit
            self.exceeded = True
            raise OutputLimitExceeded(f"output exceeded {self.limit} bytes")
        self.parts.append(s)
        self.size += n
        return len(s)

    def getvalue(self) -> str:
        return "".join(self.parts)


def _user_traceback(exc: BaseException) -> str:
    try:
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != CELL_FILENAME:
            tb = tb.tb_next
        return "".join(traceback.format_exception(type(exc), exc, tb))
    except BaseException:  # an exception built to break formatting must not take the report with it
        return f"{type(exc).__name__}: <traceback could not be formatted>\n"


def _on_alarm(signum: int, frame: Any) -> None:
    raise CellTimeout()


def run_cell(code: str, namespace: dict[str, Any], *, soft_timeout: float | None = None) -> dict[str, Any]:
    """Execute ``code`` in ``namespace``; return status/exit/exception fields of an ExecResult."""
    out: dict[str, Any] = {"status": "ok", "exit_code": 0, "error_name": None, "error_value": None, "traceback": None}
    t0 = time.perf_counter()
    if soft_timeout:
        signal.signal(signal.SIGALRM, _on_alarm)
        signal.setitimer(signal.ITIMER_REAL, soft_timeout)
    try:
        try:
            exec(compile(code, CELL_FILENAME, "exec"), namespace)
        finally:
            if soft_timeout:
                signal.setitimer(signal.ITIMER_REAL, 0)
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except Exception:
                    pass
    except CellTimeout:
        out.update(status="timeout", exit_code=None, error_name="TimeoutError", error_value=f"cell exceeded {soft_timeout:g} s")
    except OutputLimitExceeded as exc:
        out.update(status="output_limit", exit_code=None, error_name="OutputLimitExceeded", error_value=str(exc))
    except SystemExit as exc:
        code_ = exc.code
        if code_ is None or (type(code_) in (int, bool) and code_ == 0):
            out["exit_code"] = 0
        else:
            out.update(status="error", exit_code=_exit_code(code_), error_name="SystemExit", error_value=_clip(_safe_str(code_), MAX_ERROR_VALUE))
            if type(code_) not in (int, bool):
                try:
                    print(code_, file=sys.stderr)
                except BaseException:
                    pass
    except BaseException as exc:
        tb = _user_traceback(exc)
        out.update(status="error", exit_code=1, error_name=_clip(type(exc).__name__, MAX_ERROR_NAME),
                   error_value=_clip(_safe_str(exc), MAX_ERROR_VALUE), traceback=_clip(tb, MAX_TRACEBACK, tail=True))
        try:
            sys.stderr.write(tb)
            sys.stderr.flush()
        except BaseException:
            pass
    out["duration_s"] = time.perf_counter() - t0
    return out


def _safe_str(obj: object) -> str:
    try:
        text = str(obj)
        return text if type(text) is str else str.__str__(text)
    except BaseException:
        return f"<unprintable {type(obj).__name__}>"


def _clip(text: str, limit: int, tail: bool = False) -> str:
    """Reports stay bounded whatever the code raised (a 50 MB message must not become the report)."""
    if len(text) <= limit:
        return text
    return "..." + text[-(limit - 3):] if tail else text[: limit - 3] + "..."


def _exit_code(code: object) -> int:
    """``sys.exit(code)`` as a 32-bit exit code: 1 for anything but a plain int in range (as Python)."""
    if type(code) is int and -(1 << 31) <= code < (1 << 31):
        return code
    return 1


def fresh_namespace() -> dict[str, Any]:
    return {"__name__": "__main__", "__builtins__": __builtins__}
