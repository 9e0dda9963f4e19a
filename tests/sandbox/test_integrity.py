"""The checks that make a child's report worthless to forge (``turngym.sandbox.integrity``), the
wire parsers that must turn malformed input into a clear ``ValueError``, and the HTTP server's
validation of what clients send. The same attacks through real children are in ``test_abuse``."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from turngym.sandbox import ExecResult, integrity
from turngym.sandbox.base import validate_call, validate_collect
from turngym.sandbox.collector import Collected, build_result
from turngym.sandbox.fusion import from_fusion_request, from_fusion_response, session_params

READY = {"ready": True, "layers": {}, "info": {}}
HONEST = {"status": "error", "exit_code": 1, "error_name": "AssertionError", "error_value": "", "traceback": "tb",
          "duration_s": 0.001, "files": {}, "files_truncated": False}


def _build(frames, **measured):
    """The caller's verdict on a run whose channel carried ``frames`` (and ``measured`` facts)."""
    c = Collected(frames=frames, wall=0.25, **measured)
    return build_result(c, None, timeout=5.0, max_output=1 << 20, max_cpu_s=11, collect_spec=False)


@pytest.mark.parametrize("name,want", [
    ("a.txt", "a.txt"), ("d/./e.txt", "d/e.txt"), ("d/../e", "e"), ("..x", "..x"),
    ("../../etc/evil", None), ("/etc/passwd", None), ("..", None), (".", None), ("", None), ("a\x00b", None),
    ("a/" * 3000, None), ("x" * 256, None), (5, None), (None, None),
])
def test_file_names_are_normalised_and_confined(name, want):
    assert integrity.safe_file_name(name) == want


def test_one_honest_report_is_used_with_the_measured_duration():
    r = _build([READY, dict(HONEST, duration_s=99.0)])
    assert (r["status"], r["error_name"], r["duration_s"]) == ("error", "AssertionError", 0.25)
    assert r["meta"]["reported_cell_s"] == 99.0


@pytest.mark.parametrize("frames,kw", [
    ([READY, {"status": "ok", "exit_code": 0}, HONEST], {}),           # a forged report ahead of the harness's
    ([READY, HONEST, {"status": "ok", "exit_code": 0}], {}),           # ... or behind it (a thread, a grandchild)
    ([READY], {"violation": "undecodable bytes"}),                     # garbage dropped the harness's report
    ([READY, [1, 2]], {}),
    ([READY, {"status": "ok", "exit_code": "0"}], {}),
    ([READY, {"status": "ok", "exit_code": True}], {}),
    ([READY, {"status": "ok", "exit_code": 1}], {}),                   # ok is exactly exit code 0
    ([READY, {"status": "error", "exit_code": 0}], {}),
    ([READY, {"status": "timeout", "exit_code": None}], {}),           # the caller measures timeouts itself
    ([READY, {"status": "sandbox_error"}], {}),                        # never: graders would skip the sample
    ([READY, {"status": "ok", "exit_code": 0, "files": {"../../etc/evil": "eA=="}}], {}),
    ([READY, {"status": "ok", "exit_code": 0, "files": {"a": "a"}}], {}),
    ([READY, {"status": "ok", "exit_code": 0, "files": [1]}], {}),
    ([READY, {"status": "ok", "exit_code": 0, "files": {"not_asked": "eA=="}}], {}),  # collect_files=False
    ([READY, {"status": "ok", "exit_code": 0, "error_value": "x" * (integrity.MAX_ERROR_VALUE + 1)}], {}),
    ([READY, {"status": "ok", "exit_code": 0, "duration_s": float("nan")}], {}),
    ([READY, {"status": "ok", "exit_code": 0, "files_truncated": "no"}], {}),
])
def test_anything_but_one_wellformed_report_is_a_violation(frames, kw):
    r = _build(frames, **kw)
    assert r["status"] == "error" and r["error_name"] == integrity.VIOLATION and r["files"] == {}, r
    assert ExecResult.from_dict(r).error_name == integrity.VIOLATION


def test_measured_limits_override_a_report():
    assert _build([READY, {"status": "ok", "exit_code": 0}], timed_out=True)["status"] == "timeout"
    assert _build([READY, {"status": "ok", "exit_code": 0}], over=True)["status"] == "output_limit"
    assert _build([READY, "garbage"], timed_out=True)["status"] == "timeout"


def test_files_only_among_those_asked_for():
    b64 = base64.b64encode(b"x").decode()
    assert integrity.check_files({"o": b64, "./d//e": b64}, ["o", "d/e"], 10) == {"o": b64, "d/e": b64}
    assert integrity.check_files({"anything": b64}, True, 10) == {"anything": b64}
    for raw, spec in (({"p": b64}, ["o"]), ({"o": b64}, False), ({"o": base64.b64encode(b"x" * 11).decode()}, True)):
        with pytest.raises(integrity.Violation):
            integrity.check_files(raw, spec, 10)


