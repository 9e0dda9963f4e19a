"""Issue 20.5 (viewer part): any stored text and any id survive the viewer and the HTML export;
ids containing '/' open; non-finite numbers in a request body are a 422, not a 500."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from turngym.replay import create_app
from turngym.store import EpisodeStore

HOSTILE_ID = "a/<img src=x onerror=window.__pwned=1>"
HOSTILE_TEXT = "<!--<script> </script><script>window.__pwned=1</script><img src=x onerror=window.__pwned=1>"


@pytest.fixture
def hostile_run(run_dir):
    """The fixture run plus a copy of one episode under a hostile id, with hostile text."""
    with EpisodeStore(run_dir) as store:
        ep = store.query(limit=1)[0]
        bad = ep.model_copy(deep=True)
        bad.episode_id, bad.group_id, bad.task_id = HOSTILE_ID, "g/<b>x</b>", HOSTILE_TEXT
        bad.turns[0].observation = HOSTILE_TEXT
        bad.turns[0].response_text = HOSTILE_TEXT
        bad.final_observation = HOSTILE_TEXT
        store.write(bad)
    return run_dir


def test_ids_with_a_slash_open_and_non_finite_bodies_are_422(hostile_run):
    app = create_app(hostile_run)
    with TestClient(app, raise_server_exceptions=False) as client:
        res = client.get(f"/api/episodes/{quote(HOSTILE_ID, safe='')}")
        assert res.status_code == 200 and res.json()["episode"]["episode_id"] == HOSTILE_ID
        assert client.get(f"/api/groups/{quote('g/<b>x</b>', safe='')}").status_code == 200
        url = f"/api/episodes/{quote(HOSTILE_ID, safe='')}/branch"
        for body in ('{"turn": NaN, "action": "look"}', '{"turn": 1e999, "action": "look"}', '{"turn": 0, "action": "look", "max_turns": Infinity}'):
            res = client.post(url, content=body, headers={"content-type": "application/json"})
            assert res.status_code == 422, (body, res.status_code, res.text)
            json.loads(res.text)  # strict JSON (no NaN/Infinity tokens)
    app.state.run.close()


@pytest.mark.browser
def test_hostile_text_in_the_viewer_and_the_export(hostile_run, tmp_path):
    from test_browser import ARGS, CHROMIUM, playwright_api

    from turngym.replay.render import export_html
    from turngym.replay.run import RunDir

    run = RunDir(hostile_run, readonly=True)
    out = export_html(run, HOSTILE_ID, tmp_path / "episode.html")
    run.close()
    html = out.read_text()
    assert "<!--<script>" not in html and "</script><script>window" not in html
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.route("**/*", lambda route: route.abort() if not route.request.url.startswith("file:") else route.continue_())
        page.goto(out.as_uri())
        playwright_api.expect(page.get_by_test_id("episode-id")).to_have_text(HOSTILE_ID)
        assert HOSTILE_TEXT in page.inner_text("body")  # shown as text
        assert page.evaluate("window.__pwned") is None
        # the episode list (live app, escaped short ids): served by the app under test
        browser.close()
    assert not errors, errors


@pytest.mark.browser
def test_hostile_ids_in_the_live_list(hostile_run):
    from test_browser import ARGS, CHROMIUM, playwright_api

    from asgi_in_thread import serve_in_thread

    app = create_app(hostile_run)
    try:
        with serve_in_thread(app) as url, playwright_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            page = browser.new_page()
            page.goto(f"{url}/#/episodes?limit=200")
            link = page.locator(f'a[href="#/episode/{quote(HOSTILE_ID, safe="")}"]').first
            playwright_api.expect(link).to_have_text(HOSTILE_ID[:8])
            assert page.locator("img[src=x]").count() == 0 and page.evaluate("window.__pwned") is None
            link.click()
            playwright_api.expect(page.get_by_test_id("episode-id")).to_have_text(HOSTILE_ID)
            browser.close()
    finally:
        app.state.run.close()


def test_the_view_names_the_checkpoint_that_produced_the_episode(run_dir):
    with EpisodeStore(run_dir) as store:
        ep = store.query(limit=1)[0]
        train = ep.model_copy(update={"episode_id": "train-at-7", "step": 7, "run_id": "r1"})
        evald = ep.model_copy(update={"episode_id": "eval-at-7", "step": 7, "run_id": "r1", "tag": "eval"})
        store.write([train, evald])
    app = create_app(run_dir)
    with TestClient(app) as client:
        assert client.get("/api/episodes/train-at-7").json()["policy"] == "checkpoints/step_000006"  # rolled out before update 7
        body = client.get("/api/episodes/eval-at-7").json()
        assert body["policy"] == "checkpoints/step_000007" and body["policy_kept"] is False
    app.state.run.close()
