"""Collecting one run child's output and deciding its status, wherever that happens.

The trainer collects directly from the child's pipes (local backend: one hop, no worker in the
path); a worker collects on the caller's behalf when pipes cannot be handed over (``--stdio``
transport inside containers). Both use these functions, so a run ends the same way on every path.
"""

from __future__ import annotations

import os
import select
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import _protocol, integrity


@dataclass
class Collected:
    frames: list[Any] = field(default_factory=list)  # [ready report, the child's report] when all went well
    out: bytes = b""
    err: bytes = b""
    exited: bool = False
    timed_out: bool = False
    over: bool = False
    wall: float = 0.0
    #: Why the result channel cannot be read as the harness wrote it (undecodable, truncated, too big).
    violation: str | None = None


def collect(fds: dict[str, int], pidfd: int, kill: Callable[[], None], *, t0: float, timeout: float,
            max_output: int, res_cap: int, pre_frames: list[Any] | tuple[Any, ...] = (),
            watch_fd: int | None = None, on_watch: Callable[[], bool] | None = None) -> Collected:
    """Read stdout/stderr (capped) and result frames until the child is done, killing it on timeout.

    ``on_watch`` is called when ``watch_fd`` is readable (the worker watches its trainer socket for
    EOF); it returns False to stop watching.
    """
    out = {"out": bytearray(), "err": bytearray()}
    res_buf = _protocol.FrameBuffer(res_cap)
    res_seen = 0
    c = Collected(frames=list(pre_frames))
    open_fds = {fds["out"]: "out", fds["err"]: "err", fds["res"]: "res"}
    drain_deadline: float | None = None
    deadline = t0 + timeout
    while True:
        now = time.monotonic()
        if not c.timed_out and not c.exited and now >= deadline:
            c.timed_out = True
            kill()
        if c.exited and drain_deadline is None:
            drain_deadline = now + 1.0  # grandchildren still holding a pipe die with the namespace
        if drain_deadline is not None and now >= drain_deadline:
            break
        if not open_fds and (c.exited or len(c.frames) >= 2 or c.violation):
            break
        wait = list(open_fds) + ([pidfd] if not c.exited else [])
        if watch_fd is not None:
            wait.append(watch_fd)
        if c.timed_out and not c.exited:
            limit = 0.5
        else:
            limit = max(0.0, (drain_deadline if drain_deadline is not None else deadline) - now)
        r, _, _ = select.select(wait, [], [], limit)
        for fd in r:
            if fd == pidfd:
                c.exited = True
            elif fd == watch_fd:
                if on_watch is None or not on_watch():
                    watch_fd = None
            else:
                chunk = os.read(fd, 65536)
                name = open_fds[fd]
                if not chunk:
                    del open_fds[fd]
                    if name == "res" and res_buf.pending and c.violation is None:
                        c.violation = f"a truncated frame of {res_buf.pending} bytes"
                elif name == "res":
                    # Read to EOF (every writer closed: at the child's exit at the latest), so a frame
                    # the code writes after the harness's report is seen too (``integrity``).
                    res_seen += len(chunk)
                    try:
                        if res_seen > res_cap:
                            raise _protocol.ProtocolError(f"more than {res_cap} bytes")
                        c.frames.extend(res_buf.feed(chunk))
                    except _protocol.ProtocolError as exc:
                        c.violation = f"undecodable bytes: {exc}"
                        del open_fds[fd]
                        kill()  # its run is void: nothing it does next can count, so stop it now
                else:
                    room = max_output - len(out[name])
                    out[name] += chunk[:room]
                    if len(chunk) > room and not c.over:
                        c.over = True
                        kill()
    c.wall = time.monotonic() - t0
    c.out, c.err = bytes(out["out"]), bytes(out["err"])
    return c


def needs_exit_status(c: Collected) -> bool:
    """Only abnormal endings need the wait status (which only the child's parent, the worker, has)."""
    return c.exited or c.timed_out or c.over or (len(c.frames) < 2 and c.violation is None)


def _signame(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return str(sig)


def build_result(c: Collected, exit_status: tuple[int, float] | None, *, timeout: float, max_output: int,
                 max_cpu_s: float, collect_spec: Any = False, max_files_bytes: int = 8 << 20) -> dict[str, Any]:
    """ExecResult fields from what was collected plus (raw wait status, CPU seconds) when known.

    Precedence, most trusted first: what the caller measured (timeout, output cap, a channel
    violation, death by a signal), then the child's report, then its exit code. ``duration_s`` is
    always the measured wall time; ``collect_spec`` is the caller's ``collect_files``.
    """
    ready = c.frames[0] if c.frames and isinstance(c.frames[0], dict) else {}
    info = ready.get("info", {}) if isinstance(ready.get("info"), dict) else {}
    r: dict[str, Any] = {"stdout": c.out.decode("utf-8", "replace"), "stderr": c.err.decode("utf-8", "replace"),
                         "duration_s": c.wall, "meta": {"confine_us": info.get("timings_us")}}
    if ready and ready.get("ready") is not True:
        r.update(status="sandbox_error", error_name="SandboxError", error_value=str(ready.get("error"))[:2000])
        return r
    res = None
    violation = c.violation
    if c.frames and not ready:
        violation = violation or "no readiness report before the result"
    if violation is None and len(c.frames) > 2:
        violation = f"{len(c.frames) - 1} result frames instead of one"
    if violation is None and len(c.frames) == 2:
        try:
            res = integrity.check_report(c.frames[1], session=False, collect_spec=collect_spec, max_files_bytes=max_files_bytes)
        except integrity.Violation as exc:
            violation = str(exc)
    if res is not None:
        r.update({k: res[k] for k in ("status", "exit_code", "error_name", "error_value", "traceback", "files")})
        r["meta"]["files_truncated"] = res["files_truncated"]
        r["meta"]["reported_cell_s"] = res["reported_cell_s"]
    sig = None
    if exit_status is not None:
        status, cpu = exit_status
        r["meta"]["cpu_s"] = cpu
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            r["meta"].update(signal=sig, signal_name=_signame(sig))
        elif res is None and violation is None:
            code = os.WEXITSTATUS(status)
            r.update(status="ok" if code == 0 else "error", exit_code=code)
            if code == 70 and not ready:
                r.update(status="sandbox_error", error_name="SandboxError", error_value="sandbox child failed to start")
    if c.timed_out:
        r.update(status="timeout", exit_code=None, error_name="TimeoutError", error_value=f"wall-clock limit of {timeout:g} s exceeded",
                 traceback=None, files={})
    elif c.over:
        r.update(status="output_limit", exit_code=None, error_name="OutputLimitExceeded", error_value=f"a stream exceeded {max_output} bytes",
                 traceback=None, files={})
    elif violation is not None:
        r.update(integrity.violation_fields(violation))
    elif sig is not None:
        cpu = r["meta"].get("cpu_s", 0.0)
        r.update(traceback=None, files={})
        if sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu >= max_cpu_s - 0.05):
            r.update(status="timeout", error_name="TimeoutError", error_value="CPU time limit exceeded", exit_code=None)
        else:
            r.update(status="killed", exit_code=-sig, error_name="Killed", error_value=f"terminated by {_signame(sig)}")
    elif res is None and "status" not in r:
        r.update(status="sandbox_error", error_name="SandboxError", error_value="the sandbox child vanished without a result")
    return r
