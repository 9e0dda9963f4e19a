"""The replay viewer answers only its own Host names (DNS rebinding) and, bound beyond loopback,
accepts writes (re-run, branch) only with its token; reads stay open (issue 20 item 5)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from turngym.httpguard import guard
from turngym.replay import create_app


def _failed_id(c) -> str:
    return c.get("/api/episodes", params={"won": False, "limit": 1}).json()["items"][0]["episode_id"]


def test_loopback_viewer_rejects_a_rebound_host(run_dir):
    app = create_app(run_dir)
    try:
        with TestClient(guard(app, bind_host="127.0.0.1"), base_url="http://127.0.0.1:8765") as c:
            assert c.get("/api/runs").status_code == 200
            assert c.get("/", headers={"host": "localhost:8765"}).status_code == 200
            bad = c.get("/api/runs", headers={"host": "attacker.example"})
            assert bad.status_code == 400 and "Host" in bad.json()["detail"]
            eid = _failed_id(c)
            r = c.post(f"/api/episodes/{eid}/branch", json={"turn": 0, "action": "look"}, headers={"host": "attacker.example"})
            assert r.status_code == 400
    finally:
        app.state.run.close()


def test_viewer_beyond_loopback_needs_the_token_for_writes(run_dir):
    app = create_app(run_dir)
    try:
        with TestClient(guard(app, bind_host="0.0.0.0", token="tok"), base_url="http://10.1.2.3:8765") as c:
            assert c.get("/api/runs").status_code == 200  # reads are open
            eid = _failed_id(c)
            assert c.post(f"/api/episodes/{eid}/replay").status_code == 401
            assert c.post(f"/api/episodes/{eid}/branch", json={"turn": 0, "action": "look"},
                          headers={"X-Turngym-Token": "nope"}).status_code == 401
            ok = c.post(f"/api/episodes/{eid}/replay", headers={"X-Turngym-Token": "tok"})
            assert ok.status_code == 200
    finally:
        app.state.run.close()


def test_the_page_sends_the_token_it_was_opened_with():
    from importlib.resources import files

    js = (files("turngym.replay") / "static" / "app.js").read_text()
    assert 'get("token")' in js and 'headers["X-Turngym-Token"] = TOKEN' in js
