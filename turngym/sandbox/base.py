"""The backend and session interfaces every sandbox implements (local, docker, e2b, fusion).

Async variants run the blocking call in a thread: each call mostly waits on a pipe or socket, so a
thread per in-flight call is cheap and keeps one implementation per backend.
"""

from __future__ import annotations

import asyncio
import os
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

from .integrity import safe_file_name
from .result import ExecResult

Files = Mapping[str, "bytes | str"]


def validate_files(files: Files | None) -> dict[str, bytes]:
    """Relative paths only, no escaping the scratch directory: a clear error instead of a surprise."""
    out: dict[str, bytes] = {}
    for name, data in (files or {}).items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"file names must be non-empty strings, got {name!r}")
        norm = os.path.normpath(name)
        if os.path.isabs(name) or norm == ".." or norm.startswith("../") or norm == ".":
            raise ValueError(f"file name {name!r} must be a relative path inside the sandbox scratch directory")
        if isinstance(data, str):
            data = data.encode()
        if not isinstance(data, (bytes, bytearray)):
            raise TypeError(f"file {name!r}: contents must be bytes or str, got {type(data).__name__}")
        out[norm] = bytes(data)
    return out


def validate_collect(collect_files: Any) -> bool | list[str]:
    """``collect_files`` as sent to a child: a bool, or normalised relative names (a clear error otherwise)."""
    if isinstance(collect_files, bool):
        return collect_files
    if isinstance(collect_files, (str, bytes)) or not hasattr(collect_files, "__iter__"):
        raise TypeError(f"collect_files must be a bool or a list of file names, got {type(collect_files).__name__}")
    names = []
    for name in collect_files:
        norm = safe_file_name(name)
        if norm is None:
            raise ValueError(f"collect_files: {name!r} must be a relative path inside the sandbox scratch directory")
        names.append(norm)
    return names


def validate_call(code: Any, timeout: float | None, memory_mb: int | None, max_timeout: float, max_memory: int) -> None:
    if not isinstance(code, str):
        raise TypeError(f"code must be a str, got {type(code).__name__}")
    if timeout is not None and not (0 < _number(timeout, "timeout") <= max_timeout):
        raise ValueError(f"timeout must be in (0, {max_timeout}] seconds, got {timeout!r}")
    if memory_mb is not None and not (0 < _number(memory_mb, "memory_mb") <= max_memory):
        raise ValueError(f"memory_mb must be in (0, {max_memory}], got {memory_mb!r}")


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a number, got bool")
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}") from None


class Session(ABC):
    """Stateful execution: variables and imports persist across ``run`` calls, like notebook cells."""

    @abstractmethod
    def run(self, code: str, *, timeout: float | None = None, files: Files | None = None,
            stdin: str | None = None, collect_files: bool | list[str] = False) -> ExecResult: ...

    @property
    @abstractmethod
    def alive(self) -> bool: ...

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def reopen(self) -> None:
        """Discard all state and start a fresh process (after a hard kill, or to reset)."""

    async def arun(self, code: str, **kw: Any) -> ExecResult:
        return await asyncio.to_thread(self.run, code, **kw)

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()


class Backend(ABC):
    name: str = "base"

    @abstractmethod
    def run(self, code: str, *, timeout: float | None = None, memory_mb: int | None = None,
            files: Files | None = None, stdin: str | None = None, collect_files: bool | list[str] = False) -> ExecResult: ...

    @abstractmethod
    def session(self, *, memory_mb: int | None = None, timeout: float | None = None) -> Session: ...

    def capabilities(self) -> dict[str, Any]:
        return {"backend": self.name}

    def close(self) -> None:
        """Release workers, containers or connections."""

    async def arun(self, code: str, **kw: Any) -> ExecResult:
        return await asyncio.to_thread(self.run, code, **kw)

    async def asession(self, **kw: Any) -> Session:
        return await asyncio.to_thread(self.session, **kw)

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
