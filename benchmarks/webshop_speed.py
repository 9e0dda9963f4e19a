"""WebShop speed: catalog build + index time, search latency over a 100k-product generated catalog,
and env step latency, each against a baseline measured in the same run.

- index: bm25s (sparse matrix, what the env uses) vs the preprocessing a brute-force scorer needs
  (per-document term-frequency dicts, as rank_bm25 keeps), both from the same token lists;
- search: ``ProductSearch`` (bm25s, uncached) vs a brute-force scan scoring every document with the
  same Lucene BM25 formula (k1=0.9, b=0.4) in Python; the two top-10s are compared for agreement;
- step: ``WebShop-v0.step`` following the oracle vs upstream's per-step page work on the same pages
  (BeautifulSoup parses the HTML for the available actions and again for the text observation).

Run: ``.venv/bin/python benchmarks/webshop_speed.py [--products 100000] [--queries 200] [--episodes 100]``.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import time
from collections import Counter


def ms(xs: list[float]) -> str:
    xs = sorted(xs)
    return f"median {1000 * statistics.median(xs):8.3f} ms · p90 {1000 * xs[int(0.9 * (len(xs) - 1))]:8.3f} ms"


class BruteForceBM25:
    """Lucene BM25 (bm25s method='lucene') scored document by document: the baseline."""

    def __init__(self, docs: list[list[str]], k1: float = 0.9, b: float = 0.4) -> None:
        self.k1, self.b = k1, b
        self.tfs = [Counter(d) for d in docs]
        self.lens = [len(d) for d in docs]
        self.avgdl = sum(self.lens) / len(docs)
        df: Counter[str] = Counter()
        for tf in self.tfs:
            df.update(tf.keys())
        n = len(docs)
        self.idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}

    def search(self, query: list[str], k: int = 50) -> list[int]:
        scores = []
        for i, tf in enumerate(self.tfs):
            norm = self.k1 * (1 - self.b + self.b * self.lens[i] / self.avgdl)
            s = sum(self.idf[t] * tf[t] / (tf[t] + norm) for t in query if t in tf)
            if s > 0:
                scores.append((-s, i))
        scores.sort()
        return [i for _, i in scores[:k]]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--products", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--baseline-queries", type=int, default=20)
    ap.add_argument("--episodes", type=int, default=100)
    args = ap.parse_args()

    import bm25s
    import numpy as np

    from turngym.envs.webshop.catalog import generate_catalog
    from turngym.envs.webshop.data import generated_data
    from turngym.envs.webshop.search import ProductSearch, product_document

    print(f"== catalog of {args.products:,} generated products")
    t = time.perf_counter()
    cat = generate_catalog(args.products, seed=0)
    t_gen = time.perf_counter() - t
    t = time.perf_counter()
    data = generated_data(args.products, 0)
    t_build = time.perf_counter() - t
    print(f"generate raw records     {t_gen:7.1f} s")
    print(f"generate + process + goals (upstream load_products, {len(data.goals):,} goals) {t_build:7.1f} s")
    del cat

    t = time.perf_counter()
    engine = ProductSearch(data.products)
    t_index = time.perf_counter() - t
    docs_text = [product_document(p) for p in data.products]
    t = time.perf_counter()
    tokens = bm25s.tokenize(docs_text, stopwords="en", stemmer=engine._stemmer, return_ids=False, show_progress=False)
    t_tok = time.perf_counter() - t
    t = time.perf_counter()
    brute = BruteForceBM25(tokens)
    t_brute = time.perf_counter() - t
    print(f"bm25s index (tokenize + index)  {t_index:7.1f} s")
    print(f"baseline: tokenize {t_tok:.1f} s + term-frequency dicts {t_brute:.1f} s = {t_tok + t_brute:.1f} s")

    print(f"\n== search latency over {len(data.products):,} products")
    rng = random.Random(0)
    queries = [g["instruction_text"] for g in rng.sample(data.goals, args.queries)]
    ours = []
    for q in queries:
        t = time.perf_counter()
        engine._search(" ".join(q.split()), 50)  # uncached
        ours.append(time.perf_counter() - t)
    base, agree = [], 0
    for q in queries[: args.baseline_queries]:
        toks = engine.tokens(q)
        t = time.perf_counter()
        hits = brute.search(toks, 50)
        base.append(time.perf_counter() - t)
        mine = engine._search(" ".join(q.split()), 50)
        agree += [engine.asins[i] for i in hits[:10]] == list(mine[:10])
    print(f"bm25s (ours)          {ms(ours)}   ({len(ours)} queries)")
    print(f"brute-force scan      {ms(base)}   ({len(base)} queries)")
    print(f"speed-up (median)     {statistics.median(base) / statistics.median(ours):8.1f}x · top-10 identical on {agree}/{len(base)} queries")

    print("\n== env step latency (WebShop-v0, 1,000-product default catalog, the oracle's actions replayed, expert off)")
    import bs4

    from turngym.envs.webshop.env import WebShopEnv
    from turngym.envs.webshop.pages import parse_page

    expert = WebShopEnv(split="test", expert=True)
    plans = []
    for i in range(args.episodes + 1):  # the oracle's actions, replayed below in a plain env
        obs, info = expert.reset(options={"index": i})
        plan = []
        while True:
            plan.append(info["expert_action"])
            obs, reward, terminated, truncated, info = expert.step(plan[-1])
            if terminated or truncated:
                break
        plans.append(plan)
    from turngym.envs.webshop.reward import title_nouns

    env = WebShopEnv(split="test")
    parse_page.cache_clear()  # the expert run above filled every cache: time the replay cold
    env.data.search_engine._cached.cache_clear()
    title_nouns.cache_clear()
    steps, pages = [], []
    for i, plan in enumerate(plans):
        env.reset(options={"index": i})
        for action in plan:
            t = time.perf_counter()
            env.step(action)
            if i:  # episode 0 warms up spaCy, bm25s and the templates
                steps.append(time.perf_counter() - t)
                pages.append(env.session.html)
    ignore = {"style", "script", "head", "title", "meta", "[document]"}

    def upstream_page_work(html: str) -> None:
        soup = bs4.BeautifulSoup(html, "html.parser")  # get_available_actions
        soup.find(id="search_input")
        {b.get_text().lower(): b for b in soup.find_all(class_="btn") + soup.find_all(class_="product-link")}
        soup.select('input[type="radio"]')
        texts = bs4.BeautifulSoup(html, "html.parser").find_all(string=True)  # observation
        " [SEP] ".join(t.strip() for t in texts if t.parent.name not in ignore and t != "\n")

    up, mine_parse = [], []
    for html in pages:
        t = time.perf_counter()
        upstream_page_work(html)
        up.append(time.perf_counter() - t)
        t = time.perf_counter()
        parse_page.__wrapped__(html)
        mine_parse.append(time.perf_counter() - t)
    print(f"env.step (ours, all work)       {ms(steps)}   ({len(steps)} steps)")
    print(f"  page parse, ours (uncached)   {ms(mine_parse)}")
    print(f"  page parse, upstream bs4 x2   {ms(up)}")
    print(f"  page-work speed-up (median)   {statistics.median(up) / statistics.median(mine_parse):8.1f}x")
    print(f"env throughput                  {len(steps) / sum(steps):8.0f} steps/s (one process)")
    _ = np  # numpy is what bm25s scores with


if __name__ == "__main__":
    main()
