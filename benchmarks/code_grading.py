"""Code-v0 grading: the pooled local sandbox vs a fresh Python subprocess per submission, same run.

Grades the same submissions (the reference solutions of generated and HumanEval test tasks, plus
a wrong one per task so that both verdicts occur) with the same grader
(:func:`turngym.envs.code.grader.grade`: same program, same argument file, same result parsing
and checks); only the executor differs:

- ``sandbox``: :class:`turngym.sandbox.LocalBackend` (pre-forked, pre-imported, confined children);
- ``subprocess``: ``python -I program.py`` in a fresh temporary directory per submission, with no
  confinement at all: the naive way, and a lower bound on what confining a fresh process costs.

Reports submissions/s, the median and p90 latency of each, the ratio, and checks that both reach
the same verdict on every submission. Timings on a shared machine are noisy: compare the ratio.

    .venv/bin/python benchmarks/code_grading.py [--tasks 100] [--workers 2] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from turngym.envs.code.grader import Grade, grade
from turngym.envs.code.tasks import load_task, task_ids
from turngym.sandbox import ExecResult, LocalBackend, SandboxConfig


class FreshSubprocess:
    """The baseline executor: one new interpreter per run, files in a new temporary directory."""

    def run(self, code: str, *, timeout: float | None = None, memory_mb: int | None = None, files: Any = None,
            collect_files: Any = False, **_: Any) -> ExecResult:
        with tempfile.TemporaryDirectory() as tmp:
            for name, data in (files or {}).items():
                with open(os.path.join(tmp, name), "w" if isinstance(data, str) else "wb") as f:
                    f.write(data)
            with open(os.path.join(tmp, "program.py"), "w") as f:
                f.write(code)
            t0 = time.perf_counter()
            try:
                proc = subprocess.run([sys.executable, "-I", "program.py"], cwd=tmp, capture_output=True, text=True, timeout=timeout, check=False)
            except subprocess.TimeoutExpired:
                return ExecResult(status="timeout", duration_s=time.perf_counter() - t0)
            out = {}
            for name in collect_files or []:
                path = os.path.join(tmp, name)
                if os.path.exists(path):
                    with open(path, "rb") as f:
                        out[name] = f.read()
            return ExecResult(status="ok" if proc.returncode == 0 else "error", stdout=proc.stdout, stderr=proc.stderr,
                              exit_code=proc.returncode, duration_s=time.perf_counter() - t0, files=out)


def submissions(n: int) -> list[tuple[Any, str]]:
    ids = task_ids("test", "mixed")
    humaneval, generated = ids[:164], ids[164:]
    chosen = humaneval[: n // 2] + generated[: n - n // 2]
    out = []
    for tid in chosen:
        task = load_task(tid)
        out.append((task, task.solution))
        out.append((task, f"def {task.entry_point}(*args, **kwargs):\n    return None\n"))
    return out


def run_all(executor: Any, subs: list[tuple[Any, str]], concurrency: int) -> tuple[list[Grade], list[float], float]:
    def one(item: tuple[Any, str]) -> tuple[Grade, float]:
        task, code = item
        t0 = time.perf_counter()
        g = grade(executor, prompt=task.prompt, code=code, entry_point=task.entry_point, calls=task.calls,
                  check=task.check, timeout=10.0, memory_mb=512)
        return g, time.perf_counter() - t0

    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(one, subs))
    wall = time.perf_counter() - t0
    return [g for g, _ in results], [s for _, s in results], wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tasks", type=int, default=100, help="tasks (half HumanEval, half generated); two submissions each")
    ap.add_argument("--workers", type=int, default=2, help="sandbox workers")
    ap.add_argument("--concurrency", type=int, default=4, help="submissions graded at once (threads)")
    args = ap.parse_args()
    console = Console()
    subs = submissions(args.tasks)
    rows = {}
    with LocalBackend(SandboxConfig(workers=args.workers)) as sb:
        run_all(sb, subs[:8], args.concurrency)  # warm the pool (spare children, first imports)
        rows["sandbox (pooled LocalBackend)"] = run_all(sb, subs, args.concurrency)
    rows["fresh subprocess per submission"] = run_all(FreshSubprocess(), subs, args.concurrency)

    verdicts = {name: [g.all_passed for g in grades] for name, (grades, _, _) in rows.items()}
    first, second = verdicts.values()
    assert first == second, "the executors disagree on a verdict"
    assert sum(first) == len(subs) // 2, f"expected every reference solution to pass and every wrong one to fail, got {sum(first)}"

    table = Table(title=f"Code-v0 grading: {len(subs)} submissions ({args.tasks} tasks), {args.concurrency} at a time, load {os.getloadavg()[0]:.1f}")
    for col in ("executor", "submissions/s", "median ms", "p90 ms", "speed-up"):
        table.add_column(col, justify="right" if col != "executor" else "left")
    base = len(subs) / rows["fresh subprocess per submission"][2]
    for name, (_, lat, wall) in rows.items():
        rate = len(subs) / wall
        table.add_row(name, f"{rate:.1f}", f"{np.median(lat) * 1e3:.1f}", f"{np.percentile(lat, 90) * 1e3:.1f}", f"{rate / base:.2f}x")
    console.print(table)
    console.print(f"same verdict on all {len(subs)} submissions; {sum(first)} passed (the reference solutions)")


if __name__ == "__main__":
    main()
