"""Result integrity: what the caller may believe about a run, and why forging the channel never pays.

**The reporter problem.** A child reports how its code ended (exception, files) over a pipe. After
user code starts, everything in the child's process is the user's: it can read all memory
(``gc.get_objects()``, frames, ``ctypes``), write to any fd number, dup fds, monkeypatch the
harness, keep threads running after the harness writes its report. So:

* an HMAC key or any per-run secret *inside* the child authenticates nothing: the code finds it;
* closing or hiding the fd before user code cannot cover the report the harness writes *after* it:
  whatever fd that harness code can use, the user code can use too (same process);
* an unforgeable report needs a writer outside the process: the kernel's wait status seen by the
  child's parent, or a second harness process per run. Both put the child's exit on the caller's
  critical path: waiting for the exit status on every run (its exit, then the fork server ->
  worker -> trainer hops) took the one-shot median from 5.1-6.0 ms to 8.4-10.3 ms in the same runs
  on this (loaded) machine, +45-80 %. And a session cell's outcome only ever exists inside its
  long-lived process.

**The design.** The caller splits a result into what it *measured* outside the child (wall time,
the timeout, output caps, the signal or exit status when it needs it, how many bytes and frames
the channel carried) and what the child *reported* (the ``ok``/``error`` of a cell that ran to its
end, exit code, exception fields, files): the report is untrusted input, exactly like stdout.
The only trusted frame from a child is its readiness report, written before it reads any code.

* A one-shot child writes exactly one report after the readiness frame and the caller reads the
  channel to EOF (all writers closed, so at the child's exit at the latest): a second frame,
  undecodable bytes, a truncated frame, an oversized channel or a report that breaks the schema
  makes the run ``error``/``ResultChannelViolation``.
* A session request carries a fresh call id; the reply must echo it. A reply with another id,
  undecodable bytes or a broken schema kills the session and the call is ``error``/
  ``ResultChannelViolation`` (``session_lost``): a byte stream cannot be re-synchronised, and no
  frame from an earlier cell is ever taken as a later call's reply.
* Every field is type-checked and bounded; file names are normalised, relative, inside the scratch
  directory and among the names the caller asked for; measured facts override the report (a
  session's soft ``timeout`` must match the call's measured time, its ``output_limit`` a stream
  at the cap).
* Violations are ``error``, never ``sandbox_error``: graders skip infrastructure failures, so an
  attacker able to produce one could turn a failure into "no sample" at will.

Why that is sound: with these rules every result a writer of the channel can obtain is one that a
program that never touches the channel also obtains (``ok`` by catching its exception or calling
``os._exit(0)``, any error name by raising it, any file by writing it), so forging pays nothing; and
what would pay (duration, timeout and limit statuses, an earlier cell's frame read as a later
call's reply, paths outside the scratch directory, ``sandbox_error``) is measured or enforced
outside its reach. What the child's own process does after user code starts is still the user's,
sessions included: a cell can take its session's next request off the request pipe and answer it
itself, so a session's later calls are that code's to shape. See "How a grader must read results"
in ``turngym.sandbox``.
"""

from __future__ import annotations

import base64
import binascii
import math
import os
from typing import Any

#: ``error_name`` of a run or call whose result channel carried something the harness never writes.
VIOLATION = "ResultChannelViolation"
#: Bounds on a report's text fields (the child's harness truncates to them before reporting).
MAX_ERROR_NAME = 256
MAX_ERROR_VALUE = 16 << 10
MAX_TRACEBACK = 64 << 10
_MAX_PATH = 4096
_RUN_STATUSES = ("ok", "error")
_SESSION_STATUSES = ("ok", "error", "timeout", "output_limit")


class Violation(ValueError):
    """The result channel carried something the harness does not write: the code wrote to it."""


def violation_fields(reason: str) -> dict[str, Any]:
    return {"status": "error", "exit_code": None, "error_name": VIOLATION, "traceback": None, "files": {},
            "error_value": f"the run wrote to the sandbox's result channel ({reason}); its own report is void"}


def safe_file_name(name: Any) -> str | None:
    """``name`` normalised if it is a relative path inside the scratch directory, else None."""
    if not isinstance(name, str) or not name or len(name) > _MAX_PATH or "\x00" in name:
        return None
    if name.startswith("/"):
        return None
    norm = os.path.normpath(name)
    if norm in (".", "..") or norm.startswith("../") or norm.startswith("/"):
        return None
    if any(len(part.encode("utf-8", "surrogatepass")) > 255 for part in norm.split("/")):
        return None
    return norm


def wanted_names(spec: Any) -> set[str] | None:
    """Names a caller's ``collect_files`` admits: None for "any new or changed file", else the set."""
    if spec is True:
        return None
    if not spec:
        return set()
    return {n for n in (safe_file_name(p) for p in spec) if n is not None}


def check_files(raw: Any, spec: Any, max_bytes: int) -> dict[str, str]:
    """Validate a report's ``files`` (name -> base64); returns them with normalised names."""
    if raw is None or raw == {}:
        return {}
    if not isinstance(raw, dict):
        raise Violation("files is not a mapping")
    wanted = wanted_names(spec)
    out: dict[str, str] = {}
    total = 0
    for name, b64 in raw.items():
        norm = safe_file_name(name)
        if norm is None:
            raise Violation(f"file name {str(name)[:80]!r} is not a relative path inside the scratch directory")
        if wanted is not None and norm not in wanted:
            raise Violation(f"file {norm[:80]!r} was not asked for")
        if not isinstance(b64, str):
            raise Violation(f"file {norm[:80]!r}: contents are not base64 text")
        try:
            size = len(base64.b64decode(b64, validate=True))
        except (binascii.Error, ValueError):
            raise Violation(f"file {norm[:80]!r}: contents are not valid base64") from None
        total += size
        if total > max_bytes:
            raise Violation(f"files exceed {max_bytes} bytes")
        if norm in out:
            raise Violation(f"file {norm[:80]!r} reported twice")
        out[norm] = b64
    return out


