"""Opening a 10,000-episode run in the replay viewer: latency of what the list page requests.

The page asks for ``/api/runs`` and one page of ``/api/episodes`` (50 summaries + a count). The
baseline, measured in the same run, is the naive alternative the store also offers: loading whole
episodes (``store.query``) for the same page and for the whole run. Target: every list request
well under 1 s on this machine.

Run: .venv/bin/python benchmarks/replay_list.py [--episodes 10000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

from turngym.replay import create_app
from turngym.store import EpisodeStore
from turngym.store.synthetic import synthetic_episodes

TARGET_S = 1.0


def timed(fn, repeats: int) -> tuple[float, float]:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), max(times)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--episodes", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        t0 = time.perf_counter()
        with EpisodeStore(run_dir) as store:
            episodes = synthetic_episodes(args.episodes, group_size=8, steps=50)
            for i in range(0, len(episodes), 1000):
                store.write(episodes[i : i + 1000])
        del episodes
        print(
            f"built a run of {args.episodes} synthetic episodes in {time.perf_counter() - t0:.1f} s\n"
        )

        app = create_app(run_dir)
        client = TestClient(app)
        store = app.state.run.store

        def get(path: str, **params):
            def call():
                res = client.get(path, params=params)
                assert res.status_code == 200, res.text
                return res

            return call

        def page_load():
            get("/api/runs")()
            get("/api/episodes", limit=50)()

        rows = [
            ("page load: /api/runs + first page", page_load),
            ("/api/episodes first page (50)", get("/api/episodes", limit=50)),
            (
                "/api/episodes failed, by reward",
                get("/api/episodes", won=False, order_by="outcome_reward", limit=50),
            ),
            (
                "/api/episodes step range + invalid",
                get(
                    "/api/episodes",
                    min_step=10,
                    max_step=20,
                    max_invalid_rate=0.2,
                    limit=50,
                ),
            ),
            (
                "/api/episodes deep page (offset 9000)",
                get("/api/episodes", offset=min(9000, args.episodes - 50), limit=50),
            ),
            ("/api/episodes 500 per page", get("/api/episodes", limit=500)),
            (
                "/api/groups/{id} (8 full episodes)",
                get(f"/api/groups/{store.summaries(limit=1)[0].group_id}"),
            ),
            (
                "/api/episodes/{id} (one full episode)",
                get(f"/api/episodes/{store.summaries(limit=1)[0].episode_id}"),
            ),
            (
                "baseline: store.query page of 50 full",
                lambda: store.query(limit=50, descending=True),
            ),
            ("baseline: store.query whole run", lambda: store.query()),
        ]
        print(
            f"{'request':<44} {'median s':>9} {'max s':>8}  target < {TARGET_S:.0f} s"
        )
        print("-" * 78)
        ok = True
        for name, fn in rows:
            repeats = 1 if "whole run" in name else args.repeats
            med, worst = timed(fn, repeats)
            is_target = not name.startswith("baseline")
            verdict = ("ok" if worst < TARGET_S else "SLOW") if is_target else ""
            ok &= worst < TARGET_S or not is_target
            print(f"{name:<44} {med:>9.4f} {worst:>8.4f}  {verdict}")
        app.state.run.close()
    print(
        "\nall list requests under target" if ok else "\nSOME LIST REQUESTS OVER TARGET"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
