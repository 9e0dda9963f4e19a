"""MathTool-v0 episode throughput: sandbox sessions vs a plain subprocess executor, same run.

Every episode is the oracle's (the task's reference code, then the boxed answer) with two more
cells in front that use the interpreter's state (``x = ...``, then ``print(x * 2)``), so each
episode runs three cells and the state must persist. Two executors run the same episodes:

- ``sandbox``: the env's default, one confined ``turngym.sandbox`` session per episode (a warm,
  pre-imported process forked by the local backend; state lives in the process);
- ``subprocess``: the naive baseline many TIR codebases use, ``python -c`` per cell, no
  confinement, state emulated by re-running the episode's earlier cells (their output hidden).

Rounds alternate between the two so that machine load hits both alike; the table reports the
median over rounds of episodes/s, cells/s and ms per cell, the ratio to the baseline, and whether
both executors produced the same observations (they must: same code, same outputs).

    .venv/bin/python benchmarks/mathtool_throughput.py [--episodes 60] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from rich.console import Console
from rich.table import Table

import turngym
from turngym.sandbox import ExecResult

_RUNNER = """
import contextlib, io, sys
earlier, cell = sys.argv[1], sys.argv[2]
ns = {"__name__": "__main__"}
with contextlib.redirect_stdout(io.StringIO()):
    exec(compile(earlier, "<earlier>", "exec"), ns)
exec(compile(cell, "<cell>", "exec"), ns)
"""


class _SubprocessRunner:
    """``python -c`` per cell; earlier successful cells are replayed first to rebuild the state."""

    def __init__(self) -> None:
        self.cells: list[str] = []

    def run(self, code: str, *, timeout: float) -> ExecResult:
        t0 = time.monotonic()
        try:
            p = subprocess.run([sys.executable, "-c", _RUNNER, "\n".join(self.cells), code], capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            return ExecResult(status="timeout", duration_s=time.monotonic() - t0)
        if p.returncode == 0:
            self.cells.append(code)
            return ExecResult(status="ok", stdout=p.stdout, exit_code=0, duration_s=time.monotonic() - t0)
        last = (p.stderr.strip().splitlines() or ["Error"])[-1]
        name, _, value = last.partition(": ")
        return ExecResult(status="error", stdout=p.stdout, stderr=p.stderr, exit_code=p.returncode, error_name=name, error_value=value,
                          duration_s=time.monotonic() - t0)

    def close(self) -> None:
        self.cells = []


class SubprocessExecutor:
    def open(self) -> _SubprocessRunner:
        return _SubprocessRunner()


def play(env, task_ids: list[str]) -> tuple[list[list[str]], int, float]:
    """Run one episode per task; returns (observations per episode, cells run, seconds)."""
    cells = 0
    out = []
    t0 = time.perf_counter()
    for i, tid in enumerate(task_ids):
        obs, info = env.reset(options={"task_id": tid})
        seen = [obs]
        for action in (f"```python\nx = {i}\n```", "```python\nprint(x * 2)\n```"):
            seen.append(env.step(action)[0])
            cells += 1
        while True:
            obs, _, term, trunc, info = env.step(info["expert_action"])
            seen.append(obs)
            cells += obs.startswith("```output")
            if term or trunc:
                break
        out.append(seen)
    return out, cells, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--episodes", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    console = Console()
    kwargs = {"split": "test", "expert": True, "max_tool_calls": 3}
    envs = {"sandbox": turngym.make("MathTool-v0", **kwargs), "subprocess": turngym.make("MathTool-v0", executor=SubprocessExecutor(), **kwargs)}
    task_ids = envs["sandbox"].task_ids("test")[: args.episodes]
    play(envs["sandbox"], task_ids[:3])  # warm up: the backend's workers, the grader's imports
    play(envs["subprocess"], task_ids[:3])
    rates: dict[str, list[tuple[float, float]]] = {k: [] for k in envs}
    observations: dict[str, list[list[str]]] = {}
    for _ in range(args.rounds):
        for name, env in envs.items():
            obs, cells, seconds = play(env, task_ids)
            rates[name].append((len(task_ids) / seconds, cells / seconds))
            observations[name] = obs
    same = sum(a == b for a, b in zip(observations["sandbox"], observations["subprocess"]))
    base = statistics.median(r[0] for r in rates["subprocess"])
    table = Table(title=f"MathTool-v0: {len(task_ids)} episodes x {args.rounds} rounds (3 cells + answer each; median over rounds)")
    for col in ("executor", "episodes/s", "cells/s", "ms/cell", "vs subprocess"):
        table.add_column(col, justify="right" if col != "executor" else "left")
    for name in envs:
        eps = statistics.median(r[0] for r in rates[name])
        cps = statistics.median(r[1] for r in rates[name])
        table.add_row(name, f"{eps:.1f}", f"{cps:.1f}", f"{1000 / cps:.2f}", f"{eps / base:.1f}x")
    console.print(table)
    console.print(f"same observations from both executors: {same}/{len(task_ids)} episodes")
    for env in envs.values():
        env.close()
    if same != len(task_ids):
        raise SystemExit("the executors disagree on some outputs")


if __name__ == "__main__":
    main()
