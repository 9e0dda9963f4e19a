"""Process accounting and markers shared by the sandbox tests."""

from __future__ import annotations

import os
import time

import pytest

from turngym.sandbox.local import LocalBackend

SESSION_UID_OFFSET = 1 << 22


def _status(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            return f.read()
    except OSError:
        return None


def sandbox_pids(backend: LocalBackend) -> list[int]:
    """Live processes running as one of the backend's sandbox uids (spares, runs, sessions, leftovers)."""
    uids = set()
    for wpid in backend.worker_pids():
        base = backend.config.uid_base + wpid
        uids |= {base, base + SESSION_UID_OFFSET}
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        status = _status(int(entry))
        if status is None:
            continue
        uid = int(status.split("Uid:")[1].split()[0])
        state = status.split("State:")[1].split()[0]
        if uid in uids and state != "Z":
            found.append(int(entry))
    return found


def wait_for_only_spares(backend: LocalBackend, timeout: float = 5.0) -> list[int]:
    """Poll until the only sandbox processes are idle spares: direct children of a worker's fork
    server, at most ``spares`` per worker. Returns the offending pids (empty when clean)."""
    workers = set(backend.worker_pids())
    parents = set(backend.fork_server_pids())
    pidns = backend.capabilities()["layers"].get("pid_namespace") is True
    limit = len(workers) * (backend.config.spares if pidns else 1)  # the worker keeps one spare without it
    deadline = time.monotonic() + timeout
    while True:
        pids = sandbox_pids(backend)
        bad = []
        for pid in pids:
            st = _status(pid)
            if st is not None and int(st.split("PPid:")[1].split()[0]) not in parents:
                bad.append(pid)
        if len(pids) > limit:
            bad = pids
        if not bad or time.monotonic() > deadline:
            return bad
        time.sleep(0.05)


requires_root = pytest.mark.skipif(os.geteuid() != 0, reason="uid drop and namespaces need root")