def _text(report: dict[str, Any], key: str, limit: int) -> str | None:
    value = report.get(key)
    if value is None or (type(value) is str and len(value) <= limit):
        return value
    raise Violation(f"{key} is not a string of at most {limit} characters")


def _int(value: Any, key: str) -> int:
    if type(value) is not int or not -(1 << 31) <= value < (1 << 31):
        raise Violation(f"{key} is not a 32-bit integer")
    return value


def check_report(report: Any, *, session: bool, collect_spec: Any, max_files_bytes: int,
                 max_output: int = 0) -> dict[str, Any]:
    """The fields of a child's report the caller may use, or :class:`Violation`.

    ``status``/``exit_code`` agree (``ok`` exactly when the code ended with 0); a one-shot report
    has no ``timeout``/``output_limit`` status (the caller measures those); a session report also
    carries the cell's captured ``stdout``/``stderr`` (at most ``max_output`` characters each).
    """
    if not isinstance(report, dict):
        raise Violation("the report is not a JSON object")
    status = report.get("status")
    if status not in (_SESSION_STATUSES if session else _RUN_STATUSES):
        raise Violation(f"status {str(status)[:40]!r} is not one the harness reports")
    exit_code = report.get("exit_code")
    if status in ("ok", "error"):
        exit_code = _int(exit_code, "exit_code")
        if (status == "ok") != (exit_code == 0):
            raise Violation(f"status {status} with exit code {exit_code}")
    elif exit_code is not None:
        raise Violation(f"status {status} with an exit code")
    out: dict[str, Any] = {
        "status": status, "exit_code": exit_code,
        "error_name": _text(report, "error_name", MAX_ERROR_NAME),
        "error_value": _text(report, "error_value", MAX_ERROR_VALUE),
        "traceback": _text(report, "traceback", MAX_TRACEBACK),
        "files": check_files(report.get("files"), collect_spec, max_files_bytes),
    }
    truncated = report.get("files_truncated", False)
    if not isinstance(truncated, bool):
        raise Violation("files_truncated is not a boolean")
    out["files_truncated"] = truncated
    cell_s = report.get("duration_s")
    if cell_s is not None and (type(cell_s) not in (int, float) or not math.isfinite(cell_s) or cell_s < 0):
        raise Violation("duration_s is not a finite non-negative number")
    out["reported_cell_s"] = cell_s
    if session:
        for key in ("stdout", "stderr"):
            text = report.get(key, "")
            if not isinstance(text, str) or len(text) > max_output:
                raise Violation(f"{key} is not a string of at most {max_output} characters")
            out[key] = text
    return out


def new_call_id() -> str:
    """A fresh id binding a session request to its reply (not a secret: the cell can read it)."""
    return os.urandom(8).hex()


def check_session_reply(reply: Any, call_id: str, *, timeout: float, elapsed: float, **kw: Any) -> dict[str, Any]:
    """A session reply for call ``call_id`` (see :func:`check_report`), or :class:`Violation`.

    The limits a session enforces in-process are checked against what the caller measured: a soft
    ``timeout`` needs ``elapsed`` (the call's wall time) to have reached ``timeout``, an
    ``output_limit`` a stream at the cap.
    """
    if not isinstance(reply, dict):
        raise Violation("the reply is not a JSON object")
    if reply.get("call") != call_id:
        raise Violation("a reply that does not belong to this call")
    fields = check_report(reply, session=True, **kw)
    if fields["status"] == "timeout" and elapsed + 0.01 < timeout:
        raise Violation(f"a soft timeout of {timeout:g} s after {elapsed:.3f} s")
    if fields["status"] == "output_limit":
        cap = kw.get("max_output", 0)
        if max(len(fields[k].encode("utf-8", "replace")) for k in ("stdout", "stderr")) < cap - 4:
            raise Violation("an output limit with both streams under the cap")
    return fields


def max_report_bytes(max_files_bytes: int, max_output: int = 0) -> int:
    """Channel bytes an honest report can take (``max_output``: a session reply's captured streams).

    JSON escapes one character into up to 12 bytes (a surrogate pair as two ``\\uXXXX``); base64
    grows files by a third; the rest is headroom for file names.
    """
    return 2 * 12 * max_output + 2 * max_files_bytes + 12 * (MAX_ERROR_NAME + MAX_ERROR_VALUE + MAX_TRACEBACK) + (4 << 20)


def session_result_fields(fields: dict[str, Any], duration_s: float, *, decode: bool = False) -> dict[str, Any]:
    """ExecResult keyword arguments from a checked session reply (files base64, or bytes with ``decode``)."""
    files = fields["files"]
    if decode and files:
        files = {k: base64.b64decode(v) for k, v in files.items()}
    return {"status": fields["status"], "stdout": fields["stdout"], "stderr": fields["stderr"],
            "exit_code": fields["exit_code"], "duration_s": duration_s, "error_name": fields["error_name"],
            "error_value": fields["error_value"], "traceback": fields["traceback"], "files": files,
            "meta": {"files_truncated": fields["files_truncated"], "reported_cell_s": fields["reported_cell_s"]}}
