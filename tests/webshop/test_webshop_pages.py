"""Pages render upstream's exact observation formats; text modes agree with upstream's BeautifulSoup
conversion (re-implemented here from its description) on every page kind."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from turngym.envs.webshop.engine import ShopSession, parse_action

bs4 = pytest.importorskip("bs4", reason="beautifulsoup4 (webshop extra) compares the text modes with upstream's")


def upstream_views(html: str, url: str, opened: set[str]) -> tuple[str, str, dict]:
    """What upstream's WebAgentTextEnv computes from a page: simple text, rich text, available actions."""
    soup = bs4.BeautifulSoup(html, "html.parser")
    ignore = {"style", "script", "head", "title", "meta", "[document]"}
    visible = [t for t in soup.find_all(string=True) if t.parent.name not in ignore and not isinstance(t, bs4.element.Comment)]
    simple = " [SEP] ".join(t.strip() for t in visible if t != "\n")
    rich = ""
    for t in visible:
        if t == "\n":
            continue
        if t.parent.name == "button":
            p = f"[button] {t} [button_]"
        elif t.parent.name == "label":
            if f'"{t}"' in url:
                p = f"  [clicked button] {t} [clicked button_]"
                rich = f"You have clicked {t}.\n" + rich
            else:
                p = f"  [button] {t} [button_]"
        elif t.parent.get("class") == ["product-link"]:
            p = f"\n[clicked button] {t} [clicked button_]" if f"{t}" in opened else f"\n[button] {t} [button_]"
        else:
            p = str(t)
        rich += p + "\n"
    clickables = {b.get_text().lower(): b for b in soup.find_all(class_="btn") + soup.find_all(class_="product-link")}
    for opt in soup.select('input[type="radio"]'):
        clickables[f"{opt.get('value')}"] = opt
    return simple, rich, {"has_search_bar": soup.find(id="search_input") is not None, "clickables": list(clickables)}


def walk(shop, goal_index: int, actions: list[str]) -> list[ShopSession]:
    session = ShopSession(shop, shop.data.goals[goal_index], session_id=str(goal_index))
    states = []
    for action in ["", *actions]:
        if action:
            session.step(action)
        states.append((session.observation("text"), session.observation("text_rich"), session.available_actions(), session.html, session.url, set(session.asins)))
    return states


def test_search_page_text_is_upstreams(shop) -> None:
    goal = shop.data.goals[0]
    session = ShopSession(shop, goal, session_id="0")
    assert session.observation("text") == f"WebShop [SEP] Instruction: [SEP] {goal['instruction_text']} [SEP] Search"
    assert session.observation("text_rich") == f"WebShop\nInstruction: \n{goal['instruction_text']}\n[button] Search [button_]\n"
    assert session.observation("url") == "http://127.0.0.1:3000/0"
    assert session.available_actions() == {"has_search_bar": True, "clickables": ["search"]}


def test_results_item_and_sub_pages_have_upstreams_layout(shop) -> None:
    goal = shop.data.goals[1]
    session = ShopSession(shop, goal, session_id="1")
    session.step(f"search[{goal['instruction_text']}]")
    text = session.observation("text")
    head = f"Instruction: [SEP] {goal['instruction_text']} [SEP] Back to Search [SEP] Page 1 (Total results: {len(session.hits)}) [SEP] Next > [SEP] "
    assert text.startswith(head)
    first = session.hits[0]
    assert text[len(head):].startswith(f"{first['asin']} [SEP] {first['Title']} [SEP] {first['Price']}")
    assert session.url.startswith("http://127.0.0.1:3000/search_results/1/") and session.url.endswith("/1")
    session.step("click[next >]")
    assert " [SEP] Page 2 (Total results: " in session.observation("text") and "< Prev [SEP] Next >" in session.observation("text")
    session.step("click[< prev]")
    product = session.hits[0]
    session.step(f"click[{product['asin'].lower()}]")
    text = session.observation("text")
    opts = "".join(f" [SEP] {name} [SEP] " + " [SEP] ".join(values) for name, values in product["options"].items())
    assert text == (
        f"Instruction: [SEP] {goal['instruction_text']} [SEP] Back to Search [SEP] < Prev{opts} [SEP] {product['Title']}"
        f" [SEP] Price: {product['Price']} [SEP] Rating: {product['Rating']} [SEP] Description [SEP] Features [SEP] Reviews [SEP] Buy Now"
    )
    assert session.clickables[:6] == ["back to search", "< prev", "description", "features", "reviews", "buy now"]
    session.step("click[features]")
    assert session.observation("text") == (
        f"Instruction: [SEP] {goal['instruction_text']} [SEP] Back to Search [SEP] < Prev [SEP] " + " [SEP] ".join(product["BulletPoints"])
    )
    assert "/item_sub_page/1/" in session.url and "/Features/" in session.url


