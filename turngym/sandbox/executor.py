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
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != CELL_FILENAME:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))


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
        if code_ is None or code_ == 0:
            out["exit_code"] = 0
        else:
            out.update(status="error", exit_code=code_ if isinstance(code_, int) else 1,
                       error_name="SystemExit", error_value=str(code_))
            if not isinstance(code_, int):
                try:
                    print(code_, file=sys.stderr)
                except BaseException:
                    pass
    except BaseException as exc:
        tb = _user_traceback(exc)
        out.update(status="error", exit_code=1, error_name=type(exc).__name__, error_value=_safe_str(exc), traceback=tb)
        try:
            sys.stderr.write(tb)
            sys.stderr.flush()
        except BaseException:
            pass
    out["duration_s"] = time.perf_counter() - t0
    return out


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except BaseException:
        return f"<unprintable {type(exc).__name__}>"


def fresh_namespace() -> dict[str, Any]:
    return {"__name__": "__main__", "__builtins__": __builtins__}
