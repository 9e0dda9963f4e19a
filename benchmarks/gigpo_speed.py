"""GiGPO advantages on a 1M-row table: vectorised (``turngym.algos``) vs a per-row Python loop.

The baseline is the straightforward implementation of the same formula (reference preset:
episode statistics over step rows, invalid penalty after discounting, lone anchor → 0), written
the way one would write it first: dicts of lists and loops over rows. Both run in this process on
the same data; the script checks that they agree to 1e-9 and prints the speed-up (target ≥ 20×).

    .venv/bin/python benchmarks/gigpo_speed.py [--rows 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import math
import time
from collections import defaultdict

import numpy as np

from turngym.algos import TurnTable, compute_advantages


def naive_gigpo(group, traj, turn, reward, valid, anchor, *, mode="mean_norm", gamma=0.95, w=1.0, penalty=0.1, eps=1e-6):
    """Per-row Python reference of GiGPO (reference preset)."""
    n = len(group)
    by_traj: dict[int, list[int]] = defaultdict(list)
    for i in range(n):
        by_traj[traj[i]].append(i)
    score = [0.0] * n
    step_ret = [0.0] * n
    for rows in by_traj.values():
        rows.sort(key=lambda i: turn[i])
        total = 0.0
        for i in rows:
            total += reward[i]
        running = 0.0
        for i in reversed(rows):
            running = reward[i] + gamma * running
            step_ret[i] = running - (0.0 if valid[i] else penalty)
        for i in rows:
            score[i] = total - (0.0 if valid[i] else penalty)

    def stats(values):
        m = sum(values) / len(values)
        if len(values) < 2:
            return m, 0.0
        return m, math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1))

    episode: dict[int, list[float]] = defaultdict(list)
    for i in range(n):
        episode[group[i]].append(score[i])
    ep_stats = {}
    for g, vals in episode.items():
        ep_stats[g] = (0.0, 1.0) if len(vals) == 1 else stats(vals)
    anchors: dict[tuple, list[float]] = defaultdict(list)
    for i in range(n):
        anchors[(group[i], anchor[i])].append(step_ret[i])
    an_stats = {k: (len(v), *stats(v)) for k, v in anchors.items()}
    out = [0.0] * n
    for i in range(n):
        m, s = ep_stats[group[i]]
        a_e = (score[i] - m) / (s + eps) if mode == "mean_std_norm" else score[i] - m
        cnt, am, asd = an_stats[(group[i], anchor[i])]
        if cnt == 1:
            a_s = 0.0
        else:
            a_s = (step_ret[i] - am) / (asd + eps) if mode == "mean_std_norm" else step_ret[i] - am
        out[i] = a_e + w * a_s
    return out


def make_batch(rows: int, seed: int = 0, group_size: int = 8, max_len: int = 9) -> dict[str, np.ndarray]:
    """Groups of ``group_size`` trajectories of 1..``max_len`` turns in rooms that recur."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, max_len + 1, size=max(rows, 1))
    n_traj = int(np.searchsorted(np.cumsum(lengths), rows)) + 1
    lengths = lengths[:n_traj]
    n = int(lengths.sum())
    traj = np.repeat(np.arange(n_traj), lengths)
    turn = np.arange(n) - np.repeat(np.r_[0, np.cumsum(lengths)[:-1]], lengths)
    group = traj // group_size
    won = rng.random(n_traj) < 0.4
    final = turn == lengths[traj] - 1
    reward = np.where(final & won[traj], 10.0, 0.0)
    valid = rng.random(n) > 0.1
    room = rng.integers(0, 6, size=n)
    anchor = np.array([f"task {g}: you are in room {r}. exits: north, south." for g, r in zip(group.tolist(), room.tolist())], dtype=object)
    return {"group": group, "traj": traj, "turn": turn, "reward": reward, "valid": valid, "anchor": anchor}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    cols = make_batch(args.rows)
    lists = {k: v.tolist() for k, v in cols.items()}
    print(f"table: {len(cols['traj']):,} rows, {len(np.unique(cols['traj'])):,} trajectories, "
          f"{len(np.unique(cols['group'])):,} groups, {len(set(lists['anchor'])):,} distinct anchors")
    print("times: CPU seconds of this process (both sides are single-threaded; wall time on a shared")
    print("machine measures the neighbours), best of --repeat runs. 'cold' includes hashing the anchor")
    print("strings (TurnTable.anchor_codes, once per table); 'warm' reuses them.")
    header = f"{'mode':<15}{'python loop (s)':>16}{'cold (s)':>10}{'warm (s)':>10}{'speed-up cold':>15}{'warm':>8}{'max |diff|':>12}"
    print(header)
    for mode in ("mean_norm", "mean_std_norm"):
        t_naive, t_cold, t_warm = [], [], []
        for _ in range(args.repeat):
            t0 = time.process_time()
            ref = np.asarray(naive_gigpo(**lists, mode=mode))
            t_naive.append(time.process_time() - t0)
            table = TurnTable(**cols)
            t0 = time.process_time()
            cold = compute_advantages("gigpo", table, "reference", mode=mode).advantage
            t_cold.append(time.process_time() - t0)
            t0 = time.process_time()
            warm = compute_advantages("gigpo", table, "reference", mode=mode).advantage
            t_warm.append(time.process_time() - t0)
        diff = float(max(np.abs(cold - ref).max(), np.abs(warm - ref).max()))
        n, c, w = min(t_naive), min(t_cold), min(t_warm)
        print(f"{mode:<15}{n:>16.2f}{c:>10.3f}{w:>10.3f}{n / c:>14.1f}x{n / w:>7.1f}x{diff:>12.1e}")
        if diff > 1e-9:
            raise SystemExit(f"vectorised and per-row results differ by {diff:.3e} (> 1e-9)")


if __name__ == "__main__":
    main()
