"""ALFWorld-v0 speed vs the plain ``textworld.gym`` path ALFWorld's ``AlfredTWEnv`` uses.

Measured in the same run, on the same kitchen games (the slowest room type: most receptacles):
- reset latency: first load, and a reset of the game again (our engine keeps the parsed game and
  the memoized PDDL→SAS translation; textworld.gym re-translates every time),
- step latency: median over random admissible actions,
- throughput: env steps/s with N worker processes, each with its own env.

Run: ``.venv/bin/python benchmarks/alfworld_speed.py [--games 3] [--steps 40] [--workers 1,2]``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import statistics
import tempfile
import time
from pathlib import Path


def kitchen_records(n: int):
    from turngym.envs.alfworld.tasks import TaskSet

    ts = TaskSet("train")
    out = []
    index = 0
    while len(out) < n:
        spec_type = index % 6
        if spec_type in (3, 4):  # heat / cool games are always kitchens
            out.append(ts[index])
        index += 1
    return out


def plain_textworld(record, workdir: Path):
    """ALFWorld's own path: textworld.gym.register_games + AlfredDemangler/AlfredInfos wrappers."""
    import textworld
    import textworld.gym
    from alfworld.agents.environment.alfred_tw_env import AlfredDemangler, AlfredInfos

    folder = workdir / record.task_id
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "game.tw-pddl").write_text(json.dumps(record.game))
    (folder / "traj_data.json").write_text(json.dumps(record.traj))
    infos = textworld.EnvInfos(won=True, admissible_commands=True, extras=["gamefile"])
    env_id = textworld.gym.register_games(
        [str(folder / "game.tw-pddl")], infos, batch_size=1, asynchronous=False, max_episode_steps=10_000,
        wrappers=[AlfredDemangler(shuffle=False), AlfredInfos],
    )
    return textworld.gym.make(env_id)


def bench_plain(records, steps: int) -> dict[str, list[float]]:
    first, again, step = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for record in records:
            env = plain_textworld(record, Path(tmp))
            t = time.perf_counter()
            obs, info = env.reset()
            first.append(time.perf_counter() - t)
            t = time.perf_counter()
            obs, info = env.reset()
            again.append(time.perf_counter() - t)
            rng = random.Random(0)
            for _ in range(steps):
                action = rng.choice(info["admissible_commands"][0])
                t = time.perf_counter()
                obs, _, dones, info = env.step([action])
                step.append(time.perf_counter() - t)
                if dones[0]:
                    obs, info = env.reset()
            env.close()
    return {"reset_first": first, "reset_again": again, "step": step}


def bench_turngym(records, steps: int) -> dict[str, list[float]]:
    from turngym.envs.alfworld.engine import _SAS_CACHE
    from turngym.envs.alfworld.env import ALFWorldEnv

    first, again, step = [], [], []
    env = ALFWorldEnv(max_turns=10_000)
    for record in records:
        _SAS_CACHE.clear()  # generating the games translated them already: make the first load cold
        t = time.perf_counter()
        obs, info = env.reset(seed=0, options={"task_id": record.task_id})
        first.append(time.perf_counter() - t)
        t = time.perf_counter()
        obs, info = env.reset(seed=0, options={"task_id": record.task_id})
        again.append(time.perf_counter() - t)
        rng = random.Random(0)
        for _ in range(steps):
            action = rng.choice(info["admissible_actions"])
            t = time.perf_counter()
            obs, _, terminated, truncated, info = env.step(action)
            step.append(time.perf_counter() - t)
            if terminated or truncated:
                obs, info = env.reset(seed=0, options={"task_id": record.task_id})
    env.close()
    return {"reset_first": first, "reset_again": again, "step": step}


def _worker(args: tuple[list[str], float, int]) -> int:
    task_ids, seconds, seed = args
    from turngym.envs.alfworld.env import ALFWorldEnv

    env = ALFWorldEnv(max_turns=50)
    rng = random.Random(seed)
    obs, info = env.reset(seed=seed, options={"task_id": task_ids[0]})  # warm-up load, not timed
    n = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        obs, _, terminated, truncated, info = env.step(rng.choice(info["admissible_actions"]))
        n += 1
        if terminated or truncated:
            obs, info = env.reset(seed=seed + n, options={"task_id": rng.choice(task_ids)})
    env.close()
    return n


def throughput(task_ids: list[str], workers: int, seconds: float) -> float:
    ctx = mp.get_context("spawn")
    with ctx.Pool(workers) as pool:
        counts = pool.map(_worker, [(task_ids, seconds, 1000 * w) for w in range(workers)])
    return sum(counts) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--games", type=int, default=3)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()

    records = kitchen_records(args.games)  # generated + certified once, then cached on disk
    plain = bench_plain(records, args.steps)
    ours = bench_turngym(records, args.steps)
    med = statistics.median
    print(f"ALFWorld speed on {len(records)} kitchen games, {args.steps} random steps each (cpus: {os.cpu_count()}, load avg {os.getloadavg()[0]:.1f})")
    print(f"{'metric':28s} {'textworld.gym':>14s} {'turngym':>10s} {'speed-up':>9s}")
    for key, label in (("reset_first", "reset, first load (s)"), ("reset_again", "reset after first load (s)"), ("step", "step median (ms)")):
        scale = 1000.0 if key == "step" else 1.0
        a, b = med(plain[key]) * scale, med(ours[key]) * scale
        print(f"{label:28s} {a:14.3f} {b:10.3f} {a / b:8.1f}x")
    p90 = sorted(ours["step"])[int(0.9 * len(ours["step"])) - 1] * 1000
    print(f"{'step p90 turngym (ms)':28s} {'':14s} {p90:10.1f}")
    task_ids = [r.task_id for r in records]
    for w in [int(x) for x in args.workers.split(",") if x]:
        print(f"throughput, {w} worker(s): {throughput(task_ids, w, args.seconds):8.1f} steps/s")


if __name__ == "__main__":
    main()
