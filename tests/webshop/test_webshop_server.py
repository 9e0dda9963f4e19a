"""The web site and the HTTP agent API over the same engine; hostile input gets 4xx, never 500."""

from __future__ import annotations

import json
import random
import urllib.parse

import pytest

fastapi = pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from turngym.envs.webshop.env import WebShopEnv  # noqa: E402
from turngym.envs.webshop.pages import parse_page, simple_text  # noqa: E402
from turngym.envs.webshop.server import create_app  # noqa: E402


@pytest.fixture(scope="module")
def client(data):
    with TestClient(create_app(data, split="test"), raise_server_exceptions=False) as c:
        yield c


def follow_form(client, html: str, button: str) -> str:
    """Submit the form whose button reads ``button`` (what a browser does on a click)."""
    import re

    for action, text in re.findall(r'<form method="post" action="([^"]+)">\s*<button[^>]*>([^<]*)</button>', html):
        if text.replace("&lt;", "<").replace("&gt;", ">") == button:
            r = client.post(action.replace("&amp;", "&").replace("&#34;", '"'))
            assert r.status_code == 200, (button, r.status_code, r.text[:200])
            return r.text
    raise AssertionError(f"no {button!r} button")


def test_a_person_can_shop_and_is_scored(client, data) -> None:
    goal = data.goals[0]
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/fixed_0"
    page = client.get("/fixed_0").text
    assert goal["instruction_text"] in page and 'id="search_input"' in page
    r = client.post("/fixed_0", data={"search_query": goal["instruction_text"]}, follow_redirects=True)
    assert r.status_code == 200 and "Total results: " in r.text
    page = r.text
    for _ in range(5):
        if goal["asin"] in page:
            break
        page = follow_form(client, page, "Next >")
    link = next(a for a in __import__("re").findall(r'class="product-link" href="([^"]+)">' + goal["asin"], page))
    page = client.get(link.replace("&amp;", "&").replace("&#34;", '"')).text
    options = dict(goal["goal_options"])
    for name, value in options.items():
        url = __import__("re").search(r'name="' + __import__("re").escape(name) + r'" value="' + __import__("re").escape(value) + r'" data-url="([^"]+)"', page)
        page = client.get(url.group(1).replace("&amp;", "&").replace("&#34;", '"')).text
        assert "checked" in page
    page = follow_form(client, page, "Buy Now")
    assert "Thank you for shopping with us!" in page and "<pre>1.0</pre>" in page


def test_site_pages_equal_the_envs_html(client, data) -> None:
    """One engine: the site's item page is the env's html observation, form actions included."""
    env = WebShopEnv(split="test", observation_mode="html", expert=True)
    obs, info = env.reset(options={"index": 4})
    obs, *_ = env.step(info["expert_action"])
    obs, _, _, _, info = env.step(env.expert_action())
    assert env.session.kind == "item_page"
    s = env.session
    from turngym.envs.webshop.pages import SiteUrls

    # the env's session "4" works on goal 4, which the site calls "fixed_4"
    site = client.get(SiteUrls("fixed_4").item(s.asin, s.keywords, s.page, s.options)).text
    assert site == obs.replace('/4"', '/fixed_4"').replace("/4/", "/fixed_4/")
    assert simple_text(parse_page(site)) == env.session.observation("text")


def test_http_agent_api_matches_the_env(client) -> None:
    env = WebShopEnv(split="test", expert=True)
    _, info = env.reset(options={"index": 7})
    r = client.post("/api/sessions", json={"goal_index": 7})
    assert r.status_code == 200
    body = r.json()
    sid = body["session_id"]
    assert body["observation"] == env.session.observation("text")
    while True:
        action = info["expert_action"]
        obs, reward, terminated, truncated, info = env.step(action)
        step = client.post(f"/api/sessions/{sid}/step", json={"action": action}).json()
        assert step["observation"] == obs and step["reward"] == reward and step["valid"]
        if terminated or truncated:
            break
    assert step["done"] and step["score"] == 100.0
    assert client.post(f"/api/sessions/{sid}/step", json={"action": "click[buy now]"}).status_code == 409
    bad = client.post("/api/sessions", json={}).json()["session_id"]
    step = client.post(f"/api/sessions/{bad}/step", json={"action": "click[nothing]"}).json()
    assert step["valid"] is False and step["reward"] == 0.0


