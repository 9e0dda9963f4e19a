"""The shop: one engine (search, pages, reward) and the per-session state machine upstream runs.

:class:`Shop` owns a catalog (:class:`~turngym.envs.webshop.data.ShopData`), renders pages and scores
purchases; the env, the web site and the HTTP agent API all go through it. :class:`ShopSession` is
upstream's ``SimServer.receive`` + ``WebAgentTextEnv.step`` as a state machine:

- ``search[q]`` (any page, ``q`` non-empty, lower-cased, split on spaces) → results page 1;
- ``click[x]`` with ``x`` a clickable of the current page other than ``search``: ``buy now`` ends
  the episode with the reward; ``back to search`` → the search page (options, opened products and
  query forgotten); ``next >`` / ``< prev`` page the results; ``< prev`` on an item → its results
  page, on a sub-page → its item; ``description``/``features``/``reviews`` (``attributes`` with
  ``show_attrs``) → the sub-page; a product id → its item page; an option value → selects it;
- anything else is invalid and changes nothing (upstream: reward 0, same page).

Differences from upstream, all for robustness: the page kind is tracked instead of parsed from the
URL (a query containing ``item_page`` cannot confuse it), ``<r>``/``<a>``/``<c>``/``<q>`` debug
queries are ordinary text (upstream's ``<r>`` draws from the global RNG), and actions are parsed in
linear time (the same result as upstream's ``re.match(r'(.+)\\[(.+)\\]')``, whose backtracking is
quadratic on inputs such as ``click[[[[...``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from turngym.envs.webshop.data import ShopData
from turngym.envs.webshop.pages import ParsedPage, SiteUrls, parse_page, render, rich_text, simple_text
from turngym.envs.webshop.reward import get_reward

PRODUCT_WINDOW = 10
END_BUTTON, NEXT_PAGE, PREV_PAGE, BACK_TO_SEARCH = "Buy Now", "Next >", "< Prev", "Back to Search"
SUB_PAGES = ("Description", "Features", "Reviews")
ATTRIBUTES_PAGE = "Attributes"
DEFAULT_BASE_URL = "http://127.0.0.1:3000"
_DONE_DETAILS = ("reward_info", "goal_attrs", "purchased_attrs", "goal", "mturk_code", "query", "category", "product_category", "next_url")


def parse_action(action: str) -> tuple[str, str | None]:
    """``re.match(r'(.+)\\[(.+)\\]', action).groups()`` or ``(action, None)``, in linear time.

    ``.`` stops at a newline, so only the first line can match; group 1 is greedy, so it ends at
    the last ``[`` that still leaves a non-empty group 2 before the line's last ``]``.
    """
    line = action.split("\n", 1)[0]
    close = line.rfind("]")
    if close < 3:
        return action, None
    open_ = line.rfind("[", 1, close - 1)
    if open_ < 1:
        return action, None
    return line[:open_], line[open_ + 1 : close]


class Shop:
    """Search, pages and reward over one catalog; shared by every session of a process."""

    def __init__(self, data: ShopData, *, show_attrs: bool = False, base_url: str = DEFAULT_BASE_URL, site_root: str = "") -> None:
        self.data = data
        self.show_attrs = show_attrs
        self.base_url = base_url
        self.site_root = site_root

    @property
    def sub_pages(self) -> tuple[str, ...]:
        return SUB_PAGES + ((ATTRIBUTES_PAGE,) if self.show_attrs else ())

    def search(self, keywords: list[str]) -> list[dict[str, Any]]:
        asins = self.data.search_engine.search(keywords)
        return [self.data.product_item_dict[a] for a in asins if a in self.data.product_item_dict]

    def product(self, asin: str) -> dict[str, Any]:
        return self.data.product_item_dict[asin]

    def score(self, goal: dict[str, Any], asin: str, options: dict[str, str]) -> tuple[float, dict[str, Any]]:
        price = self.data.product_prices.get(asin)
        return get_reward(self.product(asin), goal, price=price, options=options, verbose=True)

    # -- page rendering (state → HTML) -------------------------------------------------------------
    def render_index(self, session_id: str, instruction: str) -> str:
        return render("search_page.html", urls=SiteUrls(session_id, self.site_root), instruction_text=instruction)

    def render_results(self, session_id: str, instruction: str, keywords: list[str], page: int, hits: list[dict[str, Any]]) -> str:
        products = hits[(page - 1) * PRODUCT_WINDOW : page * PRODUCT_WINDOW]
        return render(
            "results_page.html", urls=SiteUrls(session_id, self.site_root), instruction_text=instruction,
            keywords=keywords, page=page, total=len(hits), products=products,
        )

    def render_item(self, session_id: str, instruction: str, keywords: list[str], page: int, asin: str, options: dict[str, str]) -> str:
        product = self.product(asin)
        image = product.get("MainImage")
        for value in options.values():  # upstream's page script shows the selected option's image
            image = product.get("option_to_image", {}).get(value) or image
        return render(
            "item_page.html", urls=SiteUrls(session_id, self.site_root), instruction_text=instruction, keywords=keywords,
            page=page, asin=asin, options=options, product_info=product, product_image=image, sub_pages=self.sub_pages,
        )

    def render_sub(self, session_id: str, instruction: str, keywords: list[str], page: int, asin: str, options: dict[str, str], sub_page: str) -> str:
        return render(
            "sub_page.html", urls=SiteUrls(session_id, self.site_root), instruction_text=instruction, keywords=keywords,
            page=page, asin=asin, options=options, product_info=self.product(asin), sub_page=sub_page,
        )

    def render_done(self, session_id: str, asin: str, options: dict[str, str], reward: float, **details: Any) -> str:
        """Upstream's text env passes only the reward and the purchase (every other field renders as
        ``None``, as Flask's template does for ``kwargs.get``); the site passes the goal too."""
        context = {k: None for k in _DONE_DETAILS}
        context.update(details)
        return render("done_page.html", urls=SiteUrls(session_id, self.site_root), asin=asin, options=options, reward=reward, **context)


@dataclass
class ShopSession:
    """One shopper working on one goal; ``step`` applies an action, ``observation(mode)`` shows it."""

    shop: Shop
    goal: dict[str, Any]
    session_id: str
    kind: str = "index"  # index | search_results | item_page | item_sub_page | done
    keywords: list[str] = field(default_factory=list)
    page: int = 1
    asin: str | None = None
    options: dict[str, str] = field(default_factory=dict)
    asins: set[str] = field(default_factory=set)
    sub_page: str | None = None
    hits: list[dict[str, Any]] = field(default_factory=list)
    reward: float = 0.0
    reward_info: dict[str, Any] | None = None
    html: str = ""
    url: str = ""
    parsed: ParsedPage = field(default_factory=ParsedPage)

    def __post_init__(self) -> None:
        self._start()

    @property
    def instruction(self) -> str:
        return self.goal["instruction_text"]

    @property
    def done(self) -> bool:
        return self.kind == "done"

    # -- transitions --------------------------------------------------------------------------------
    def _start(self) -> None:
        self.kind, self.keywords, self.page, self.asin, self.options, self.asins, self.sub_page = "index", [], 1, None, {}, set(), None
        self._show(self.shop.render_index(self.session_id, self.instruction), f"{self.shop.base_url}/{self.session_id}")

    def _results(self, keywords: list[str], page: int) -> None:
        if keywords != self.keywords or not self.hits or self.kind == "index":
            self.hits = self.shop.search(keywords)
        self.kind, self.keywords, self.page, self.asin, self.options, self.sub_page = "search_results", keywords, page, None, {}, None
        html = self.shop.render_results(self.session_id, self.instruction, keywords, page, self.hits)
        self._show(html, f"{self.shop.base_url}/search_results/{self.session_id}/{'+'.join(keywords)}/{page}")

    def _item(self) -> None:
        assert self.asin is not None
        self.kind, self.sub_page = "item_page", None
        html = self.shop.render_item(self.session_id, self.instruction, self.keywords, self.page, self.asin, self.options)
        kw = "+".join(self.keywords)
        self._show(html, f"{self.shop.base_url}/item_page/{self.session_id}/{self.asin}/{kw}/{self.page}/{json.dumps(self.options)}")

    def _sub(self, name: str) -> None:
        assert self.asin is not None
        self.kind, self.sub_page = "item_sub_page", name
        html = self.shop.render_sub(self.session_id, self.instruction, self.keywords, self.page, self.asin, self.options, name)
        kw = "+".join(self.keywords)
        self._show(html, f"{self.shop.base_url}/item_sub_page/{self.session_id}/{self.asin}/{kw}/{self.page}/{name}/{self.options}")

    def _buy(self) -> float:
        assert self.asin is not None
        self.reward, self.reward_info = self.shop.score(self.goal, self.asin, self.options)
        self.kind = "done"
        html = self.shop.render_done(self.session_id, self.asin, self.options, self.reward, instruction_text=self.instruction)
        self._show(html, f"{self.shop.base_url}/done/{self.session_id}/{self.asin}/{self.options}")
        return self.reward

    def _show(self, html: str, url: str) -> None:
        self.html, self.url = html, url
        self.parsed = parse_page(html)

    # -- the action interface -----------------------------------------------------------------------
    @property
    def clickables(self) -> list[str]:
        return list(self.parsed.clickables)

    def available_actions(self) -> dict[str, Any]:
        """Upstream's ``get_available_actions()``: ``{"has_search_bar", "clickables"}``."""
        return {"has_search_bar": self.parsed.has_search_bar, "clickables": self.clickables}

    def admissible_actions(self) -> list[str]:
        return [f"click[{c}]" for c in self.parsed.clickables if c != "search"]

    def check(self, action: str) -> tuple[str, str] | None:
        """``(verb, argument)`` if the action would do something here, else None (invalid)."""
        if self.done:
            return None
        name, arg = parse_action(action)
        if arg is None:
            return None
        arg = arg.lower()
        if name == "search" and arg != "":
            return name, arg
        if name == "click" and arg in self.parsed.clickables and arg != "search":
            return name, arg
        return None

    def step(self, action: str) -> tuple[float, bool, bool]:
        """Apply ``action``; returns ``(reward, done, valid)``. Invalid actions change nothing."""
        parsed = self.check(action)
        if parsed is None:
            return 0.0, self.done, False
        verb, arg = parsed
        if verb == "search":
            self._results(arg.split(" "), 1)
            return 0.0, False, True
        if arg == END_BUTTON.lower():
            return self._buy(), True, True
        if arg == BACK_TO_SEARCH.lower():
            self._start()
        elif arg == NEXT_PAGE.lower() and self.kind == "search_results":
            self._results(self.keywords, self.page + 1)
        elif arg == PREV_PAGE.lower() and self.kind == "search_results":
            self._results(self.keywords, self.page - 1)
        elif arg == PREV_PAGE.lower() and self.kind == "item_sub_page":
            self._item()
        elif arg == PREV_PAGE.lower() and self.kind == "item_page":
            self._results(self.keywords, self.page)
        elif arg in {p.lower(): p for p in self.shop.sub_pages}:
            self._sub({p.lower(): p for p in self.shop.sub_pages}[arg])
        else:
            clickable = self.parsed.clickables[arg]
            if clickable.kind == "product":
                self.asin = arg.upper()
                self.asins.add(self.asin)
            elif clickable.kind == "option" and clickable.option_name is not None:
                self.options[clickable.option_name.lower()] = arg
            if self.asin is None:  # a button with no page of its own: nothing to show
                return 0.0, False, False
            self._item()
        return 0.0, False, True

    def observation(self, mode: str = "text") -> str:
        if mode == "text":
            return simple_text(self.parsed)
        if mode == "text_rich":
            return rich_text(self.parsed, self.url, self.asins)
        if mode == "html":
            return self.html
        if mode == "url":
            return self.url
        raise ValueError(f"observation mode {mode!r} not supported; choose text, text_rich, html or url")