def test_rich_text_marks_clicked_options_and_opened_products(shop) -> None:
    goal = next(g for g in shop.data.goals if g["goal_options"])
    session = ShopSession(shop, goal, session_id="x")
    session.step(f"search[{goal['instruction_text']}]")
    asin = goal["asin"] if goal["asin"] in [p["asin"] for p in session.hits[:10]] else session.hits[0]["asin"]
    session.step(f"click[{asin.lower()}]")
    value = next(iter(session.shop.product(asin)["options"].values()))[0]
    session.step(f"click[{value}]")
    rich = session.observation("text_rich")
    assert rich.startswith(f"You have clicked {value}.\n")
    assert f"  [clicked button] {value} [clicked button_]" in rich
    session.step("click[< prev]")
    assert f"\n[clicked button] {asin} [clicked button_]" in session.observation("text_rich")


@pytest.mark.parametrize("goal_index", [0, 7, 42])
def test_text_modes_and_clickables_equal_upstreams_beautifulsoup_conversion(shop, goal_index: int) -> None:
    goal = shop.data.goals[goal_index]
    asin = goal["asin"].lower()
    values = [v for v in (goal["goal_options"].values() if isinstance(goal["goal_options"], dict) else goal["goal_options"])]
    actions = [f"search[{goal['instruction_text']}]", "click[next >]", "click[< prev]", f"search[{shop.product(goal['asin'])['Title']}]", f"click[{asin}]"]
    actions += [f"click[{v}]" for v in values] + ["click[description]", "click[< prev]", "click[features]", "click[< prev]", "click[reviews]", "click[< prev]", "click[buy now]"]
    for text, rich, available, html, url, opened in walk(shop, goal_index, actions):
        up_text, up_rich, up_available = upstream_views(html, url, opened)
        assert text == up_text
        assert rich == up_rich
        assert available == up_available


def test_awkward_product_text_converts_like_beautifulsoup(data) -> None:
    """Whitespace-only descriptions, entities, newlines, quotes and brackets inside the data."""
    from turngym.envs.webshop.data import ShopData
    from turngym.envs.webshop.engine import Shop

    base = data.products[0]
    odd = dict(base, asin="B0ODD00001", Title="  <b>Tom & Jerry's</b> \"Best\"\n[2-pack]  ", Description="   ",
               BulletPoints=["", " x ", "a\tb", "&amp; literal"], Reviews=[{"title": "", "score": "4.0", "body": "ok <3"}], Rating=4.5,
               options={"size": ["x | y", "'quoted'", "<z>"]})
    goal = dict(data.goals[0], asin="B0ODD00001", instruction_text="find <odd> & \"things\"")
    tiny = ShopData(source="odd", products=[odd], product_prices={"B0ODD00001": 5.0}, goals=[goal], human_goals=False)
    shop = Shop(tiny, show_attrs=True)
    steps = ["search[tom jerry]", "click[b0odd00001]", "click['quoted']", "click[<z>]", "click[description]", "click[< prev]",
             "click[features]", "click[< prev]", "click[reviews]", "click[< prev]", "click[attributes]", "click[< prev]", "click[buy now]"]
    states = walk(shop, 0, steps)
    assert len({s[0] for s in states}) >= 7  # the steps went somewhere (each sub-page, options, done)
    for text, rich, available, html, url, opened in states:
        assert (text, rich, available) == upstream_views(html, url, opened)


_UPSTREAM = re.compile(r"(.+)\[(.+)\]")


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="ab[]\n ", max_size=14))
def test_parse_action_equals_upstreams_regex(action: str) -> None:
    m = _UPSTREAM.match(action)
    assert parse_action(action) == (m.groups() if m else (action, None))


def test_parse_action_is_linear_on_bracket_floods() -> None:
    import time

    t = time.perf_counter()
    assert parse_action("click[" + "[" * 200_000) == ("click[" + "[" * 200_000, None)
    assert parse_action("search[" + "[" * 200_000 + "x]")[1] == "x"
    assert time.perf_counter() - t < 5  # the regex takes minutes here; a generous bound, not a benchmark
