"""End to end in headless Chromium: the person's path through the viewer, with screenshots.

Needs Debian's chromium and the Python ``playwright`` package (scripts/install_browser_tests.sh);
``playwright install`` is never used (it downloads a browser). Screenshots go to
``artifacts/replay/`` (gitignored) for a person to look at.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "replay"

playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="pip install playwright (browser extra)"
)
if not CHROMIUM.exists():
    pytest.skip(
        "Debian chromium missing: bash scripts/install_browser_tests.sh",
        allow_module_level=True,
    )


@pytest.fixture
def server(run_dir):
    from asgi_in_thread import serve_in_thread

    from turngym.replay import create_app

    app = create_app(run_dir)
    with serve_in_thread(app) as url:
        yield url, app
    app.state.run.close()


@pytest.fixture
def page():
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        ctx = browser.new_context(viewport={"width": 1400, "height": 900})
        pg = ctx.new_page()
        errors: list[str] = []
        pg.on("pageerror", lambda exc: errors.append(str(exc)))
        yield pg
        browser.close()
        assert not errors, f"JavaScript errors on the page: {errors}"


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_debugging_a_failed_episode(server, page):
    from turngym.store import EpisodeStore

    base, app = server
    expect = playwright_api.expect
    page.goto(base + "/")
    expect(page.locator("#episodes tbody tr")).to_have_count(26)
    shot(page, "01_episode_list")

    # filter failed episodes (the URL carries the filter: shareable)
    page.select_option("select[name=won]", "false")
    page.click("#apply-filters")
    expect(page).to_have_url(
        f"{base}/#/episodes?won=false&order_by=created_at&descending=true"
    )
    total_failed = app.state.run.store.count(won=False)
    expect(page.get_by_test_id("total")).to_have_text(f"{total_failed} matching")
    rows = page.locator("#episodes tbody tr")
    expect(rows).to_have_count(total_failed)
    assert rows.locator(".badge.won").count() == 0
    shot(page, "02_failed_filter")
    # the same URL opened fresh shows the same filtered list
    page.goto(page.url)
    page.reload()
    expect(page.get_by_test_id("total")).to_have_text(f"{total_failed} matching")

    # open one failed episode
    episode_id = rows.first.get_attribute("data-episode")
    rows.first.locator("a").first.click()
    expect(page.get_by_test_id("episode-id")).to_have_text(episode_id)
    tokens = page.locator(".tok")
    assert tokens.count() > 10
    page.select_option("#colour-mode", "advantage")
    colours = {
        tokens.nth(i).evaluate("e => getComputedStyle(e).backgroundColor")
        for i in range(min(30, tokens.count()))
    }
    assert len(colours) > 3, f"tokens should be coloured by advantage, got {colours}"
    assert (
        "go" in page.locator(".tokens").first.inner_text()
    )  # decoded token strings, not ids
    shot(page, "03_episode")
    page.select_option("#colour-mode", "diff")
    shot(page, "04_episode_logprob_diff")

    # its group, side by side
    page.click("#group-link")
    expect(page.get_by_test_id("group-column")).to_have_count(4)
    assert page.locator("#anchor-groups tbody tr").count() >= 1
    assert page.locator("#group-grid .anchor-chip").count() >= 2
    shot(page, "05_group")

    # back to the episode: replay it
    page.go_back()
    expect(page.get_by_test_id("episode-id")).to_have_text(episode_id)
    page.click("#replay-btn")
    expect(page.get_by_test_id("replay-result")).to_contain_text(
        "match: all", timeout=20_000
    )
    shot(page, "06_replay_match")

    # branch at turn 2 with a typed action
    before = app.state.run.store.get(episode_id).to_json()
    page.fill("#branch-turn", "2")
    page.fill("#branch-action", "look")
    page.click("#branch-btn")
    link = page.locator("#new-branch-link")
    expect(link).to_be_visible(timeout=20_000)
    new_id = link.inner_text()
    shot(page, "07_branch_created")
    assert (
        app.state.run.store.get(episode_id).to_json() == before
    )  # the parent is untouched
    with EpisodeStore(
        app.state.run.store.path, readonly=True
    ) as other:  # visible to another reader
        child = other.get(new_id)
    assert (child.parent_id, child.branch_turn, child.turns[2].action) == (
        episode_id,
        2,
        "look",
    )

    # the new episode appears in the list (newest first)
    page.goto(base + "/#/episodes")
    expect(page.locator("#episodes tbody tr").first).to_have_attribute(
        "data-episode", new_id
    )
    expect(
        page.locator("#episodes tbody tr").first.locator(".badge.branch")
    ).to_be_visible()
    shot(page, "08_list_with_branch")
    link_row = page.locator(f'tr[data-episode="{new_id}"] a').first
    link_row.click()
    expect(page.get_by_test_id("episode-id")).to_have_text(new_id)
    expect(page.locator(".turn")).to_have_count(3)
    shot(page, "09_branch_episode")


def test_bad_input_is_shown_not_crashing(server, page):
    base, app = server
    expect = playwright_api.expect
    page.goto(base + "/#/episode/does-not-exist")
    expect(page.get_by_test_id("error")).to_contain_text("404")
    eid = app.state.run.store.summaries(limit=1)[0].episode_id
    page.goto(base + f"/#/episode/{eid}")
    page.fill("#branch-turn", "99")
    page.fill("#branch-action", "look")
    page.click("#branch-btn")
    expect(page.get_by_test_id("branch-error")).to_contain_text("out of range")


def test_run_plots(server, page):
    base, _ = server
    page.goto(base + "/#/plots")
    expect = playwright_api.expect
    # headline panels first (the fixture's bare metric names), then the rest
    expect(page.locator("#plots > .plot")).to_have_count(4)
    for panel in ("success (train / eval)", "reward (train / eval)", "invalid rate (train / eval)", "KL"):
        assert page.locator(f'.plot[data-metric="{panel}"] path.line').count() == 1
    for metric in ("turns_mean", "clip_frac", "loss"):
        assert page.locator(f'.plot[data-metric="{metric}"] path.line').count() == 1
    shot(page, "10_plots")


def test_exported_page_works_offline(run_dir, page, tmp_path):
    from turngym.replay.render import export_html
    from turngym.replay.run import RunDir

    run = RunDir(run_dir, readonly=True)
    eid = run.store.summaries(won=False, limit=1)[0].episode_id
    out = export_html(run, eid, tmp_path / "episode.html")
    run.close()
    page.route(
        "**/*",
        lambda route: (
            route.abort()
            if not route.request.url.startswith("file:")
            else route.continue_()
        ),
    )
    page.goto(out.as_uri())
    expect = playwright_api.expect
    expect(page.get_by_test_id("episode-id")).to_have_text(eid)
    assert page.locator(".tok").count() > 10
    page.click("#group-link")
    expect(page.get_by_test_id("group-column")).to_have_count(4)
    shot(page, "11_export_group")
