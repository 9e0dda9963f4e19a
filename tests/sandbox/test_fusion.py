"""SandboxFusion schema mapping, and our client against `turngym sandbox serve` over 127.0.0.1."""

from __future__ import annotations

import base64

import httpx
import pytest

from turngym.sandbox import ExecResult, SessionLost
from turngym.sandbox.fusion import FusionBackend, from_fusion_request, from_fusion_response, to_fusion_request, to_fusion_response


def _foreign(status: str, run_status: str | None, rc: int | None = 0, stdout: str = "", stderr: str = "") -> dict:
    run = None if run_status is None else {"status": run_status, "execution_time": 0.1, "return_code": rc, "stdout": stdout, "stderr": stderr}
    return {"status": status, "message": "", "compile_result": None, "run_result": run, "executor_pod_name": None, "files": {}}


def test_request_mapping():
    req = to_fusion_request("print(1)", timeout=3, memory_mb=256, files={"a.txt": b"hi"}, stdin="x", fetch_files=["o"])
    assert req == {"code": "print(1)", "language": "python", "compile_timeout": 10.0, "run_timeout": 3.0,
                   "memory_limit_MB": 256, "stdin": "x", "files": {"a.txt": base64.b64encode(b"hi").decode()}, "fetch_files": ["o"]}
    kw = from_fusion_request(req)
    assert kw == {"code": "print(1)", "timeout": 3.0, "memory_mb": 256, "files": {"a.txt": b"hi"}, "stdin": "x", "collect_files": ["o"]}
    assert from_fusion_request({"code": "x", "memory_limit_MB": -1})["memory_mb"] is None
    with pytest.raises(ValueError, match="code"):
        from_fusion_request({"language": "python"})
    with pytest.raises(ValueError, match="base64"):
        from_fusion_request({"code": "", "files": {"a": "***"}})


def test_foreign_responses_map_to_statuses():
    assert from_fusion_response(_foreign("Success", "Finished", 0, "2\n")).status == "ok"
    tb = 'Traceback (most recent call last):\n  File "x.py", line 1, in <module>\nZeroDivisionError: division by zero\n'
    r = from_fusion_response(_foreign("Failed", "Finished", 1, "", tb))
    assert (r.status, r.error_name, r.error_value, r.exit_code) == ("error", "ZeroDivisionError", "division by zero", 1)
    assert from_fusion_response(_foreign("Failed", "TimeLimitExceeded", None)).status == "timeout"
    assert from_fusion_response(_foreign("Failed", "Finished", 137)).status == "killed"
    r = from_fusion_response({"status": "SandboxError", "message": "no pods", "run_result": None})
    assert r.status == "sandbox_error" and "no pods" in r.stderr


@pytest.mark.parametrize("r", [
    ExecResult(status="ok", stdout="a\n", exit_code=0),
    ExecResult(status="error", stderr="Traceback...\nValueError: bad\n", exit_code=1, error_name="ValueError", error_value="bad"),
    ExecResult(status="timeout", error_name="TimeoutError"),
    ExecResult(status="sandbox_error", error_value="boom"),
])
def test_response_roundtrip_with_and_without_extension(r):
    resp = to_fusion_response(r)
    assert from_fusion_response(resp) == r
    plain = from_fusion_response({k: v for k, v in resp.items() if k != "turngym"})
    assert plain.status == r.status and plain.stdout == r.stdout


# --------------------------------------------------------------------------- loopback server (conftest)
@pytest.fixture()
def client(server_url):
    c = FusionBackend(server_url)
    yield c
    c.close()


def test_client_server_run(client):
    assert client.ping()
    r = client.run("print(6*7)")
    assert r.status == "ok" and r.stdout == "42\n"
    r = client.run("1/0")
    assert r.status == "error" and r.error_name == "ZeroDivisionError"
    r = client.run("while True: pass", timeout=1)
    assert r.status == "timeout"
    r = client.run("open('o.txt','w').write(open('i.txt').read()*2)", files={"i.txt": "ab"}, collect_files=True)
    assert r.ok and r.files == {"o.txt": b"abab"}
    caps = client.capabilities()
    assert caps["reachable"] and caps["remote"]["backend"] == "local"


def test_plain_sandboxfusion_client_sees_the_schema(server_url):
    body = {"code": "import sys\nprint(sys.stdin.read())\n1/0", "language": "python", "run_timeout": 5, "stdin": "in"}
    resp = httpx.post(f"{server_url}/run_code", json=body, timeout=30).json()
    assert resp["status"] == "Failed"
    assert resp["run_result"]["status"] == "Finished" and resp["run_result"]["return_code"] == 1
    assert resp["run_result"]["stdout"] == "in\n" and "ZeroDivisionError" in resp["run_result"]["stderr"]
    resp = httpx.post(f"{server_url}/run_code", json={"code": "int main(){}", "language": "cpp"}, timeout=30).json()
    assert resp["status"] == "SandboxError" and "not supported" in resp["message"]
    resp = httpx.post(f"{server_url}/run_code", json={"language": "python"}, timeout=30).json()
    assert resp["status"] == "SandboxError"


def test_remote_session(client):
    s = client.session()
    try:
        s.run("acc = []")
        for i in range(10):
            s.run(f"acc.append({i})")
        assert s.run("print(sum(acc))").stdout == "45\n"
        r = s.run("while True: pass", timeout=0.5)
        assert r.status == "timeout" and s.alive
        r = s.run("import time\nwhile True:\n    try: time.sleep(5)\n    except BaseException: pass", timeout=0.3)
        assert r.session_lost and not s.alive
        with pytest.raises(SessionLost):
            s.run("print(1)")
        s.reopen()
        assert s.run("print('acc' in globals())").stdout == "False\n"
    finally:
        s.close()


def test_unreachable_server_is_a_sandbox_error():
    c = FusionBackend("http://127.0.0.1:9", timeout_s=1, http_timeout_slack_s=1)
    try:
        r = c.run("print(1)")
        assert r.status == "sandbox_error" and "127.0.0.1:9" in r.stderr
    finally:
        c.close()