@pytest.mark.parametrize(
    ("method", "path", "body", "codes"),
    [
        ("get", "/item_page/s/NOPE/q/1/%7B%7D", None, {404}),
        ("get", "/item_page/s/{asin}/q/1/notjson", None, {400}),
        ("get", "/item_page/s/{asin}/q/1/%5B1%2C2%5D", None, {400}),
        ("get", "/item_page/s/{asin}/q/abc/%7B%7D", None, {422}),
        ("get", "/item_sub_page/s/{asin}/q/1/Secrets/%7B%7D", None, {404}),
        ("get", "/search_results/s/q/0", None, {400}),
        ("get", "/search_results/s/q/" + "9" * 5000, None, {400, 422}),
        ("get", "/search_results/s/%5B%27a%27%2C/1", None, {400}),
        ("get", "/search_results/s/" + "a" * 9000 + "/1", None, {414}),
        ("get", "/done/s/{asin}/%7B%22size%22%3A%201%7D", None, {400}),
        ("post", "/api/sessions", {"goal_index": 10**9}, {422}),
        ("post", "/api/sessions", {"split": "nope"}, {422}),
        ("post", "/api/sessions/nope/step", {"action": "x"}, {404}),
        ("post", "/api/sessions", "not json", {422}),
        ("get", "/images/NOPE.svg", None, {404}),
        ("get", "/a/b/c/d/e/f/g/h", None, {404}),
    ],
)
def test_bad_requests_are_4xx(client, data, method, path, body, codes) -> None:
    path = path.replace("{asin}", data.products[0]["asin"])
    kwargs = {"json": body} if isinstance(body, dict) else ({"content": body, "headers": {"content-type": "application/json"}} if body else {})
    r = getattr(client, method)(path, **kwargs)
    assert r.status_code in codes, (path, r.status_code, r.text[:200])


def test_fuzz_routes_and_actions_never_500(client, data) -> None:
    rng = random.Random(0)
    asin = data.products[0]["asin"]
    pieces = ["", "x", "%00", "%FF", "{}", "[]", "%5B%5D", "%7B%7D", "null", "-1", "0", "1", "99999", asin, "Description", "'", '"', "..", "%2e%2e",
              "a" * 300, "[" * 50, "{" * 50, "%7B%22a%22%3A%5B%5D%7D", "%5B%27a%27%2C%201%5D", "__import__('os')", "\u2603", "<script>"]
    routes = ["/search_results/{}/{}/{}", "/item_page/{}/{}/{}/{}/{}", "/item_sub_page/{}/{}/{}/{}/{}/{}", "/done/{}/{}/{}", "/{}", "/images/{}"]
    session = client.post("/api/sessions", json={"goal_index": 1}).json()["session_id"]
    for _ in range(300):
        route = rng.choice(routes)
        path = route.format(*(rng.choice(pieces) or "x" for _ in range(route.count("{}"))))
        r = client.request(rng.choice(["GET", "POST"]), path)
        assert r.status_code < 500, (path, r.status_code, r.text[:200])
        action = rng.choice(["search[", "click[", "", "search[]", "click[buy now]", "click[next >]"]) + rng.choice(pieces) + rng.choice(["]", "", "]]"])
        r = client.post(f"/api/sessions/{session}/step", json={"action": action})
        assert r.status_code in (200, 409), (action, r.status_code)
        if r.status_code == 409:
            session = client.post("/api/sessions", json={"goal_index": rng.randrange(500)}).json()["session_id"]
    r = client.post(f"/api/sessions/{session}/step", json={"action": "x" * 200_000})
    assert r.status_code == 422
    r = client.post("/fixed_1", data={"search_query": "q" * 20_000})
    assert r.status_code == 413
