"""The WebShop web site: upstream's routes and pages over the same engine as the env.

People shop in a browser: ``/`` → a session's search page (``/fixed_<i>`` is goal ``i``, as
upstream; any other name gets a goal picked from it deterministically), results, item pages with
options, sub-pages, and ``/done`` with the score. The page state lives in the URL, as upstream's
Flask app keeps it, and every page is rendered by the same templates the env observes.

Agents act over HTTP through ``/api``: ``POST /api/sessions`` starts an env-identical session
(``{"goal_index", "split", "observation_mode"}``) and ``POST /api/sessions/{id}/step`` takes
``{"action": "search[...]"}`` and returns what ``WebShop-v0`` returns (observation, reward, done,
valid, available actions). Bad input gets a 4xx with a reason, never a 500: unknown products and
sub-pages are 404, malformed keywords/options/pages 400/422, over-long input 413/414.
"""

# no `from __future__ import annotations`: FastAPI reads the route annotations, which name classes local to create_app

import ast
import collections
import hashlib
import html
import json
import threading
from typing import Any

from turngym.envs.webshop.data import ShopData
from turngym.envs.webshop.engine import Shop, ShopSession
from turngym.envs.webshop.goals import SPLITS
from turngym.envs.webshop.pages import OBSERVATION_MODES, SiteUrls, stylesheet
from turngym.envs.base import check_choice

MAX_SEGMENT = 8192  # characters in one decoded URL segment (keywords, options)
MAX_ACTION = 100_000  # characters in one API action
MAX_API_SESSIONS = 10_000  # the oldest API session is dropped beyond this


def _require_fastapi() -> Any:
    try:
        import fastapi
    except ImportError as exc:
        raise ImportError("the WebShop site needs fastapi and uvicorn: pip install 'turngym[webshop]'") from exc
    return fastapi


def mturk_code(session_id: str) -> str:
    return hashlib.sha1(session_id.encode()).hexdigest()[:10].upper()


def _segment(value: str, what: str) -> str:
    from fastapi import HTTPException

    text = value  # the server has URL-decoded path segments already
    if len(text) > MAX_SEGMENT:
        raise HTTPException(414, f"{what} is longer than {MAX_SEGMENT} characters")
    return text


def parse_keywords(value: str) -> list[str]:
    """Our links join keywords with spaces; upstream's carry a Python list literal. Both accepted."""
    from fastapi import HTTPException

    text = _segment(value, "keywords")
    if text.startswith("["):
        try:
            parsed = ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            raise HTTPException(400, "keywords: not a list literal") from None
        if not isinstance(parsed, list) or not all(isinstance(k, str) for k in parsed):
            raise HTTPException(400, "keywords: expected a list of strings")
        return parsed
    return text.split(" ")


def parse_options(value: str) -> dict[str, str]:
    """Options as JSON (our links) or a Python dict literal (upstream's links)."""
    from fastapi import HTTPException

    text = _segment(value, "options")
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError:
        try:
            parsed = ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            raise HTTPException(400, "options: not a JSON object") from None
    if not isinstance(parsed, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in parsed.items()):
        raise HTTPException(400, "options: expected an object of option name -> value strings")
    return parsed


def placeholder_svg(asin: str, label: str) -> str:
    hue = int(hashlib.sha256(asin.encode()).hexdigest()[:4], 16) % 360
    text = html.escape(label[:28])
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="240" height="240" viewBox="0 0 240 240">'
        f'<rect width="240" height="240" rx="16" fill="hsl({hue},55%,82%)"/>'
        f'<text x="120" y="126" font-family="sans-serif" font-size="16" text-anchor="middle" fill="#333">{text}</text></svg>'
    )


