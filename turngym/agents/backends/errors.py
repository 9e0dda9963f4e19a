"""Errors a policy backend raises instead of returning per-prompt failures.

Per-prompt problems (a timeout, a garbage response) come back as ``Completion(error=...)`` so one bad
prompt never stops a rollout. These exceptions are for the cases where no prompt can succeed, so the
rollout engine should stop, keep the episodes already finished, and tell the user why.
"""

from __future__ import annotations


class BackendUnavailable(RuntimeError):
    """The engine or server is gone (connection refused/reset after every retry, engine dead)."""


class BackendNotInstalled(ImportError):
    """An optional engine (vllm) is not importable in this interpreter."""
