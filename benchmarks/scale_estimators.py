"""Estimators at 10³ … 10⁷ rows: ns per row and the fitted scaling exponent, GRPO as the baseline.

Every estimator runs on the same synthetic step-row batch per size (groups of G=8 trajectories of
1–20 turns, ~15% invalid rows, a handful of anchor states per group, information gain on
non-final turns, outcomes and PRM step rewards), built once per size outside the timed region;
the anchors are coded when the table is built, as ``TurnTable.from_episodes`` does. Times are
CPU seconds of this process (best of ``--repeat``, at least 2 so the steady state of a training
step is what is timed), so neighbours on a shared machine matter less. The process keeps its freed
memory as ``turngym train`` does (``turngym.train.memory``: on this kind of VM a freshly mapped
80 MB array costs ~50 ns per element to fill, so without it every call at 10⁷ rows re-faults its
temporaries and the per-row cost jumps ~3×); the first call at the largest size, which grows the
heap, is printed separately.
The exponent is the least-squares slope of log(time) over log(rows) across the sizes ≥ 10⁵
(smaller sizes measure fixed overheads, not growth).

    .venv/bin/python benchmarks/scale_estimators.py [--max-rows 10000000] [--repeat 3]

Goal (issue 19): every estimator ≤ 3× GRPO's time per row, exponent ≤ 1.05.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from turngym.algos import TurnTable, compute_advantages
from turngym.train.memory import keep_freed_memory

ESTIMATORS = ("grpo", "rloo", "reinforce_pp", "gigpo", "matchtir", "a2tgpo", "aem", "oprl")


def synthetic_table(n_rows: int, seed: int = 0, group_size: int = 8) -> TurnTable:
    """A batch of about ``n_rows`` step rows, in (group, traj, turn) order as a rollout emits them."""
    rng = np.random.default_rng(seed)
    n_traj = max(group_size, n_rows // 10)
    lengths = rng.integers(1, 21, n_traj)
    lengths[-1] += max(0, n_rows - int(lengths.sum()))
    total = int(lengths.sum())
    traj = np.repeat(np.arange(n_traj), lengths)
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    turn = np.arange(total) - starts
    group = traj // group_size
    final = np.r_[traj[1:] != traj[:-1], True]
    won = rng.random(n_traj) < 0.4
    reward = np.where(final & won[traj], 10.0, 0.0)
    valid = rng.random(total) > 0.15
    # a handful of states per group: anchors recur within and across trajectories of a group
    anchor_codes = group * 6 + rng.integers(0, 6, total)
    info_gain = np.where(final, np.nan, rng.normal(0, 0.1, total))
    table = TurnTable(
        group=group, traj=traj, turn=turn, reward=reward, final=final, valid=valid,
        anchor=anchor_codes, info_gain=info_gain, entropy=rng.random(total) * 3,
        step_reward=rng.normal(0, 0.3, total), outcome=np.where(won, 1.0, 0.0)[traj],
    )
    return table


def cpu_time(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


def fit_exponent(sizes: list[int], times: list[float]) -> float:
    keep = [(s, t) for s, t in zip(sizes, times) if s >= 100_000 and t > 0]
    if len(keep) < 2:
        return float("nan")
    x = np.log([s for s, _ in keep])
    y = np.log([t for _, t in keep])
    return float(np.polyfit(x, y, 1)[0])


def run(max_rows: int, repeat: int) -> dict[str, dict[str, float]]:
    sizes = [10**k for k in range(3, 8) if 10**k <= max_rows]
    kept = keep_freed_memory()
    first: dict[str, float] = {}
    times: dict[str, list[float]] = {name: [] for name in ESTIMATORS}
    for n in sizes:
        table = synthetic_table(n)
        _ = table.anchor_codes, table.traj_key  # coded once per table, as from_episodes does
        for name in ESTIMATORS:
            preset = "reference"
            call = lambda name=name, table=table, preset=preset: compute_advantages(name, table, preset)  # noqa: E731
            if n == sizes[-1]:
                first[name] = cpu_time(call, 1) / len(table)
            times[name].append(cpu_time(call, max(2, repeat) if n < 10**7 else 2) / len(table))
        del table
    print(f"rows: {', '.join(f'{s:,}' for s in sizes)}   (ns per row, CPU time, best of {max(2, repeat)}; freed memory "
          f"{'kept' if kept else 'returned to the kernel'}; 'first' = first call at {sizes[-1]:,}, growing the heap)")
    header = f"{'estimator':<14}" + "".join(f"{s:>12,}" for s in sizes) + f"{'exponent':>10}{'× grpo':>9}{'first':>9}"
    print(header)
    summary = {}
    for name in ESTIMATORS:
        per_row = [t * 1e9 for t in times[name]]
        exp = fit_exponent(sizes, [t * s for t, s in zip(times[name], sizes)])
        ratio = times[name][-1] / times["grpo"][-1]
        summary[name] = {"ns_per_row": per_row[-1], "exponent": exp, "ratio_to_grpo": ratio}
        print(f"{name:<14}" + "".join(f"{v:>12.1f}" for v in per_row) + f"{exp:>10.3f}{ratio:>9.2f}{first[name] * 1e9:>9.0f}")
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-rows", type=int, default=10_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    summary = run(args.max_rows, args.repeat)
    worst_ratio = max(v["ratio_to_grpo"] for v in summary.values())
    worst_exp = max(v["exponent"] for v in summary.values())
    ok = worst_ratio <= 3.0 and worst_exp <= 1.05
    print(f"worst ratio to grpo {worst_ratio:.2f} (goal ≤ 3), worst exponent {worst_exp:.3f} (goal ≤ 1.05): {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
