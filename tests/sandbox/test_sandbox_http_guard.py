"""`turngym sandbox serve` answers only its own Host names (DNS rebinding) and, bound beyond
loopback, runs code only for callers holding its token (issue 20 item 5)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from turngym.httpguard import allowed_host_names, guard, host_name, is_loopback

httpx = pytest.importorskip("httpx")


@pytest.mark.parametrize("header,name", [("localhost:8080", "localhost"), ("[::1]:8080", "::1"), ("[::1]", "::1"),
                                         ("Example.COM", "example.com"), ("10.0.0.5:80", "10.0.0.5"), ("", "")])
def test_host_name_parsing(header, name):
    assert host_name(header) == name


def test_allowed_names_by_bind_address():
    assert {"localhost", "127.0.0.1", "::1"} <= allowed_host_names("127.0.0.1")
    assert "evil.example" not in allowed_host_names("localhost")
    assert allowed_host_names("10.0.0.5") == {"10.0.0.5"}
    assert allowed_host_names("10.0.0.5", ["box.lan"]) == {"10.0.0.5", "box.lan"}
    assert allowed_host_names("0.0.0.0") is None  # a wildcard bind cannot know its names: the token guards it
    assert is_loopback("127.8.0.1") and is_loopback("[::1]") and not is_loopback("192.168.1.2")


def test_beyond_loopback_without_a_token_is_refused():
    with pytest.raises(ValueError, match="token"):
        guard(lambda *a: None, bind_host="0.0.0.0")


@pytest.fixture(scope="module")
def guarded_url(backend):
    """The real server app, guarded as if bound to 0.0.0.0 with token 's3cret', served on loopback."""
    from asgi_in_thread import serve_in_thread

    from turngym.sandbox.server import create_app

    with serve_in_thread(guard(create_app(backend), bind_host="0.0.0.0", token="s3cret")) as url:
        yield url


def test_writes_need_the_token_reads_do_not(guarded_url):
    from turngym.sandbox.fusion import FusionBackend

    assert httpx.get(guarded_url + "/v1/ping").text == "pong"
    r = httpx.post(guarded_url + "/run_code", json={"code": "print(1)", "language": "python"})
    assert r.status_code == 401 and "token" in r.json()["detail"]
    r = httpx.post(guarded_url + "/run_code", json={"code": "print(1)", "language": "python"},
                   headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401
    r = httpx.post(guarded_url + "/turngym/sessions", json={}, headers={"X-Turngym-Token": "nope"})
    assert r.status_code == 401

    anon = FusionBackend(guarded_url)
    try:
        res = anon.run("print(7)")
        assert res.status != "ok" and "401" in (res.stderr or "") + (res.error_value or "")
    finally:
        anon.close()
    client = FusionBackend(guarded_url, headers={"Authorization": "Bearer s3cret"})
    try:
        res = client.run("print(6*7)")
        assert res.status == "ok" and res.stdout.strip() == "42"
        with client.session() as s:
            assert s.run("x = 5").status == "ok"
            assert s.run("print(x + 1)").stdout.strip() == "6"
    finally:
        client.close()


def test_loopback_server_rejects_a_rebound_host(backend):
    """A browser page rebinding evil.example to 127.0.0.1 still sends Host: evil.example."""
    from starlette.testclient import TestClient

    from turngym.sandbox.server import create_app

    app = guard(create_app(backend), bind_host="127.0.0.1")
    with TestClient(app, base_url="http://127.0.0.1:8080") as c:
        assert c.get("/v1/ping").status_code == 200
        assert c.get("/v1/ping", headers={"host": "localhost:8080"}).status_code == 200
        assert c.get("/v1/ping", headers={"host": "[::1]:8080"}).status_code == 200
        bad = c.post("/run_code", json={"code": "print(1)"}, headers={"host": "evil.example:8080"})
        assert bad.status_code == 400 and "Host" in bad.json()["detail"]
        ok = c.post("/run_code", json={"code": "print(1)"})  # loopback needs no token
        assert ok.status_code == 200 and ok.json()["status"] == "Success"


@pytest.mark.parametrize("args,flag", [(["--port", "99999"], "--port"), (["--workers", "0"], "--workers"),
                                       (["--timeout", "-1"], "--timeout"), (["--memory-mb", "0"], "--memory-mb")])
def test_serve_rejects_bad_settings_before_starting(args, flag):
    from turngym.cli.main import app

    res = CliRunner().invoke(app, ["sandbox", "serve", *args])
    assert res.exit_code == 2 and flag in res.output and "Traceback" not in res.output
