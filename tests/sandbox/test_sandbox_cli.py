"""`turngym sandbox` commands."""

from __future__ import annotations

import json
import os

from typer.testing import CliRunner

from turngym.cli.main import app


def test_check_reports_live_layers():
    r = CliRunner().invoke(app, ["sandbox", "check", "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["smoke_test"] == "ok"
    assert data["live"]["layers"]["rlimits"] is True
    assert set(data["static"]) >= {"landlock", "seccomp", "setuid", "pid_namespace", "ipc_namespace", "ipc_syscalls"}
    if os.geteuid() == 0:
        assert data["live"]["layers"]["ipc_namespace"] is True and data["live"]["layers"]["ipc_syscalls"] is True


def test_check_table_and_help():
    runner = CliRunner()
    r = runner.invoke(app, ["sandbox", "check"])
    assert r.exit_code == 0 and "landlock" in r.output and "smoke test" in r.output
    assert "ipc_namespace" in r.output and "ipc_syscalls" in r.output and "shm*/msg*/sem*" in r.output
    for cmd, word in (("bench", "subprocess"), ("serve", "SandboxFusion")):
        r = runner.invoke(app, ["sandbox", cmd, "--help"])
        assert r.exit_code == 0 and word in r.output, r.output
