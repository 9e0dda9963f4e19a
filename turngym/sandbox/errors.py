"""Exceptions and warnings of the sandbox; kept apart so the worker can import them cheaply."""

from __future__ import annotations


class SandboxError(RuntimeError):
    """The sandbox itself failed (not the user code)."""


class SandboxUnavailable(SandboxError):
    """A required isolation layer or service is missing (strict mode, no Docker engine, no API key)."""


class SessionLost(SandboxError):
    """The session's process is gone; call ``session.reopen()`` to start a fresh one."""


class SandboxWarning(UserWarning):
    """An isolation layer is not active: code runs, but with less containment than configured."""
