"""Vector-env throughput: env steps/s in process vs 1 vs N worker processes, same run.

Three envs: KeyDoor as is (microsecond steps, so inter-process messaging dominates), KeyDoor with
a CPU-bound step (``--work-ms`` of busy computation), and ALFWorld on its real engine (milliseconds
per step; skipped with a note when the ALFWorld extra is not installed), where worker processes
are what makes several cores useful.

    .venv/bin/python benchmarks/vector_env_throughput.py [--envs 16] [--steps 800] [--work-ms 5]

Goals (issue 19): workers ≥ 0.5× in process on KeyDoor; 2 workers ≥ 1.8× one on ALFWorld.
"""

from __future__ import annotations

import argparse
import os
import time

from rich.console import Console
from rich.table import Table

import turngym
from turngym.envs.toys.keydoor import KeyDoorEnv
from turngym.envs.vector import VectorTextEnv


class BusyKeyDoor(KeyDoorEnv):
    """KeyDoor whose every step burns ``work_ms`` of CPU (a stand-in for an expensive simulator)."""

    def __init__(self, work_ms: float = 5.0, **kwargs):
        super().__init__(**kwargs)
        self.work_ms = work_ms

    def _step(self, action):
        end = time.process_time() + self.work_ms / 1000
        x = 0
        while time.process_time() < end:
            x += 1
        return super()._step(action)


turngym.register("BusyKeyDoor-v0", BusyKeyDoor)


def measure(env_id: str, env_kwargs: dict, num_envs: int, workers: int, steps: int, pattern: str = "lockstep", warmup: int = 2) -> float:
    """Env steps/s. ``lockstep``: ``venv.step`` on every slot, so each step waits for the slowest
    worker (a batched policy that needs every observation). ``async``: the rollout engine's pattern
    (``send_step`` / ``recv``): a slot gets its next action as soon as its result arrives, so a
    worker whose games are cheaper is never held back by the other's."""
    with VectorTextEnv(env_id, num_envs, env_kwargs={**env_kwargs, "max_turns": 10_000}, num_workers=workers) as venv:
        venv.reset(seeds=list(range(num_envs)))
        for _ in range(warmup):  # first steps after a reset pay one-off costs (caches, lazy imports)
            venv.step(["look"] * num_envs)
        t0 = time.perf_counter()
        done = 0
        if pattern == "lockstep":
            while done < steps:
                venv.step(["look"] * num_envs)
                done += num_envs
        elif pattern == "async":
            for slot in range(num_envs):
                venv.send_step(slot, "look")
            sent = num_envs
            while done < steps:
                for slot, _ in venv.recv():
                    done += 1
                    if sent < steps:
                        venv.send_step(slot, "look")
                        sent += 1
            while venv.in_flight:
                done += len(venv.recv())
        else:
            raise ValueError(f"pattern must be 'lockstep' or 'async', got {pattern!r}")
        return done / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--envs", type=int, default=16)
    ap.add_argument("--steps", type=int, default=800)
    ap.add_argument("--work-ms", type=float, default=5.0)
    args = ap.parse_args()
    cores = os.cpu_count() or 1
    table = Table(title=f"vector env throughput ({args.envs} envs, {cores} cores)")
    for col in ("env", "in process", "1 worker", f"{cores} workers", f"{cores} workers / 1 worker"):
        table.add_column(col, justify="right")
    cases = [
        ("KeyDoor (µs steps)", "KeyDoor-v0", {}, args.steps * 10),
        (f"KeyDoor + {args.work_ms:g} ms CPU/step", "BusyKeyDoor-v0", {"work_ms": args.work_ms}, args.steps),
    ]
    try:
        import alfworld  # noqa: F401

        cases.append(("ALFWorld (real engine)", "ALFWorld-v0", {}, args.steps // 2))
    except ImportError:
        print("ALFWorld not installed (bash scripts/install_alfworld.sh): its row is skipped")
    rows = {}
    for name, env_id, kwargs, steps in cases:
        local = measure(env_id, kwargs, args.envs, 0, steps)
        one = measure(env_id, kwargs, args.envs, 1, steps)
        many = measure(env_id, kwargs, args.envs, cores, steps)
        rows[env_id] = (local, one, many)
        table.add_row(name, f"{local:,.0f}/s", f"{one:,.0f}/s", f"{many:,.0f}/s", f"{many / one:.2f}×")
    Console().print(table)
    local, one, many = rows["KeyDoor-v0"]
    print(f"KeyDoor: best workers / in process = {max(one, many) / local:.2f} (goal ≥ 0.5)")
    if "ALFWorld-v0" in rows:
        _, one, many = rows["ALFWorld-v0"]
        print(f"ALFWorld: {cores} workers / 1 worker = {many / one:.2f} (goal ≥ 1.8 with 2 cores)")


if __name__ == "__main__":
    main()
