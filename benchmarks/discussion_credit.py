"""Discussion credit: the vectorised MAPoRL rule against the per-row loop, in the same run.

The hot path of ``Discussion-v0``'s ``maporl`` credit is :func:`turngym.envs.discussion.credit.
maporl_credit`: a batch of discussions (rows = messages with discussion, round, agent, verified
score) → one reward per message. The baseline is :func:`maporl_credit_loop`, the same rule computed
row by row with dicts the way the reference code loops over (question, turn, agent). Both run on
the same batches (debates of N agents × R rounds, a share of them stopped early on consensus, and
ragged solver–critic–CEO-like rounds), results are checked equal, and the best of ``--repeat``
timings is reported with the speed-up. Per-agent estimator time (``turn_grpo`` with
``per_agent=True`` over the same rows) is shown for scale.

    .venv/bin/python benchmarks/discussion_credit.py [--discussions 20000] [--agents 3] [--rounds 3] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from turngym.algos import TurnTable, compute_advantages
from turngym.envs.discussion.credit import maporl_credit, maporl_credit_loop


def batch(n: int, agents: int, rounds: int, seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    stop = rng.integers(1, rounds + 1, size=n)  # rounds actually held (early stops)
    ragged = rng.random(n) < 0.3  # some discussions where only some agents speak per round
    ep, rd, ag = [], [], []
    for e in range(n):
        for t in range(int(stop[e])):
            speakers = [a for a in range(agents) if not ragged[e] or rng.random() < 0.7] or [0]
            ep += [e] * len(speakers)
            rd += [t] * len(speakers)
            ag += speakers
    score = rng.integers(0, 2, size=len(ep)).astype(np.float64)
    return np.array(ep), np.array(rd), np.array(ag), score


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--discussions", type=int, default=20000)
    p.add_argument("--agents", type=int, default=3)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    ep, rd, ag, sc = batch(args.discussions, args.agents, args.rounds, args.seed)
    alpha = (0.1, 0.2, -0.3, -0.4)
    fast = maporl_credit(ep, rd, ag, sc, gamma=0.3, alpha=alpha)
    lists = (ep.tolist(), rd.tolist(), ag.tolist(), sc.tolist())
    slow = maporl_credit_loop(*lists, gamma=0.3, alpha=alpha)
    np.testing.assert_allclose(fast, slow, atol=1e-12)
    t_fast = best_of(lambda: maporl_credit(ep, rd, ag, sc, gamma=0.3, alpha=alpha), args.repeat)
    t_slow = best_of(lambda: maporl_credit_loop(*lists, gamma=0.3, alpha=alpha), args.repeat)
    group = ep // 4  # 4 discussions of each task
    table = TurnTable(group=group, traj=ep, turn=np.arange(len(ep)) - np.searchsorted(ep, ep), reward=fast, agent=ag)
    t_adv = best_of(lambda: compute_advantages("turn_grpo", table, per_agent=True), args.repeat)
    rows = len(ep)
    print(f"{args.discussions} discussions, {rows} messages ({args.agents} agents x <= {args.rounds} rounds; results equal)")
    print(f"  maporl_credit (numpy)   {t_fast * 1e3:9.2f} ms   {rows / t_fast / 1e6:7.2f} M rows/s")
    print(f"  maporl_credit_loop      {t_slow * 1e3:9.2f} ms   {rows / t_slow / 1e6:7.2f} M rows/s")
    print(f"  speed-up                {t_slow / t_fast:9.1f} x")
    print(f"  turn_grpo per_agent     {t_adv * 1e3:9.2f} ms   (advantages of the same rows, for scale)")


if __name__ == "__main__":
    main()