class ShopSite:
    """State of one running site: the shop, which goal each session works on, the API sessions."""

    def __init__(self, data: ShopData, *, split: str = "test", show_attrs: bool = False) -> None:
        check_choice("split", split, SPLITS)
        self.data = data
        self.split = split
        self.shop = Shop(data, show_attrs=show_attrs)
        self.goal_of: dict[str, int] = {}
        self.api: collections.OrderedDict[str, tuple[ShopSession, str]] = collections.OrderedDict()
        self.lock = threading.Lock()
        self._counter = 0

    def goal_index(self, session_id: str) -> int:
        if session_id not in self.goal_of:
            indices = self.data.split_indices(self.split) or range(len(self.data.goals))
            if session_id.startswith("fixed_") and session_id[6:].isdigit() and int(session_id[6:]) < len(self.data.goals):
                index = int(session_id[6:])
            else:
                digest = int(hashlib.sha256(session_id.encode()).hexdigest()[:12], 16)
                index = indices[digest % len(indices)]
            self.goal_of[session_id] = index
        return self.goal_of[session_id]

    def goal(self, session_id: str) -> dict[str, Any]:
        return self.data.goals[self.goal_index(session_id)]

    def product(self, asin: str) -> dict[str, Any]:
        from fastapi import HTTPException

        asin = _segment(asin, "asin")
        if asin not in self.data.product_item_dict:
            raise HTTPException(404, f"no product {asin[:40]!r}")
        return self.data.product_item_dict[asin]

    def new_api_session(self, goal_index: int | None, split: str | None) -> tuple[str, ShopSession]:
        from fastapi import HTTPException

        with self.lock:
            self._counter += 1
            counter = self._counter
        if goal_index is None:
            indices = self.data.split_indices(split or self.split)
            if not len(indices):
                raise HTTPException(422, f"split {split or self.split!r} has no goals in this catalog")
            goal_index = indices[(counter - 1) % len(indices)]
        if not 0 <= goal_index < len(self.data.goals):
            raise HTTPException(422, f"goal_index must be in [0, {len(self.data.goals)})")
        session_id = f"api_{counter}_{goal_index}"
        session = ShopSession(self.shop, self.data.goals[goal_index], session_id=str(goal_index))
        with self.lock:
            self.api[session_id] = (session, "")
            while len(self.api) > MAX_API_SESSIONS:
                self.api.popitem(last=False)
        return session_id, session


