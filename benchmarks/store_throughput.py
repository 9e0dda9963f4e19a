"""Episode store throughput: batched SQLite writes/reads and the summary query, against naive baselines.

Baselines measured in the same run on the same episodes:
- ``sqlite, 1 txn/episode``: the same store, one ``write`` call (one transaction) per episode;
- ``jsonl append``: one ``Episode.model_dump_json()`` line per episode, flushed after each, read
  back by parsing every line; its "summary" has to parse every full record.

Usage: ``.venv/bin/python benchmarks/store_throughput.py [--n 10000] [--batch 500]``
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from turngym.core.episode import Episode
from turngym.store import EpisodeStore, EpisodeSummary
from turngym.store.synthetic import synthetic_episodes


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def best_of(fn: Callable[[], object], repeats: int) -> float:
    return min(timed(fn)[0] for _ in range(repeats))


def median_of(fn: Callable[[], object], repeats: int) -> float:
    return statistics.median(timed(fn)[0] for _ in range(repeats))


def jsonl_summaries(path: Path) -> list[EpisodeSummary]:
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            e = Episode.model_validate_json(line)
            out.append(
                EpisodeSummary(
                    episode_id=e.episode_id,
                    run_id=e.run_id,
                    env_id=e.env_id,
                    task_id=e.task_id,
                    group_id=e.group_id,
                    seed=e.seed,
                    step=e.step,
                    won=e.won,
                    outcome_reward=e.outcome_reward,
                    score=e.score,
                    num_turns=e.num_turns,
                    invalid_rate=e.invalid_rate,
                    truncated=e.truncated,
                    error=e.error,
                    parent_id=e.parent_id,
                    created_at=0.0,
                )
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=10_000, help="episodes")
    parser.add_argument("--batch", type=int, default=500, help="episodes per write call (store)")
    parser.add_argument("--repeats", type=int, default=5, help="repeats of the summary query")
    args = parser.parse_args()

    print(f"generating {args.n} synthetic episodes ...", flush=True)
    episodes = synthetic_episodes(args.n, seed=0, steps=10)
    n_turns = sum(e.num_turns for e in episodes)
    print(f"{args.n} episodes, {n_turns} turns ({n_turns / args.n:.1f}/episode)\n", flush=True)

    rows: list[tuple[str, str, float, int, int]] = []  # (what, method, seconds, episodes, turns)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)

        # --- store, batched transactions
        store = EpisodeStore(root / "batched")
        t, _ = timed(lambda: [store.write(episodes[i : i + args.batch]) for i in range(0, args.n, args.batch)])
        rows.append(("write", f"sqlite, {args.batch} episodes/txn", t, args.n, n_turns))
        t, back = timed(lambda: list(store.iter_episodes()))
        assert back == episodes, "store read back differs"
        rows.append(("read all", "sqlite iter_episodes", t, args.n, n_turns))
        del back
        t_sum = median_of(store.summaries, args.repeats)
        assert len(store.summaries()) == args.n
        rows.append(("summary list", "sqlite summaries()", t_sum, args.n, 0))
        t_page = median_of(lambda: store.summaries(won=True, order_by="outcome_reward", descending=True, limit=50), 20)
        rows.append(("filtered page", "sqlite summaries(won, sort, limit 50)", t_page, 50, 0))
        t_q = median_of(lambda: store.query(min_step=5, limit=50, offset=100), 20)
        rows.append(("page of episodes", "sqlite query(limit 50)", t_q, 50, 0))
        store.close()  # checkpoints and removes the WAL
        db_size = (root / "batched" / "episodes.db").stat().st_size

        # --- baseline: one transaction per episode
        naive = EpisodeStore(root / "naive")
        t, _ = timed(lambda: [naive.write([e]) for e in episodes])
        rows.append(("write", "sqlite, 1 txn/episode (baseline)", t, args.n, n_turns))
        naive.close()

        # --- baseline: JSONL append
        jsonl = root / "episodes.jsonl"

        def append_all() -> None:
            with open(jsonl, "a", encoding="utf-8") as f:
                for e in episodes:
                    f.write(e.model_dump_json() + "\n")
                    f.flush()

        t, _ = timed(append_all)
        rows.append(("write", "jsonl append (baseline)", t, args.n, n_turns))

        def parse_all() -> list[Episode]:
            with open(jsonl, encoding="utf-8") as f:
                return [Episode.model_validate_json(line) for line in f]

        t, back = timed(parse_all)
        assert back == episodes
        rows.append(("read all", "jsonl parse (baseline)", t, args.n, n_turns))
        del back
        t = median_of(lambda: jsonl_summaries(jsonl), max(1, args.repeats // 2))
        rows.append(("summary list", "jsonl parse all (baseline)", t, args.n, 0))
        jsonl_size = jsonl.stat().st_size

    print(f"{'operation':<17}{'method':<40}{'seconds':>10}{'episodes/s':>13}{'turns/s':>12}")
    print("-" * 92)
    for what, method, t, n, turns in rows:
        turns_s = f"{turns / t:,.0f}" if turns else "-"
        print(f"{what:<17}{method:<40}{t:>10.4f}{n / t:>13,.0f}{turns_s:>12}")
    print(f"\nsummary list of {args.n} episodes: {t_sum * 1000:.0f} ms (median of {args.repeats})")
    print(f"sizes: sqlite {db_size / 1e6:.0f} MB, jsonl {jsonl_size / 1e6:.0f} MB")


if __name__ == "__main__":
    main()
