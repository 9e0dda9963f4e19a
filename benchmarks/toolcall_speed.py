"""ToolCall-v0 step throughput: the env as shipped vs a naive implementation of its hot path, same run.

The env's per-step work is parsing ``<tool_call>`` blocks, validating arguments against each tool's
JSON schema and running the tool; per reset it builds the task (database, question, gold trace).
The shipped env compiles one ``jsonschema`` validator per tool once and caches built tasks; the
naive baseline calls ``jsonschema.validate(arguments, schema)`` per call (which checks the schema
and builds a validator every time, the textbook usage) and rebuilds the task on every reset.

Workload: the oracle plays every task of the test split (2-4 calls and an answer each), and a
malformed call is inserted before each episode's first step (schema errors are the other hot path).
Reports steps/s, episodes/s and the ratio, and checks both reach the same rewards.

    .venv/bin/python benchmarks/toolcall_speed.py [--tasks 500] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import time
from contextlib import contextmanager
from typing import Any

import jsonschema
from rich.console import Console
from rich.table import Table

import turngym.envs.toolcall.env as env_mod
from turngym.envs.toolcall.env import ToolCallEnv
from turngym.envs.toolcall.tasks import load_task, task_ids
from turngym.envs.toolcall.tools import TOOL_SPECS

BAD = '<tool_call>{"name": "date_add", "arguments": {"date": "2024-01-01", "days": "three"}}</tool_call>'


def naive_validators() -> dict[str, Any]:
    def make(schema: dict[str, Any]) -> Any:
        def check(args: Any) -> str | None:
            try:
                jsonschema.validate(args, schema)
            except jsonschema.ValidationError as exc:
                return exc.message[:200]
            return None

        return check

    return {s["function"]["name"]: make(s["function"]["parameters"]) for s in TOOL_SPECS}


@contextmanager
def naive() -> Any:
    """Swap the env's validators and task cache for the naive versions (restored afterwards)."""
    saved = env_mod.validators, env_mod.load_task
    env_mod.validators, env_mod.load_task = naive_validators, load_task.__wrapped__
    try:
        yield
    finally:
        env_mod.validators, env_mod.load_task = saved


def play(ids: list[str], repeats: int) -> tuple[int, int, float, list[float]]:
    env = ToolCallEnv(split="test", expert=True)
    steps = episodes = 0
    rewards: list[float] = []
    t0 = time.perf_counter()
    for _ in range(repeats):
        for tid in ids:
            _, info = env.reset(options={"task_id": tid})
            _, r, _, _, info = env.step(BAD)
            total, done = r, False
            steps += 1
            while not done:
                _, r, term, trunc, info = env.step(info["expert_action"])
                total += r
                steps += 1
                done = term or trunc
            rewards.append(total)
            episodes += 1
    return steps, episodes, time.perf_counter() - t0, rewards


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tasks", type=int, default=500)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    ids = task_ids("test")[: args.tasks]
    play(ids[:20], 1)  # warm up imports and the validators
    load_task.cache_clear()
    rows = {"shipped (compiled validators, cached tasks)": play(ids, args.repeats)}
    with naive():
        rows["naive (jsonschema.validate per call, task rebuilt per reset)"] = play(ids, args.repeats)
    (_, _, _, r_a), (_, _, _, r_b) = rows.values()
    assert r_a == r_b, "the two implementations disagree on rewards"
    base_steps, _, base_wall, _ = rows["naive (jsonschema.validate per call, task rebuilt per reset)"]
    table = Table(title=f"ToolCall-v0: {args.tasks} test tasks x {args.repeats}, oracle + one malformed call per episode, load {os.getloadavg()[0]:.1f}")
    for col in ("implementation", "steps/s", "episodes/s", "speed-up"):
        table.add_column(col, justify="right" if col != "implementation" else "left")
    for name, (steps, eps, wall, _) in rows.items():
        table.add_row(name, f"{steps / wall:,.0f}", f"{eps / wall:,.0f}", f"{(steps / wall) / (base_steps / base_wall):.2f}x")
    Console().print(table)
    print(f"same rewards on all {len(r_a)} episodes (mean {sum(r_a) / len(r_a):.3f}: the oracle's 1.0 minus the 0.1 penalty)")


if __name__ == "__main__":
    main()
