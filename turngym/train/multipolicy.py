"""Several policies in one multi-agent episode: each agent id trains the policy it is assigned.

``policy.agent_policies`` maps agent ids to policy names (``{critic1: critic, critic2: critic}``);
agents not listed play the main policy (the one every single-policy component sees: behaviour
cloning, checkpoints' model files, the replay's branch policy). Each named policy is its own copy
of the model with its own optimizer (and reference model when ``kl_coef > 0``); the rollout agent
is an :class:`~turngym.agents.discussion.AgentRouter` that sends each waiting message to the LLM
agent of its policy, and the update trains each policy on the step rows of its agents only.

Every policy starts from the main model's weights at step 0 (after behaviour cloning, if any), so a
BC warm start benefits all of them; named policies are saved in the checkpoint's state file and
restored on ``--resume``. Limits, refused with a clear error: the ``hf`` backend (one in-process
module per policy), the step layout (a concatenated transcript mixes agents in one sample), no
LoRA, no Ray workers, and estimators that need the policy model themselves (AEM, A²TGPO, OPRL).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch

from turngym.core.episode import Episode
from turngym.train import checkpoint as ckpt
from turngym.train.config import ConfigError, TrainConfig
from turngym.train.parallel import SINGLE, DistContext
from turngym.train.samples import build_samples
from turngym.train.trainer import Trainer
from turngym.train.update import policy_update

MAIN = "main"
_NEEDS_MODEL = ("aem", "a2tgpo", "oprl")


class MultiPolicyTrainer(Trainer):
    def __init__(self, cfg: TrainConfig, *, run_dir: Path | None = None, resume: bool = False, console: Any = None,
                 ctx: DistContext = SINGLE) -> None:
        p = cfg.policy
        problems = [
            msg
            for bad, msg in (
                (p.backend != "hf", "policy.backend must be hf"),
                (p.layout != "step", "policy.layout must be step"),
                (cfg.model.lora.enabled, "model.lora.enabled must be false"),
                (cfg.distributed.ray, "distributed.ray must be false"),
                (cfg.algo.name in _NEEDS_MODEL, f"algo.name {cfg.algo.name} scores turns with the policy model"),
            )
            if bad
        ]
        if problems:
            raise ConfigError(f"policy.agent_policies (several policies): {'; '.join(problems)}")
        super().__init__(cfg, run_dir=run_dir, resume=resume, console=console, ctx=ctx)  # world 1 only: validate_world
        self.policies: dict[str, dict[str, Any]] = {}
        self._synced_at_start = False

    # -- building -------------------------------------------------------------------------------
    def _ensure_policies(self) -> None:
        """The named policies: copies of the main model (restored from the checkpoint on resume)."""
        if self.policies:
            return
        from turngym.agents.backends.hf import HFBackend

        saved: dict[str, Any] = {}
        latest = ckpt.latest_checkpoint(self.run_dir) if self.resume else None
        if latest is not None:
            saved = ckpt.load_state(latest).get("policies") or {}
        for name in sorted(set(self.cfg.policy.agent_policies.values()) - {MAIN}):
            model = copy.deepcopy(self.model)
            optimizer = torch.optim.AdamW([q for q in model.parameters() if q.requires_grad], lr=self.cfg.optim.lr, weight_decay=self.cfg.optim.weight_decay)
            if name in saved:
                model.load_state_dict(saved[name]["model"])
                optimizer.load_state_dict(saved[name]["optimizer"])
                # a run resumed after step 0 continues from the saved weights; at step 0 it re-syncs
                self._synced_at_start = self.step > 0
            ref = None
            if self.cfg.optim.kl_coef > 0:
                ref = copy.deepcopy(model).eval()
                for q in ref.parameters():
                    q.requires_grad_(False)
            self.policies[name] = {"model": model, "optimizer": optimizer, "backend": HFBackend(model, self.tokenizer), "ref": ref}

    def _make_agent(self, backend: Any, *, temperature: float) -> Any:
        from turngym.agents.discussion import AgentRouter
        from turngym.train.policy import make_llm_agent

        self._ensure_policies()
        kwargs = self._agent_kwargs(temperature)
        main = make_llm_agent(backend, env_id=self.cfg.env.id, **kwargs)
        per_policy = {name: make_llm_agent(p["backend"], env_id=self.cfg.env.id, **kwargs) for name, p in self.policies.items()}
        routed = {agent: per_policy[name] for agent, name in self.cfg.policy.agent_policies.items() if name != MAIN}
        return AgentRouter(routed, default=main)

    def _sync_from_main(self) -> None:
        """Before the first RL step every policy starts from the main (possibly BC'd) weights."""
        if self.step == 0 and not self._synced_at_start:
            state = self.model.state_dict()
            for p in self.policies.values():
                p["model"].load_state_dict(state)
                if p["ref"] is not None:
                    p["ref"].load_state_dict(state)

    # -- stages ---------------------------------------------------------------------------------
    def evaluate(self, n_tasks: int | None = None) -> dict[str, float]:
        self._sync_from_main()
        return super().evaluate(n_tasks)

    def train_step(self) -> dict[str, float]:
        self._sync_from_main()
        self._synced_at_start = True
        return super().train_step()

    def policy_of(self, agent: str | None) -> str:
        return self.cfg.policy.agent_policies.get(agent or "", MAIN)

    def update(self, episodes: list[Episode]) -> dict[str, float]:
        samples = build_samples(episodes, layout="step", drop_zero_advantage=self.cfg.optim.drop_zero_advantage)
        split: dict[str, list[Any]] = {MAIN: [], **{name: [] for name in self.policies}}
        for s in samples:
            e_idx, t_idx = s.spans[0][0], s.spans[0][1]
            split[self.policy_of(episodes[e_idx].turns[t_idx].agent)].append(s)
        metrics: dict[str, float] = {}
        for name, chunk in split.items():
            if not chunk:
                continue
            p = {"model": self.model, "optimizer": self.optimizer, "ref": self.ref_model} if name == MAIN else self.policies[name]
            out = policy_update(
                p["model"], p["optimizer"], chunk, episodes, self.cfg.optim, pad_id=self.pad_id, temperature=1.0, ref_model=p["ref"], device=self.device,
            )
            metrics.update(out if name == MAIN else {f"{name}/{k}": v for k, v in out.items()})
            metrics[f"policy/{name}/samples"] = float(len(chunk))
        return metrics

    def extra_state(self) -> dict[str, Any]:
        return {"policies": {name: {"model": p["model"].state_dict(), "optimizer": p["optimizer"].state_dict()} for name, p in self.policies.items()}}


def make_trainer(cfg: TrainConfig, **kwargs: Any) -> Trainer:
    """A ``Trainer``, or a ``MultiPolicyTrainer`` when ``policy.agent_policies`` names policies."""
    if cfg.policy.agent_policies and set(cfg.policy.agent_policies.values()) - {MAIN}:
        return MultiPolicyTrainer(cfg, **kwargs)
    return Trainer(cfg, **kwargs)