def test_session_replies_are_bound_to_their_call_and_to_what_was_measured():
    reply = {"status": "ok", "exit_code": 0, "stdout": "hi", "stderr": "", "files": {}, "call": "c1"}
    kw = {"timeout": 5.0, "elapsed": 0.01, "collect_spec": False, "max_files_bytes": 10, "max_output": 100}
    assert integrity.check_session_reply(reply, "c1", **kw)["stdout"] == "hi"
    bad = [dict(reply, call="c0"), {k: v for k, v in reply.items() if k != "call"}, dict(reply, stdout="x" * 101),
           dict(reply, status="timeout", exit_code=None), dict(reply, status="output_limit", exit_code=None), [reply]]
    for b in bad:
        with pytest.raises(integrity.Violation):
            integrity.check_session_reply(b, "c1", **kw)
    soft = dict(reply, status="timeout", exit_code=None)
    assert integrity.check_session_reply(soft, "c1", **dict(kw, elapsed=5.0))["status"] == "timeout"
    full = dict(reply, status="output_limit", exit_code=None, stdout="y" * 100)
    assert integrity.check_session_reply(full, "c1", **kw)["status"] == "output_limit"


@pytest.mark.parametrize("d", [
    [1], {"status": "bogus"}, {"status": "ok", "files": {"a": "a"}}, {"status": "ok", "files": {"../x": "eA=="}},
    {"status": "ok", "files": [1]}, {"status": "ok", "files": {"a": 5}}, {"status": "ok", "exit_code": "0"},
    {"status": "ok", "stdout": 5}, {"status": "ok", "duration_s": "fast"}, {"status": "ok", "meta": []},
    {"status": "ok", "session_lost": "yes"}, {"status": "ok", "error_value": {"x": 1}},
])
def test_exec_result_from_wire_raises_only_value_error(d):
    with pytest.raises(ValueError):
        ExecResult.from_dict(d)


@pytest.mark.parametrize("resp", [
    [], {"status": "Success", "run_result": [1]}, {"status": "Success", "files": {"../../x": "eA=="}, "run_result": {"status": "Finished"}},
    {"status": "Success", "files": {"a": "a"}, "run_result": {"status": "Finished"}}, {"status": "Success", "files": [1]},
    {"status": "Failed", "run_result": {"status": "Finished", "return_code": "1"}},
    {"status": "Failed", "run_result": {"status": "Finished", "stdout": 5}},
    {"status": "Success", "run_result": {"status": "Finished", "execution_time": "NaN"}},
    {"turngym": {"status": "ok", "files": {"../x": "eA=="}}},
])
def test_a_remote_response_raises_only_value_error(resp):
    with pytest.raises(ValueError):
        from_fusion_response(resp)


@pytest.mark.parametrize("body", [
    {"code": "1", "memory_limit_MB": 1e400}, {"code": "1", "memory_limit_MB": "abc"}, {"code": "1", "run_timeout": float("nan")},
    {"code": "1", "run_timeout": -1}, {"code": "1", "run_timeout": True}, {"code": "1", "stdin": 5}, {"code": "1", "files": {"a": 5}},
    {"code": "1", "fetch_files": "o"}, {"code": 5}, [],
])
def test_run_requests_raise_only_value_error(body):
    with pytest.raises(ValueError):
        from_fusion_request(body)
    assert session_params({}) == {"memory_mb": None, "timeout": None}


def test_call_arguments_never_raise_past_type_and_value_errors():
    for timeout, memory in ((float("inf"), None), (None, float("inf")), (float("nan"), None), (True, None), ("x", None), ([1], None)):
        with pytest.raises((TypeError, ValueError)):
            validate_call("", timeout, memory, 600, 8192)
    assert validate_collect(["o", "./d/e"]) == ["o", "d/e"] and validate_collect(True) is True
    for spec in ("o", ["../../etc/passwd"], ["/etc/passwd"], 5):
        with pytest.raises((TypeError, ValueError)):
            validate_collect(spec)


# ------------------------------------------------------------------ turngym sandbox serve
@pytest.mark.parametrize("body", [
    {"memory_limit_MB": "abc"}, {"run_timeout": "x"}, {"run_timeout": -1}, {"run_timeout": 1e9}, {"memory_limit_MB": 10**9},
    {"memory_limit_MB": True}, {"run_timeout": None, "memory_limit_MB": [1]}, [], "text", 5,
])
def test_session_parameters_are_validated_422(server_url, body):
    r = httpx.post(f"{server_url}/turngym/sessions", json=body, timeout=30)
    assert r.status_code == 422, (r.status_code, r.text)
    assert "invalid session parameters" in r.text or "dict_type" in r.text


@pytest.mark.parametrize("raw", [
    json.dumps({"code": "1", "memory_limit_MB": 1e400}).replace("Infinity", "1e400"), json.dumps({"code": "1", "run_timeout": "x"}),
    json.dumps({"code": "1", "stdin": 5}), json.dumps({"code": "1", "files": {"../a": "eA=="}}), json.dumps({"code": "1", "fetch_files": ["../x"]}),
    json.dumps({"code": "1", "files": {"a": "***"}}), json.dumps([1]), "null", '{"code": "1", "memory_limit_MB": NaN}', "{not json",
])
def test_malformed_run_bodies_never_500(server_url, raw):
    url = f"{server_url}/run_code"
    sid = httpx.post(f"{server_url}/turngym/sessions", json={}, timeout=30).json()["session_id"]
    try:
        for target in (url, f"{server_url}/turngym/sessions/{sid}/run_code"):
            r = httpx.post(target, content=raw, headers={"content-type": "application/json"}, timeout=30)
            assert r.status_code in (200, 422), (target, r.status_code, r.text)
            if r.status_code == 200:
                assert r.json()["status"] == "SandboxError", r.text
    finally:
        httpx.delete(f"{server_url}/turngym/sessions/{sid}", timeout=30)
