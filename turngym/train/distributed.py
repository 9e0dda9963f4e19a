"""Scale-out of rollouts on Ray: each actor owns envs and a generation backend; the learner owns
the optimizer. Nothing here schedules or talks RPC by hand: Ray places the actors (on one machine
or a cluster, ``ray.init(address=...)``) and moves the weights (``ray.put`` once per sync, shared
by all actors through the object store).

The actors run the same ``RolloutEngine`` and LLM agent as the single-process trainer, so an
episode from a Ray worker is indistinguishable from a local one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from turngym.agents.rollout import TaskSpec
from turngym.core.episode import Episode


class RolloutWorker:
    """Body of a Ray actor: a policy copy, an agent and a rollout engine."""

    def __init__(self, model_dir: str, agent_kwargs: dict[str, Any], env_id: str, env_kwargs: dict[str, Any], engine_kwargs: dict[str, Any], threads: int = 1) -> None:
        import torch

        from turngym.agents.backends.hf import HFBackend
        from turngym.train.policy import make_llm_agent
        from turngym.agents.rollout import RolloutEngine
        from turngym.models.loading import load_model_and_tokenizer
        from turngym.train.policy import set_sampling_seed

        self._set_seed = set_sampling_seed

        torch.set_num_threads(threads)
        self.model, self.tokenizer = load_model_and_tokenizer(model_dir)
        self.model.eval()
        self.backend = HFBackend(self.model, self.tokenizer)
        self.agent = make_llm_agent(self.backend, env_id=env_id, **agent_kwargs)
        self.engine = RolloutEngine(env_id, self.agent, env_kwargs=env_kwargs, **engine_kwargs)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state)

    def run(self, tasks: Sequence[TaskSpec], group_size: int, run_id: str, step: int, seed: int) -> list[dict[str, Any]]:
        self._set_seed(self.agent, seed)
        episodes = self.engine.run(tasks, group_size=group_size, run_id=run_id, step=step)
        return [e.model_dump(mode="json") for e in episodes]

    def close(self) -> None:
        self.engine.close()


class RayRolloutPool:
    """``num_workers`` Ray actors that split each step's tasks between them."""

    def __init__(self, num_workers: int, *, address: str | None = None, **worker_kwargs: Any) -> None:
        try:
            import ray
        except ImportError as exc:
            raise ImportError("distributed.ray=true needs Ray: pip install 'turngym[ray]'") from exc
        self._ray = ray
        if not ray.is_initialized():
            ray.init(address=address, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
        actor = ray.remote(num_cpus=0)(RolloutWorker)
        self.workers = [actor.remote(**worker_kwargs) for _ in range(num_workers)]

    def sync(self, state_dict: dict[str, Any]) -> None:
        ref = self._ray.put({k: v.detach().cpu() for k, v in state_dict.items()})
        self._ray.get([w.load_state_dict.remote(ref) for w in self.workers])

    def run(self, tasks: Sequence[TaskSpec], *, group_size: int, run_id: str, step: int, seed: int) -> list[Episode]:
        """Tasks are dealt round-robin; episodes come back in task order, like ``RolloutEngine.run``."""
        n = len(self.workers)
        shards = [list(tasks[i::n]) for i in range(n)]
        futures = [w.run.remote(shard, group_size, run_id, step, seed * 1000 + i) for i, (w, shard) in enumerate(zip(self.workers, shards)) if shard]
        results = self._ray.get(futures)
        by_worker = [[Episode.model_validate(d) for d in r] for r in results]
        ordered: list[Episode] = []
        for t in range(len(tasks)):
            w, k = t % n, t // n
            ordered.extend(by_worker[w][k * group_size:(k + 1) * group_size])
        return ordered

    def close(self) -> None:
        try:
            self._ray.get([w.close.remote() for w in self.workers])
        finally:
            for w in self.workers:
                self._ray.kill(w)
