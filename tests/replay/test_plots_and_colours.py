"""Issue 18.6 in Chromium: run plots read at a glance, and the token colour scale is centred and
scaled to the batch (float-noise advantages are not painted full red)."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from test_browser import page, server  # noqa: F401 (the browser and live-app fixtures)
from turngym.store import EpisodeStore

pytestmark = pytest.mark.browser


def _trainer_metrics(run_dir):
    rows = [{"step": 0, "bc/demo_success": 0.83, "init_eval/success": 0.0, "eval/success": 0.5}]
    for step in range(1, 9):
        row = {"step": step, "train/success": step / 10, "train/reward_mean": step / 9, "train/invalid_rate": 0.3 - step / 40,
               "update/approx_kl": -3e-9 * step, "update/entropy": 1.5 - step / 20, "time/step_s": 14900.0 + 6 * step,
               "time/rollout_s": 2.0 + step, "update/grad_norm": 0.1 * step, "adv/mean": 1e-9}
        if step % 4 == 0:
            row["eval/success"] = step / 8
        rows.append(row)
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_headline_panels_numbers_and_readable_axes(server, page, run_dir):  # noqa: F811 (imported fixtures)
    from test_browser import playwright_api

    _trainer_metrics(run_dir)
    base, _ = server
    page.goto(base + "/#/plots")
    expect = playwright_api.expect
    headline = page.locator("#plots > .plot")
    expect(headline.first).to_have_attribute("data-metric", "success (train / eval)")
    titles = headline.evaluate_all("els => els.map(e => e.dataset.metric)")
    assert titles == ["success (train / eval)", "reward (train / eval)", "invalid rate (train / eval)", "KL", "entropy", "step time (s)"]
    success = page.locator('.plot[data-metric="success (train / eval)"]')
    assert success.locator("path.line").count() == 2  # train and eval in one panel
    # a metric logged once is a number, not a chart with a made-up ±0.5 axis
    single = page.locator('.plot[data-metric="bc/demo_success"]')
    expect(single).to_have_class("card plot stat")
    assert single.locator("svg").count() == 0 and "0.83" in single.inner_text()
    # y labels are short, whole and distinct: 14948 is "14.95k", not a clipped "947.500"; -2.4e-8 is "0"
    ticks = page.locator('.plot[data-metric="step time (s)"] text.ytick').evaluate_all("els => els.map(e => e.textContent)")
    assert ticks == ["14.95k", "14.91k"] and all(len(t) <= 7 for t in page.locator("text.ytick").evaluate_all("els => els.map(e => e.textContent)"))
    assert "0" in page.locator('.plot[data-metric="KL"] text.ytick').evaluate_all("els => els.map(e => e.textContent)")
    assert not any(t.startswith("-0") for t in page.locator("text.ytick").evaluate_all("els => els.map(e => e.textContent)"))
    # the rest grouped by prefix
    groups = page.locator("h3.plot-group").evaluate_all("els => els.map(e => e.dataset.group)")
    assert {"update", "time", "adv", "bc"} <= set(groups) and "train" not in groups


def test_float_noise_advantages_are_not_painted_red(server, page, run_dir):  # noqa: F811 (imported fixtures)
    from test_browser import playwright_api

    with EpisodeStore(run_dir) as store:
        ep = store.query(won=False, limit=1)[0]
        noisy = ep.model_copy(deep=True)
        noisy.episode_id, noisy.group_id = "noise-only", "noise-group"
        for t in noisy.turns:
            t.advantage = -2e-8  # what a flat group's normalised advantage looks like in float32
        store.write(noisy)
        strong = ep.model_copy(deep=True)
        strong.episode_id, strong.group_id = "strong", "noise-group"
        for t in strong.turns:
            t.advantage = -2.0
        store.write(strong)
    base, _ = server
    page.goto(base + f"/#/episode/{quote('noise-only')}")
    page.evaluate("localStorage.setItem('turngym.colour', 'advantage')")
    page.reload()
    playwright_api.expect(page.get_by_test_id("episode-id")).to_have_text("noise-only")
    colours = page.locator(".tok").evaluate_all("els => els.map(e => getComputedStyle(e).backgroundColor)")
    assert colours and all(c in ("rgb(255, 255, 255)", "rgba(0, 0, 0, 0)") for c in colours), colours[:3]
    page.goto(base + f"/#/episode/{quote('strong')}")
    playwright_api.expect(page.get_by_test_id("episode-id")).to_have_text("strong")
    colours = page.locator(".tok").evaluate_all("els => els.map(e => getComputedStyle(e).backgroundColor)")
    assert all(c.startswith("rgba(220, 38, 38, 0.8") for c in colours), colours[:3]  # the group's largest: full red
