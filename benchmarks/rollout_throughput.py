"""Rollout throughput of a policy backend, and how well the engine overlaps generation with slow envs.

Part 1 — throughput: turns/s and tokens/s of ``LLMAgent`` + ``RolloutEngine`` on KeyDoor-v0 (env
steps cost microseconds, so this is the backend's speed inside a rollout), next to the backend's raw
``generate`` speed on the same prompts.

Part 2 — overlap: the same agent on ``SlowKeyDoor-v0`` (KeyDoor sleeping 50 ms per step) in vector
workers. In the same run we measure
  G = time spent generating (inside ``agent.act``),
  E = time the envs alone need for exactly the same steps (the recorded actions replayed with an
      agent that answers instantly, same slots and workers),
  T = total rollout time,
and compare T with G + E (no overlap) and with the target 1.2 × max(G, E). The engine is run with its
default scheduling (``min_batch_fraction=0.5``) and with ``min_batch_fraction=1.0`` (wait for every
episode, i.e. generation and env steps alternate) as the same-run baseline.

    .venv/bin/python benchmarks/rollout_throughput.py [--backend hf] [--policy DIR] [--size tiny|small]

The vLLM backend is added by its own engineer (``--backend vllm``); this script only needs an object
implementing the ``PolicyBackend`` protocol.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import turngym
from turngym.agents.base import AgentAction, AgentInput
from turngym.envs.registration import registry
from turngym.envs.toys.keydoor import KeyDoorEnv

STEP_DELAY_S = 0.05


class SlowKeyDoor(KeyDoorEnv):
    """KeyDoor whose every step takes 50 ms of wall time (an env waiting on a simulator or a sandbox)."""

    def _step(self, action: str) -> Any:
        time.sleep(STEP_DELAY_S)
        return super()._step(action)


if "SlowKeyDoor-v0" not in registry:  # runs in spawned workers too, which re-import this module
    turngym.register("SlowKeyDoor-v0", SlowKeyDoor, description="KeyDoor with 50 ms per step (benchmark)")


class TimedAgent:
    """Passes through to an agent and adds up the wall time of its ``act`` calls."""

    def __init__(self, agent: Any) -> None:
        self.agent = agent
        self.env_requirements = getattr(agent, "env_requirements", {})
        self.layout = getattr(agent, "layout", "step")
        self.seconds = 0.0
        self.calls = 0

    def act(self, inputs: list[AgentInput]) -> list[AgentAction]:
        t0 = time.perf_counter()
        try:
            return self.agent.act(inputs)
        finally:
            self.seconds += time.perf_counter() - t0
            self.calls += 1


class ReplayAgent:
    """Replays recorded actions instantly: the env workload of a rollout without its generation."""

    env_requirements: dict[str, Any] = {}

    def __init__(self, episodes: list[Any]) -> None:
        self.actions = {(e.meta["task_index"], e.meta["member"]): [t.action for t in e.turns] for e in episodes}

    def act(self, inputs: list[AgentInput]) -> list[AgentAction]:
        out = []
        for item in inputs:
            ep = item.episode
            actions = self.actions[(ep.meta["task_index"], ep.meta["member"])]
            k = len(ep.turns)
            out.append(AgentAction(action=actions[k]) if k < len(actions) else AgentAction(action="", stop="replay ended"))
        return out


def make_backend(kind: str, policy: str, batch_size: int) -> Any:
    if kind == "hf":
        from turngym.agents.backends.hf import HFBackend

        return HFBackend.from_pretrained(policy, batch_size=batch_size)
    if kind == "vllm":
        from turngym.cli.envs import _make_backend

        return _make_backend("vllm", policy, batch_size=batch_size, model=None, tokenizer=None)
    raise SystemExit(f"unknown backend {kind!r}")


def run(env_id: str, agent: Any, *, n: int, group: int, num_envs: int, workers: int, fraction: float = 0.5, max_turns: int = 15) -> tuple[float, list[Any]]:
    from turngym.agents.rollout import RolloutEngine, make_tasks

    with RolloutEngine(env_id, agent, num_envs=num_envs, num_workers=workers, min_batch_fraction=fraction, env_kwargs={"max_turns": max_turns}) as engine:
        engine.run(make_tasks(1, seed=10_000), group_size=min(num_envs, 2))  # warm up workers and the model
        if isinstance(agent, TimedAgent):
            agent.seconds, agent.calls = 0.0, 0
        t0 = time.perf_counter()
        episodes = engine.run(make_tasks(n), group_size=group)
        return time.perf_counter() - t0, episodes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", default="hf", choices=["hf", "vllm"])
    ap.add_argument("--policy", default=None, help="model directory (default: build a tiny model in a temp dir)")
    ap.add_argument("--size", default="tiny", choices=["tiny", "small"])
    ap.add_argument("--tasks", type=int, default=8)
    ap.add_argument("--group", type=int, default=4)
    ap.add_argument("--envs", type=int, default=16)
    ap.add_argument("--workers", type=int, default=2, help="env workers; 2 workers × 8 slots make env time ≈ generation time for tiny")
    ap.add_argument("--max-new-tokens", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--layout", default="step", choices=["step", "concat"])
    args = ap.parse_args()

    import torch

    from turngym.agents.backends.base import SamplingParams
    from turngym.agents.llm import LLMAgent
    from turngym.models import ensure_model_dir

    torch.set_num_threads(args.threads)
    policy = args.policy or str(ensure_model_dir(os.path.join(tempfile.gettempdir(), f"turngym-bench-{args.size}"), args.size))
    backend = make_backend(args.backend, policy, batch_size=max(args.envs, 1))
    sampling = SamplingParams(max_new_tokens=args.max_new_tokens, temperature=1.0, seed=0)

    def agent() -> TimedAgent:
        return TimedAgent(LLMAgent(backend, layout=args.layout, sampling=sampling))

    print(f"backend={args.backend} policy={policy} threads={args.threads} tasks×group={args.tasks}×{args.group} "
          f"envs={args.envs} max_new_tokens={args.max_new_tokens} layout={args.layout}")

    # -- part 1: throughput on a fast env ------------------------------------------------------------
    timed = agent()
    total, eps = run("KeyDoor-v0", timed, n=args.tasks, group=args.group, num_envs=args.envs, workers=0)
    turns = sum(e.num_turns for e in eps)
    tokens = sum(len(t.response_token_ids or []) for e in eps for t in e.turns)
    prompts = [t.prompt_token_ids for e in eps for t in e.turns][: args.envs]
    t0 = time.perf_counter()
    raw = backend.generate(prompts, SamplingParams(max_new_tokens=args.max_new_tokens, temperature=1.0))
    raw_s = time.perf_counter() - t0
    raw_tokens = sum(len(c.token_ids) for c in raw)
    print("\nPart 1: throughput on KeyDoor-v0 (in-process envs)")
    print(f"{'backend':<8} {'episodes':>8} {'turns':>6} {'turns/s':>8} {'tokens/s':>9} {'gen share':>9} {'raw generate tok/s (batch %d)' % len(prompts):>30}")
    print(f"{args.backend:<8} {len(eps):>8} {turns:>6} {turns / total:>8.1f} {tokens / total:>9.0f} {timed.seconds / total:>9.0%} {raw_tokens / raw_s:>30.0f}")

    # -- part 2: overlap with a slow env ---------------------------------------------------------------
    rows = []
    for fraction, label in ((0.5, "engine default (min_batch_fraction=0.5)"), (1.0, "no overlap (min_batch_fraction=1.0)")):
        timed = agent()
        total, eps = run("SlowKeyDoor-v0", timed, n=args.tasks, group=args.group, num_envs=args.envs, workers=args.workers, fraction=fraction)
        env_alone, _ = run("SlowKeyDoor-v0", ReplayAgent(eps), n=args.tasks, group=args.group, num_envs=args.envs, workers=args.workers)
        gen = timed.seconds
        steps = sum(e.num_turns for e in eps)
        rows.append((label, total, gen, env_alone, steps, timed.calls))
    print(f"\nPart 2: overlap on SlowKeyDoor-v0 ({STEP_DELAY_S * 1000:.0f} ms/step, {args.envs} slots in {args.workers} workers)")
    print(f"{'scheduling':<40} {'steps':>6} {'act calls':>9} {'G gen s':>8} {'E env s':>8} {'G+E s':>7} {'T total s':>9} {'T/max(G,E)':>10} {'target':>7}")
    for label, total, gen, env_alone, steps, calls in rows:
        ratio = total / max(gen, env_alone)
        print(f"{label:<40} {steps:>6} {calls:>9} {gen:>8.2f} {env_alone:>8.2f} {gen + env_alone:>7.2f} {total:>9.2f} {ratio:>10.2f} {'ok' if ratio <= 1.2 else 'MISSED':>7}")
    backend.close()


if __name__ == "__main__":
    main()
