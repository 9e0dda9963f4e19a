"""Scale (issue 19): the store, exports, env workers and estimators as a long run grows, with fitted
exponents and same-run baselines.

Store: one run grows to ``--max-episodes`` synthetic episodes (``turngym.store.synthetic``, ~8 turns
each, token ids, logprobs, masks) written in trainer-sized batches. Every batch goes to the current
store (schema 3) and, interleaved so machine load hits both alike, to a schema-1 store written by the
old code path (``legacy.V1Writer``): that is the same-run baseline. At each mark (10³, 10⁴, 10⁵ ...
episodes) the benchmark records bytes per turn (SQLite file after a checkpoint; JSONL and Parquet
exports of the same episodes), write throughput over the batches since half the mark, filtered
counts / the run list (what ``/api/runs`` asks the store) / a filtered first page, and exports: the
streaming exports of schema 3 against the old path (models validated from the schema-1 rows, then
``exchange.write_jsonl``/``write_parquet``, i.e. pydantic per episode), the old path up to
``--old-export-max`` episodes (it is ~2 ms per episode). Exponents are least-squares slopes of
log(time) over log(size) (writes: cumulative time, so 1.0 is flat throughput; queries: 0 is flat).

Env workers: ``benchmarks/vector_env_throughput.measure`` on KeyDoor (in process, 1 and 2 workers)
and ALFWorld (1 vs 2 workers, in the rollout engine's send/recv pattern and in lockstep; skipped when the
engine is not installed).
Estimators: ``benchmarks/scale_estimators.run`` (10³ … ``--max-rows`` rows, ns/row, × GRPO).

    .venv/bin/python benchmarks/scale.py [--max-episodes 100000] [--max-rows 10000000] [--skip envs,estimators]

Goals: ≤ 1,200 B/turn; ≥ 50k turns/s written, flat; exports ≥ 10× the old path, streaming; counts
and the run list flat; workers ≥ 0.5× in process on KeyDoor, 2 workers ≥ 1.8× one on ALFWorld;
every estimator ≤ 3× GRPO per row with exponent ≤ 1.05. Timings on a shared machine are noisy:
the same-run ratios are the robust numbers.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from turngym.core.episode import Episode  # noqa: E402
from turngym.envs.registration import list_envs  # noqa: E402
from turngym.store import EpisodeStore, exchange, legacy  # noqa: E402
from turngym.store.synthetic import synthetic_episodes  # noqa: E402

GOALS: list[tuple[str, bool, str]] = []


def goal(name: str, ok: bool, detail: str) -> None:
    GOALS.append((name, ok, detail))


def slope(sizes: list[float], values: list[float]) -> float:
    keep = [(s, v) for s, v in zip(sizes, values, strict=True) if v > 0]
    if len(keep) < 2:
        return float("nan")
    return float(np.polyfit(np.log([s for s, _ in keep]), np.log([v for _, v in keep]), 1)[0])


def median_time(fn: Callable[[], object], repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def file_size(path: Path) -> int:
    return path.stat().st_size + sum(p.stat().st_size for p in path.parent.glob(path.name + "-wal"))


def runs_list(store: EpisodeStore, env_ids: list[str]) -> None:
    """What ``/api/runs`` asks the store: the runs with counts, and which registered envs have episodes."""
    store.runs()
    for env_id in env_ids:
        store.count(env_id=env_id)


def old_exports(v1_path: Path, out: Path) -> tuple[float, float]:
    """The schema-1 export path: every episode validated into a model, then dumped (seconds: jsonl, parquet)."""
    with EpisodeStore(v1_path, readonly=True) as old:
        t0 = time.perf_counter()
        exchange.write_jsonl(out / "old.jsonl", old.iter_episodes())
        t_jsonl = time.perf_counter() - t0
        stamps = (s.created_at for s in old.summaries())
        t0 = time.perf_counter()
        exchange.write_parquet(out / "old.parquet", zip(old.iter_episodes(), stamps, strict=True))
        t_parquet = time.perf_counter() - t0
    return t_jsonl, t_parquet


def store_section(marks: list[int], batch: int, old_export_max: int, tmp: Path) -> None:
    env_ids = sorted(spec.id for spec in list_envs())
    new_path, old_path = tmp / "new" / "episodes.db", tmp / "old.db"
    store = EpisodeStore(new_path)
    v1 = legacy.V1Writer(old_path)
    written = turns = 0
    t_new = t_old = 0.0
    window: dict[str, float] = {"new": 0.0, "old": 0.0, "turns": 0}
    rows = []
    print(f"store: batches of {batch} synthetic episodes, schema 3 vs schema 1 (old code) interleaved")
    for mark in marks:
        while written < mark:
            n = min(batch, mark - written)
            episodes: list[Episode] = synthetic_episodes(n, seed=written, run_id="run-0")
            for e in episodes:
                e.step = written // 5000
            k = sum(e.num_turns for e in episodes)
            order = ("new", "old") if (written // batch) % 2 == 0 else ("old", "new")
            for which in order:
                t0 = time.perf_counter()
                store.write(episodes) if which == "new" else v1.write(episodes)
                dt = time.perf_counter() - t0
                if which == "new":
                    t_new += dt
                else:
                    t_old += dt
                if written >= mark // 2:
                    window[which] += dt
            if written >= mark // 2:
                window["turns"] += k
            written += n
            turns += k
        store._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        v1.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        row: dict[str, float] = {"episodes": mark, "turns": turns, "t_new": t_new, "t_old": t_old}
        row["bpt_new"] = file_size(new_path) / turns
        row["bpt_old"] = file_size(old_path) / turns
        row["wps_new"] = window["turns"] / window["new"]
        row["wps_old"] = window["turns"] / window["old"]
        window = {"new": 0.0, "old": 0.0, "turns": 0}
        with EpisodeStore(old_path, readonly=True) as old:
            for name, s in (("new", store), ("old", old)):
                row[f"count_{name}"] = median_time(lambda s=s: (s.count(won=True), s.count(run_id="run-0", won=False)))
                row[f"runs_{name}"] = median_time(lambda s=s: runs_list(s, env_ids))
                row[f"page_{name}"] = median_time(lambda s=s: s.summaries(won=True, descending=True, limit=50))
        out = tmp / f"exports-{mark}"
        out.mkdir()
        t0 = time.perf_counter()
        store.export_jsonl(out / "new.jsonl")
        row["jsonl_new"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        store.export_parquet(out / "new.parquet")
        row["parquet_new"] = time.perf_counter() - t0
        row["bpt_jsonl"] = (out / "new.jsonl").stat().st_size / turns
        row["bpt_parquet"] = (out / "new.parquet").stat().st_size / turns
        tracemalloc.start()
        store.export_parquet(out / "traced.parquet")
        row["export_peak_mb"] = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
        if mark <= old_export_max:
            row["jsonl_old"], row["parquet_old"] = old_exports(old_path, out)
            same = (out / "old.jsonl").read_bytes() == (out / "new.jsonl").read_bytes()
            row["same_jsonl"] = float(same)
        for p in out.iterdir():
            p.unlink()
        rows.append(row)
        print(f"  {mark:>9,} episodes written ({time.perf_counter() - START:.0f} s since start)", flush=True)
    store.close()
    v1.close()
    _print_store(rows, marks)


def _print_store(rows: list[dict[str, float]], marks: list[int]) -> None:
    def line(label: str, key: str, fmt: str, exponent: str | None = None) -> None:
        values = [r.get(key) for r in rows]
        cells = "".join(f"{format(v, fmt) if v is not None else '-':>12}" for v in values)
        fit = ""
        if exponent == "cum":
            fit = f"{slope([r['turns'] for r in rows], [r[key.replace('wps', 't')] for r in rows]):>10.2f}"
        elif exponent == "flat":
            fit = f"{slope([r['episodes'] for r in rows], values):>10.2f}"
        print(f"  {label:<44}{cells}{fit}")

    print(f"\n  {'episodes':<44}" + "".join(f"{m:>12,}" for m in marks) + f"{'exponent':>10}")
    line("bytes/turn, store (schema 3)", "bpt_new", ",.0f")
    line("bytes/turn, store (schema 1, old code)", "bpt_old", ",.0f")
    line("bytes/turn, JSONL export", "bpt_jsonl", ",.0f")
    line("bytes/turn, Parquet export", "bpt_parquet", ",.0f")
    line("write turns/s (schema 3)", "wps_new", ",.0f", "cum")
    line("write turns/s (schema 1, old code)", "wps_old", ",.0f", "cum")
    for key, label in (("count", "won= counts, ms"), ("runs", "run list + env counts, ms"), ("page", "won= page of 50, ms")):
        for name, who in (("new", "schema 3"), ("old", "schema 1")):
            for r in rows:
                r[f"{key}_{name}_ms"] = r[f"{key}_{name}"] * 1e3
            line(f"{label} ({who})", f"{key}_{name}_ms", ".2f", "flat")
    for r in rows:
        r["jsonl_new_us"] = r["jsonl_new"] / r["episodes"] * 1e6
        r["parquet_new_us"] = r["parquet_new"] / r["episodes"] * 1e6
        if "jsonl_old" in r:
            r["jsonl_old_us"] = r["jsonl_old"] / r["episodes"] * 1e6
            r["parquet_old_us"] = r["parquet_old"] / r["episodes"] * 1e6
    line("JSONL export µs/episode (streaming)", "jsonl_new_us", ",.0f", "flat")
    line("JSONL export µs/episode (old: pydantic each)", "jsonl_old_us", ",.0f")
    line("Parquet export µs/episode (streaming)", "parquet_new_us", ",.0f", "flat")
    line("Parquet export µs/episode (old: pydantic each)", "parquet_old_us", ",.0f")
    line("Parquet export peak Python MB (tracemalloc)", "export_peak_mb", ".1f")
    last = rows[-1]
    bpt = last["bpt_new"]
    goal("store bytes/turn ≤ 1,200", bpt <= 1200, f"{bpt:,.0f} B/turn (schema 1: {last['bpt_old']:,.0f}, "
         f"JSONL {last['bpt_jsonl']:,.0f}, Parquet {last['bpt_parquet']:,.0f})")
    wps = [r["wps_new"] for r in rows]
    exp_new = slope([r["turns"] for r in rows], [r["t_new"] for r in rows])
    exp_old = slope([r["turns"] for r in rows], [r["t_old"] for r in rows])
    ratio = [r["wps_new"] / r["wps_old"] for r in rows]
    goal("writes ≥ 50k turns/s", min(wps) >= 50_000, f"{', '.join(f'{w:,.0f}' for w in wps)} turns/s at "
         f"{', '.join(f'{m:,}' for m in marks)} episodes; same run × schema 1: {', '.join(f'{x:.1f}' for x in ratio)}")
    goal("writes flat (exponent ≤ 1.05)", exp_new <= 1.05, f"exponent {exp_new:.2f} (schema 1: {exp_old:.2f})")
    compared = [r for r in rows if "jsonl_old" in r]
    if compared:
        r = compared[-1]
        sj, sp = r["jsonl_old"] / r["jsonl_new"], r["parquet_old"] / r["parquet_new"]
        same = "identical" if r["same_jsonl"] else "DIFFERENT"
        goal("exports ≥ 10× the old path", min(sj, sp) >= 10, f"at {r['episodes']:,.0f} episodes: JSONL {sj:.1f}×, "
             f"Parquet {sp:.1f}× (JSONL bytes {same}); peak {last['export_peak_mb']:.1f} MB at {last['episodes']:,.0f}")
    if len(rows) >= 2:
        for key, label in (("count", "won= counts"), ("runs", "run list")):
            e_new = slope([r["episodes"] for r in rows], [r[f"{key}_new"] for r in rows])
            e_old = slope([r["episodes"] for r in rows], [r[f"{key}_old"] for r in rows])
            goal(f"{label} flat", e_new <= 0.15, f"exponent {e_new:.2f}, {last[f'{key}_new'] * 1e3:.2f} ms at "
                 f"{last['episodes']:,.0f} (schema 1: exponent {e_old:.2f}, {last[f'{key}_old'] * 1e3:.2f} ms)")


def envs_section(steps: int, envs: int) -> None:
    import vector_env_throughput as vet

    local = vet.measure("KeyDoor-v0", {}, envs, 0, steps * 10)
    one = vet.measure("KeyDoor-v0", {}, envs, 1, steps * 10)
    two = vet.measure("KeyDoor-v0", {}, envs, 2, steps * 10)
    print(f"\nenv workers, KeyDoor ({envs} envs): in process {local:,.0f} steps/s, 1 worker {one:,.0f}, 2 workers {two:,.0f}")
    best = max(one, two) / local
    goal("KeyDoor workers ≥ 0.5× in process", best >= 0.5, f"1 worker {one / local:.2f}×, 2 workers {two / local:.2f}×")
    try:
        import alfworld  # noqa: F401
    except ImportError:
        print("ALFWorld not installed (bash scripts/install_alfworld.sh): its row is skipped")
        return
    rates: dict[tuple[str, int], list[float]] = {}
    for _ in range(3):  # interleaved repeats: machine load hits every cell alike; medians reported
        for pattern in ("async", "lockstep"):
            for workers in (1, 2):
                rates.setdefault((pattern, workers), []).append(vet.measure("ALFWorld-v0", {}, envs, workers, steps * 2, pattern))
    med = {k: statistics.median(v) for k, v in rates.items()}
    for pattern, label in (("async", "rollout engine pattern (send_step/recv)"), ("lockstep", "lockstep venv.step")):
        one, two = med[(pattern, 1)], med[(pattern, 2)]
        print(f"env workers, ALFWorld ({envs} envs, {label}): 1 worker {one:,.0f} steps/s, 2 workers {two:,.0f} ({two / one:.2f}×)")
    ratio = med[("async", 2)] / med[("async", 1)]
    lock = med[("lockstep", 2)] / med[("lockstep", 1)]
    goal("ALFWorld 2 workers ≥ 1.8× one", ratio >= 1.8, f"{ratio:.2f}× in the rollout engine's send/recv pattern; lockstep "
         f"venv.step {lock:.2f}× (each step waits for the worker whose games cost more) ({os.cpu_count()} cores, shared)")


def estimators_section(max_rows: int, repeat: int) -> None:
    import scale_estimators

    print()
    summary = scale_estimators.run(max_rows, repeat)
    ratio = max(v["ratio_to_grpo"] for v in summary.values())
    exp = max(v["exponent"] for v in summary.values())
    worst = max(summary, key=lambda k: summary[k]["ratio_to_grpo"])
    goal("estimators ≤ 3× grpo per row", ratio <= 3, f"worst {worst} {ratio:.2f}× at {max_rows:,} rows")
    goal("estimators exponent ≤ 1.05", exp <= 1.05, f"worst exponent {exp:.3f}")


START = time.perf_counter()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-episodes", type=int, default=100_000, help="marks 10^3, 10^4, ... up to this")
    ap.add_argument("--marks", default="", help="explicit comma-separated store sizes (episodes), e.g. 1000,3000,10000")
    ap.add_argument("--batch", type=int, default=500, help="episodes per store.write (one trainer batch)")
    ap.add_argument("--old-export-max", type=int, default=10_000, help="largest mark where the old export runs")
    ap.add_argument("--max-rows", type=int, default=10_000_000, help="estimator rows (10^3 ... this)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--env-steps", type=int, default=800)
    ap.add_argument("--envs", type=int, default=16)
    ap.add_argument("--skip", default="", help="comma-separated: store, envs, estimators")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    print(f"scale benchmark, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    if "store" not in skip:
        with tempfile.TemporaryDirectory() as tmp:
            marks = [int(float(m)) for m in args.marks.split(",")] if args.marks else [
                10**k for k in range(3, 8) if 10**k <= args.max_episodes
            ]
            store_section(sorted(marks), args.batch, args.old_export_max, Path(tmp))
    if "envs" not in skip:
        envs_section(args.env_steps, args.envs)
    if "estimators" not in skip:
        estimators_section(args.max_rows, args.repeat)
    print(f"\ngoals (load average now {os.getloadavg()[0]:.1f}; {time.perf_counter() - START:.0f} s):")
    for name, ok, detail in GOALS:
        print(f"  [{'met' if ok else 'NOT met'}] {name}: {detail}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
