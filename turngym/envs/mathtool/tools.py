"""The Python tool of MathTool: finding the code in a response, running it, rendering the output.

Two tag styles (``tags``): START/ToRL's markdown fences (```` ```python ... ``` ```` answered by
```` ```output ... ``` ````) and ReTool's ``<code>...</code>`` answered by
``<interpreter>...</interpreter>``. Output is cut with ToRL's rule (keep the first and last
``head``/``tail`` characters around ``...``) so that a print loop cannot flood the context.

Execution goes through an *executor*: ``open() -> cell runner`` per episode. The default,
:class:`SandboxExecutor`, opens one session of a ``turngym.sandbox`` backend per episode (variables
persist across the episode's cells, like a notebook) on a backend shared by every env in the
process, so 64 envs do not start 64 worker pools.
"""

from __future__ import annotations

import re
import textwrap
import threading
from dataclasses import dataclass
from typing import Any, Protocol

from turngym.sandbox import Backend, ExecResult, Session, get_backend

TAG_STYLES = ("markdown", "retool")
#: ```python + newline (or, typed on one line, a space) ... ```
_FENCE = re.compile(r"```python(?:[ \t]*\n|[ \t]+)(.*?)```", re.DOTALL)
_FENCE_OPEN = re.compile(r"```python(?:[ \t]*\n|[ \t]+)")
_CODE_TAG = re.compile(r"<code>(.*?)</code>", re.DOTALL)
_CODE_TAG_BODY = re.compile(r"^\s*```(?:python)?[ \t]*\n(.*?)```\s*$", re.DOTALL)


@dataclass(frozen=True)
class CodeBlock:
    code: str
    end: int  # offset in the response just past the block


def find_code(response: str, tags: str = "markdown") -> CodeBlock | None:
    """The last complete code block of a response (the one a stop at ```` ```output ```` leaves)."""
    if tags == "markdown":
        matches = list(_FENCE.finditer(response))
    else:
        matches = list(_CODE_TAG.finditer(response))
    if not matches:
        return None
    m = matches[-1]
    code = m.group(1)
    if tags == "retool":  # ReTool writes <code>```python ...```</code>
        inner = _CODE_TAG_BODY.match(code)
        code = inner.group(1) if inner else code
    code = textwrap.dedent(code.strip("\n"))  # a block indented as a whole (inside a list item) still runs
    return CodeBlock(code.strip() if "\n" not in code else code, m.end())


def has_open_code(response: str, tags: str = "markdown") -> bool:
    """A code block was started but never closed (a void turn in SimpleTIR's sense)."""
    if tags == "markdown":
        return len(_FENCE_OPEN.findall(response)) > len(_FENCE.findall(response))
    return response.count("<code>") > response.count("</code>")


def truncate_output(text: str, head: int = 128, tail: int = 128) -> str:
    """ToRL's rule: outputs longer than ``head + tail`` keep their ends around ``...``."""
    if head < 0 or tail < 0:
        raise ValueError("head and tail must be >= 0")
    if len(text) <= head + tail:
        return text
    return text[:head] + "..." + (text[-tail:] if tail else "")


def result_text(result: ExecResult) -> str:
    """What the model sees of a run: stdout, then the error (last traceback line) or the limit hit."""
    out = result.stdout.rstrip("\n")
    if result.status == "ok":
        return out if out.strip() else "(no output)"
    if result.status == "error":
        detail = f"{result.error_name}: {result.error_value}" if result.error_name else (result.stderr.strip().splitlines() or ["error"])[-1]
    elif result.status == "timeout":
        detail = "TimeoutError: the code ran past its time limit"
    elif result.status == "output_limit":
        detail = "OutputLimitExceeded: the code printed too much"
    elif result.status == "killed":
        detail = f"Killed: {result.error_value or 'the code exceeded a resource limit'}"
    else:
        detail = "SandboxError: the tool is unavailable, please continue without it"
    return f"{out}\n{detail}" if out else detail


def render_output(text: str, tags: str = "markdown") -> str:
    if tags == "markdown":
        return f"```output\n{text}\n```\n"
    return f"<interpreter>\n{text}\n</interpreter>\n"


class CellRunner(Protocol):
    """One episode's interpreter: ``run`` a cell (state persists), ``close`` when the episode ends."""

    def run(self, code: str, *, timeout: float) -> ExecResult: ...

    def close(self) -> None: ...


class Executor(Protocol):
    def open(self) -> CellRunner: ...


_shared: dict[tuple[str, tuple[tuple[str, Any], ...]], Backend] = {}
_shared_lock = threading.Lock()


def shared_backend(name: str = "local", **kwargs: Any) -> Backend:
    """One backend per (name, options) in this process, closed at exit by the sandbox module."""
    key = (name, tuple(sorted(kwargs.items())))
    with _shared_lock:
        backend = _shared.get(key)
        if backend is None:
            if name == "local" and not kwargs:
                from turngym.sandbox import default_backend

                backend = default_backend()
            else:
                import atexit

                backend = get_backend(name, **kwargs)
                atexit.register(backend.close)
            _shared[key] = backend
        return backend


class _SessionRunner:
    """A sandbox session; reopened once if a cell killed it (so the episode can go on, state lost)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def run(self, code: str, *, timeout: float) -> ExecResult:
        if not self.session.alive:
            self.session.reopen()
        return self.session.run(code, timeout=timeout)

    def close(self) -> None:
        self.session.close()


class SandboxExecutor:
    """Sessions of a ``turngym.sandbox`` backend (local by default), one per episode."""

    def __init__(self, backend: Backend | str = "local", *, memory_mb: int | None = 512, **backend_kwargs: Any) -> None:
        self.backend = shared_backend(backend, **backend_kwargs) if isinstance(backend, str) else backend
        self.memory_mb = memory_mb

    def open(self) -> CellRunner:
        return _SessionRunner(self.backend.session(memory_mb=self.memory_mb))
