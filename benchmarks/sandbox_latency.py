"""Sandbox latency: `print(1+1)` on the local backend, a session and a plain subprocess, plus sympy
cell throughput against a cold subprocess, all measured in the same run.

    .venv/bin/python benchmarks/sandbox_latency.py [--n 200] [--workers 2] [--json]
"""

from __future__ import annotations

import argparse
import json

from turngym.sandbox.bench import format_table, run_bench


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=200, help="runs per latency case (>= 200 for the acceptance numbers)")
    ap.add_argument("--cold", type=int, default=8, help="cold sympy subprocess runs")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--think-ms", type=float, nargs="*", default=[5.0, 50.0], help="pauses between calls for the paced local cases")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    res = run_bench(n=args.n, n_cold=args.cold, workers=args.workers, think_ms=tuple(args.think_ms))
    print(json.dumps(res, indent=2) if args.json else format_table(res))


if __name__ == "__main__":
    main()
