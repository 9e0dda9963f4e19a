"""Missing layers degrade with a warning; strict mode refuses to run without them."""

from __future__ import annotations

import warnings

import pytest
from sandbox_helpers import requires_root

from turngym.sandbox import SandboxConfig, SandboxUnavailable, SandboxWarning, capabilities
from turngym.sandbox.local import LocalBackend


def _start(**kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        b = LocalBackend(SandboxConfig(workers=1, **kw))
    return b, [w for w in caught if issubclass(w.category, SandboxWarning)]


def test_unknown_layer_name_is_rejected():
    with pytest.raises(ValueError, match="unknown sandbox layer"):
        SandboxConfig(disable=("landlok",))


def test_without_landlock_warns_and_still_runs():
    b, warns = _start(disable=("landlock",))
    try:
        assert warns and "landlock" in str(warns[0].message)
        assert b.capabilities()["layers"]["landlock"] == "disabled by configuration"
        r = b.run("print(open('/etc/hostname').read() != '')")  # world-readable: only Landlock hid it
        assert r.status == "ok" and r.stdout == "True\n"
    finally:
        b.close()


@requires_root
def test_without_seccomp_warns_and_landlock_still_blocks_tcp():
    if capabilities()["landlock_abi"] < 4:
        pytest.skip("Landlock without TCP rules")
    b, warns = _start(disable=("seccomp",))
    try:
        assert warns and "seccomp" in str(warns[0].message)
        r = b.run("import socket\ns = socket.socket()\nprint('socket created')\ns.connect(('127.0.0.1', 9))")
        assert r.stdout == "socket created\n" and r.error_name == "PermissionError"
    finally:
        b.close()


@requires_root
def test_strict_mode_refuses_missing_layer():
    with pytest.raises(SandboxUnavailable, match="landlock"):
        LocalBackend(SandboxConfig(workers=1, strict=True, disable=("landlock",)))


@requires_root
def test_strict_mode_denies_fork_and_exec():
    caps = capabilities()
    if not (caps["landlock"] is True and caps["seccomp"] is True):
        pytest.skip("strict mode needs Landlock and seccomp")
    b, warns = _start(strict=True)
    try:
        assert not warns
        assert b.capabilities()["layers"]["seccomp_strict"] is True
        assert b.run("print(1)").stdout == "1\n"
        r = b.run("import os\nos.fork()")
        assert r.status == "error" and r.error_name == "PermissionError"
        r = b.run("import subprocess\nsubprocess.run(['/bin/true'])")
        assert r.status == "error"
        r = b.run("import threading\nt = threading.Thread(target=print, args=('thread ok',))\nt.start(); t.join()")
        assert r.stdout == "thread ok\n"
    finally:
        b.close()


@requires_root
def test_without_pid_namespace_leftovers_are_swept_by_uid():
    """No PID namespace: a daemonised grandchild would outlive the run; the uid sweep kills it."""
    from sandbox_helpers import wait_for_only_spares

    b, warns = _start(disable=("pid_namespace",))
    try:
        assert warns and "pid_namespace" in str(warns[0].message)
        code = "import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(60)\nprint('parent done')"
        r = b.run(code)
        assert r.status == "ok" and r.stdout == "parent done\n"
        assert wait_for_only_spares(b) == []
        assert b.run("print(1)").stdout == "1\n"
    finally:
        b.close()
