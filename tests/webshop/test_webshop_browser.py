"""A person's path through the shop in headless Chromium: search, open the item, pick the options, buy.

Needs Debian's chromium and the Python ``playwright`` package (scripts/install_browser_tests.sh);
``playwright install`` is never used. Screenshots go to ``artifacts/webshop/`` (gitignored).
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "webshop"

playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (browser extra)")
if not CHROMIUM.exists():
    pytest.skip("Debian chromium missing: bash scripts/install_browser_tests.sh", allow_module_level=True)


@pytest.fixture
def site(data):
    from asgi_in_thread import serve_in_thread

    from turngym.envs.webshop.server import create_app

    with serve_in_thread(create_app(data, split="test")) as url:
        yield url


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_search_open_choose_options_and_buy(site, data) -> None:
    expect = playwright_api.expect
    goal = data.goals[0]
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(site + "/")
        expect(page.locator("#instruction-text")).to_contain_text(goal["instruction_text"])
        shot(page, "01_search")
        page.fill("#search_input", goal["instruction_text"])
        page.click("button:has-text('Search')")
        expect(page.locator("h3")).to_contain_text("Total results:")
        shot(page, "02_results")
        for _ in range(5):
            if page.locator(f".product-link:text-is('{goal['asin']}')").count():
                break
            page.click("button:has-text('Next >')")
        page.click(f".product-link:text-is('{goal['asin']}')")
        expect(page.locator("h2")).to_have_text(data.product_item_dict[goal["asin"]]["Title"])
        for name, value in goal["goal_options"].items():
            page.locator(f"input[name='{name}'][value='{value}'] + label").click()
            expect(page.locator(f"input[name='{name}'][value='{value}']")).to_be_checked()
        shot(page, "03_item_with_options")
        page.click("button:has-text('Features')")
        expect(page.locator(".product-info").first).to_be_visible()
        page.click("button:has-text('< Prev')")
        for name, value in goal["goal_options"].items():  # the options survive the detour
            expect(page.locator(f"input[name='{name}'][value='{value}']")).to_be_checked()
        page.click("button:has-text('Buy Now')")
        expect(page.locator("#reward pre")).to_have_text("1.0")
        shot(page, "04_done")
        browser.close()
    assert not errors, errors