def create_app(data: ShopData, *, split: str = "test", show_attrs: bool = False) -> Any:
    fastapi = _require_fastapi()
    from fastapi import HTTPException, Request
    from fastapi.responses import HTMLResponse, RedirectResponse, Response
    from pydantic import BaseModel, Field

    site = ShopSite(data, split=split, show_attrs=show_attrs)
    app = fastapi.FastAPI(title="WebShop (turngym)", docs_url="/api/docs", openapi_url="/api/openapi.json")
    app.state.site = site
    shop = site.shop

    class NewSession(BaseModel):
        goal_index: int | None = None
        split: str | None = Field(default=None, pattern="^(test|eval|train|all)$")
        observation_mode: str = Field(default="text", pattern="^(text|text_rich|html|url)$")

    class StepIn(BaseModel):
        action: str = Field(max_length=MAX_ACTION)

    def _api_view(session_id: str, session: ShopSession, mode: str, reward: float = 0.0, valid: bool = True) -> dict[str, Any]:
        out = {
            "session_id": session_id, "observation": session.observation(mode), "reward": reward, "done": session.done,
            "valid": valid, "available_actions": session.available_actions(), "instruction": session.instruction, "url": session.url,
        }
        if session.done:
            out.update(score=100.0 * session.reward, reward_info=session.reward_info)
        return out

    @app.get("/", include_in_schema=False)
    def home() -> Response:
        first = site.data.split_indices(site.split)
        return RedirectResponse(f"/fixed_{first[0] if len(first) else 0}", status_code=303)

    @app.get("/static/style.css", include_in_schema=False)
    def style() -> Response:
        return Response(stylesheet(), media_type="text/css")

    @app.get("/images/{name}", include_in_schema=False)
    def image(name: str) -> Response:
        asin = name.removesuffix(".svg")
        product = site.product(asin)
        return Response(placeholder_svg(asin, product.get("query", "")), media_type="image/svg+xml")

    @app.post("/api/sessions")
    def api_new(body: NewSession) -> dict[str, Any]:
        session_id, session = site.new_api_session(body.goal_index, body.split)
        site.api[session_id] = (session, body.observation_mode)
        return _api_view(session_id, session, body.observation_mode)

    def _api_get(session_id: str) -> tuple[ShopSession, str]:
        try:
            return site.api[session_id]
        except KeyError:
            raise HTTPException(404, f"no API session {session_id[:60]!r} (start one with POST /api/sessions)") from None

    @app.get("/api/sessions/{session_id}")
    def api_get(session_id: str) -> dict[str, Any]:
        session, mode = _api_get(session_id)
        return _api_view(session_id, session, mode)

    @app.post("/api/sessions/{session_id}/step")
    def api_step(session_id: str, body: StepIn) -> dict[str, Any]:
        session, mode = _api_get(session_id)
        if session.done:
            raise HTTPException(409, "this session is finished; start a new one")
        with site.lock:
            reward, _, valid = session.step(body.action.strip())
        return _api_view(session_id, session, mode, reward=reward, valid=valid)

    @app.api_route("/search_results/{session_id}/{keywords}/{page}", methods=["GET", "POST"], response_class=HTMLResponse, include_in_schema=False)
    def search_results(session_id: str, keywords: str, page: int) -> str:
        if page < 1 or page > 10_000:
            raise HTTPException(400, "page must be between 1 and 10000")
        words = parse_keywords(keywords)
        goal = site.goal(session_id)
        return shop.render_results(session_id, goal["instruction_text"], words, page, shop.search(words))

    @app.api_route("/item_page/{session_id}/{asin}/{keywords}/{page}/{options}", methods=["GET", "POST"], response_class=HTMLResponse, include_in_schema=False)
    def item_page(session_id: str, asin: str, keywords: str, page: int, options: str) -> str:
        product = site.product(asin)
        return shop.render_item(session_id, site.goal(session_id)["instruction_text"], parse_keywords(keywords), max(page, 1), product["asin"], parse_options(options))

    @app.api_route("/item_sub_page/{session_id}/{asin}/{keywords}/{page}/{sub_page}/{options}", methods=["GET", "POST"], response_class=HTMLResponse, include_in_schema=False)
    def item_sub_page(session_id: str, asin: str, keywords: str, page: int, sub_page: str, options: str) -> str:
        product = site.product(asin)
        names = {p.lower(): p for p in shop.sub_pages}
        if sub_page.lower() not in names:
            raise HTTPException(404, f"no sub-page {sub_page[:40]!r}; the item has {', '.join(shop.sub_pages)}")
        return shop.render_sub(session_id, site.goal(session_id)["instruction_text"], parse_keywords(keywords), max(page, 1), product["asin"], parse_options(options), names[sub_page.lower()])

    @app.api_route("/done/{session_id}/{asin}/{options}", methods=["GET", "POST"], response_class=HTMLResponse, include_in_schema=False)
    def done(session_id: str, asin: str, options: str) -> str:
        product = site.product(asin)
        chosen = parse_options(options)
        index = site.goal_index(session_id)
        goal = site.data.goals[index]
        reward, info = shop.score(goal, product["asin"], chosen)
        return shop.render_done(
            session_id, product["asin"], chosen, reward, reward_info=info, goal=goal, goal_attrs=goal["attributes"],
            purchased_attrs=product["Attributes"], query=product["query"], category=product["category"],
            product_category=product["product_category"], mturk_code=mturk_code(session_id),
            next_url=f"/fixed_{(index + 1) % len(site.data.goals)}",
        )

    @app.api_route("/{session_id}", methods=["GET", "POST"], response_class=HTMLResponse, include_in_schema=False)
    async def index(session_id: str, request: Request) -> Response:
        if request.method == "POST":
            form = await request.form()
            query = form.get("search_query")
            if isinstance(query, str) and query.strip():
                if len(query) > MAX_SEGMENT:
                    raise HTTPException(413, f"search query is longer than {MAX_SEGMENT} characters")
                words = query.lower().split(" ")
                return RedirectResponse(SiteUrls(session_id).results(words, 1), status_code=303)
        goal = site.goal(session_id)
        return HTMLResponse(shop.render_index(session_id, goal["instruction_text"]))

    return app


def serve(data: ShopData, *, host: str = "127.0.0.1", port: int = 3000, split: str = "test", show_attrs: bool = False) -> None:
    import uvicorn

    uvicorn.run(create_app(data, split=split, show_attrs=show_attrs), host=host, port=port, log_level="info")


__all__ = ["OBSERVATION_MODES", "ShopSite", "create_app", "mturk_code", "parse_keywords", "parse_options", "serve"]
