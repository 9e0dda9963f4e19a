"""The training loop: rollout → advantages → policy update → weight sync → evaluation.

One ``Trainer`` runs the same loop on a laptop CPU (tiny local model, in-process ``hf`` backend
sharing the trainer's module, in-process envs) and on GPUs (a real model, the ``vllm`` backend with
in-place weight reload, env worker processes, Ray rollout workers). Every stage reads and writes
only ``Episode`` records, so estimators, the store and the replay viewer see the same data.

Crash safety: a checkpoint holds weights, optimizer, RNG states and the task sampler's position;
``resume`` drops the episodes and metrics the crashed run produced after that checkpoint, so the
resumed run neither loses nor double-counts an episode and, on CPU with fixed seeds, logs the same
metrics as an uninterrupted run.

On N learner ranks (``turngym train --nproc N`` or torchrun) every rank runs this same loop on its
:class:`~turngym.train.parallel.DistContext`: the policy is sharded with FSDP2, each rank rolls out
its share of the tasks, the full batch is gathered (:mod:`turngym.train.spread`), advantages are
computed on it everywhere, and the update is split by whole groups. Rank 0 alone owns the run
directory, the store and the metrics; checkpoints are sharded (``torch.distributed.checkpoint``)
so a run resumes at another world size.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from turngym.agents.rollout import RolloutEngine, TaskSpec
from turngym.core.episode import Episode, new_id, summarize
from turngym.core.table import TurnTable
from turngym.train import algo_inputs
from turngym.train import checkpoint as ckpt
from turngym.train.config import TrainConfig
from turngym.train.metrics import MetricsLogger
from turngym.train.parallel import SINGLE, DistContext, barrier, broadcast_object, full_weights
from turngym.train.policy import set_sampling_seed
from turngym.train.samples import build_samples
from turngym.train.update import policy_update
from turngym.train.validation import validate_combination, validate_world  # noqa: F401 - public here too
from turngym.train.loop_helpers import clear_failed_start, drop_flat_groups, mask_void_episodes

logger = logging.getLogger(__name__)

EVAL_SEED_BASE = 1_000_000  # eval tasks use seeds disjoint from the training sampler's


class Trainer:
    def __init__(self, cfg: TrainConfig, *, run_dir: Path | None = None, resume: bool = False, console: Any = None,
                 ctx: DistContext = SINGLE) -> None:
        self.cfg = cfg
        self.run_dir = Path(run_dir or cfg.run.out)
        self.console = console
        self.resume = resume
        self.step = 0
        self.ctx = ctx
        self.device = ctx.device if ctx.enabled else ("cuda" if torch.cuda.is_available() else "cpu")
        validate_combination(cfg)
        validate_world(cfg, ctx.world)

    # -- setup ----------------------------------------------------------------------------------
    def setup(self) -> None:
        from turngym.store import EpisodeStore

        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # per-load/save bars would drown the training progress
        cfg, ctx = self.cfg, self.ctx
        if cfg.run.threads:
            torch.set_num_threads(cfg.run.threads)
        state: dict[str, Any] | None = None
        latest = ckpt.latest_checkpoint(self.run_dir) if self.resume else None
        if self.resume and latest is None:
            raise FileNotFoundError(f"--resume: no checkpoint under {self.run_dir / 'checkpoints'}")
        self.cleared_failed_start = False
        if not self.resume and ckpt.list_checkpoints(self.run_dir):
            raise FileExistsError(
                f"{self.run_dir} already holds a run with checkpoints; continue it with `turngym train --resume {self.run_dir}` "
                "or start a new one with another run.out=DIR"
            )
        if not self.resume and (self.run_dir / "metrics.jsonl").exists():
            # an earlier start died before its first checkpoint: nothing to resume, so start afresh
            self.cleared_failed_start = True
        barrier(ctx)  # every rank has checked before rank 0 writes anything
        if self.cleared_failed_start and ctx.is_main:
            clear_failed_start(self.run_dir)
        self._seed_everything(cfg.run.seed)
        if ctx.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self._model_dir(latest)  # rank 0 builds a fresh local model (when none is given), the others then read it
        barrier(ctx)
        model_dir = self._model_dir(latest)
        self.model, self.tokenizer = self._load_policy(model_dir, adapter_dir=latest if latest and cfg.model.lora.enabled else None)
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        self.ref_model = None
        if cfg.optim.kl_coef > 0:  # copied before sharding, then sharded the same way
            self.ref_model = copy.deepcopy(self.model).eval()
            for p in self.ref_model.parameters():
                p.requires_grad_(False)
        if ctx.enabled:
            self._shard()
        self.optimizer = torch.optim.AdamW(
            [p for p in self.model.parameters() if p.requires_grad], lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay
        )
        self.task_rng = np.random.default_rng(cfg.run.seed)
        run_id = json.loads((self.run_dir / "run.json").read_text())["run_id"] if latest else new_id()[:12]
        self.run_id = broadcast_object(run_id, ctx)
        if latest is not None:
            state = ckpt.load_state(latest)
            ckpt.load_training_state(latest, self.model, self.optimizer, state, ctx)
            self.task_rng.bit_generator.state = state["task_rng"]
            self.step = int(state["step"])
            self.bc_done = bool(state.get("bc_done", True))
        else:
            self.bc_done = not cfg.bc.enabled
            if ctx.is_main:
                (self.run_dir / "run.json").write_text(json.dumps({"run_id": self.run_id}))
                (self.run_dir / "config.yaml").write_text(_dump_yaml(cfg))
        self.prm: algo_inputs.StepRewardModel | None = None
        if cfg.algo.name == "oprl":
            self.prm = algo_inputs.StepRewardModel(self.model, preset=cfg.algo.preset, **cfg.algo.prm)
            if state is not None and state.get("prm") is not None:
                self.prm.load_state_dict(state["prm"])
        self.store: EpisodeStore | None = None
        self.metrics: MetricsLogger | None = None
        if ctx.is_main:  # one store and one set of metrics per run, whatever the world size
            self.store = EpisodeStore(self.run_dir)
            self.store.set_run(self.run_id, cfg.model_dump(mode="json"), kind="train")
            self.metrics = MetricsLogger(self.run_dir, tensorboard=cfg.run.tensorboard, wandb=cfg.run.wandb, wandb_project=cfg.run.wandb_project, config=cfg.model_dump(mode="json"))
            if latest is not None:
                removed = self.store.delete(run_id=self.run_id, min_step=self.step + 1)
                self.metrics.truncate_after(self.step)
                logger.info("resumed %s at step %d (dropped %d episodes of the lost steps)", self.run_id, self.step, removed)
        self.backend = self._make_backend(model_dir)
        self.agent = self._make_agent(self.backend, temperature=cfg.policy.temperature)
        self.engine = self._make_engine(self.agent)
        self.eval_agent: Any = None
        self.eval_engine: RolloutEngine | None = None
        self.pool = None
        if cfg.distributed.ray:
            from turngym.train.distributed import RayRolloutPool

            r = cfg.rollout
            self.pool = RayRolloutPool(
                cfg.distributed.num_rollout_workers,
                address=cfg.distributed.ray_address,
                model_dir=str(model_dir),
                agent_kwargs=self._agent_kwargs(cfg.policy.temperature),
                env_id=cfg.env.id,
                env_kwargs=cfg.env.kwargs,
                engine_kwargs={"num_envs": r.num_envs, "num_workers": r.num_workers, "timeout": r.env_timeout},
                threads=cfg.run.threads or 1,
            )

    def _shard(self) -> None:
        """FSDP2 per decoder layer (policy and reference model), before the optimizer is built."""
        from turngym.train.parallel import shard_model

        d = self.cfg.distributed
        dtype = d.param_dtype if d.param_dtype != "auto" else ("bfloat16" if self.cfg.model.dtype == "bfloat16" else "float32")
        shard_model(self.model, param_dtype=dtype, cpu_offload=d.cpu_offload)
        if self.ref_model is not None:
            shard_model(self.ref_model, param_dtype=dtype, cpu_offload=d.cpu_offload)

    def log_metrics(self, record: dict[str, Any]) -> None:
        """Rank 0 writes metrics (JSONL, TensorBoard, W&B); the other ranks' records are the same."""
        if self.metrics is not None:
            self.metrics.log(record)

    def _seed_everything(self, seed: int) -> None:
        import random

        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)

    def _model_dir(self, latest: Path | None) -> Path:
        cfg = self.cfg
        if latest is not None and not cfg.model.lora.enabled:
            return latest
        if cfg.model.path:
            return Path(cfg.model.path)
        from turngym.models.tiny import build_model_dir

        target = self.run_dir / "init_model"
        if not (target / "config.json").exists():
            build_model_dir(target, cfg.model.init or "tiny", seed=cfg.run.seed)
        return target

    def _load_policy(self, model_dir: Path, adapter_dir: Path | None) -> tuple[Any, Any]:
        from turngym.models.loading import load_model_and_tokenizer

        model, tokenizer = load_model_and_tokenizer(model_dir, dtype=self.cfg.model.dtype, device=self.device)
        lora = self.cfg.model.lora
        if lora.enabled:
            from peft import LoraConfig, PeftModel, get_peft_model

            if adapter_dir is not None:
                model = PeftModel.from_pretrained(model, adapter_dir, is_trainable=True)
            else:
                model = get_peft_model(
                    model, LoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout, target_modules=lora.target_modules, task_type="CAUSAL_LM")
                )
        if self.cfg.optim.gradient_checkpointing:
            model.gradient_checkpointing_enable()
        model.eval()
        return model, tokenizer

    def _make_backend(self, model_dir: Path) -> Any:
        if self.cfg.policy.backend == "hf":
            from turngym.agents.backends.hf import HFBackend

            return HFBackend(self.model, self.tokenizer)
        from turngym.agents.backends.vllm import VLLMBackend

        return VLLMBackend(str(model_dir), dtype=self.cfg.model.dtype, enable_lora=self.cfg.model.lora.enabled, **self.cfg.policy.vllm)

    def _agent_kwargs(self, temperature: float) -> dict[str, Any]:
        p = self.cfg.policy
        return {
            "template": p.template,
            "projection": p.projection,
            "layout": p.layout,
            "concat_reply": p.concat_reply,
            "history_k": p.history_k,
            "max_new_tokens": p.max_new_tokens,
            "max_prompt_tokens": p.max_prompt_tokens,
            "temperature": temperature,
            "top_p": p.top_p,
            "seed": self.cfg.run.seed,
        }

    def _make_agent(self, backend: Any, *, temperature: float) -> Any:
        from turngym.train.policy import make_llm_agent

        return make_llm_agent(backend, env_id=self.cfg.env.id, **self._agent_kwargs(temperature))

    def _make_engine(self, agent: Any) -> RolloutEngine:
        r = self.cfg.rollout
        return RolloutEngine(self.cfg.env.id, agent, env_kwargs=self.cfg.env.kwargs, num_envs=r.num_envs, num_workers=r.num_workers, timeout=r.env_timeout)

    # -- stages ---------------------------------------------------------------------------------
    def sample_tasks(self) -> list[TaskSpec]:
        seeds = self.task_rng.integers(0, 2**31 - 1, size=self.cfg.rollout.tasks_per_step)
        options = {"split": self.cfg.env.train_split} if self.cfg.env.train_split else {}
        return [TaskSpec(seed=int(s), options=dict(options)) for s in seeds]

    def _run_tasks(self, tasks: list[TaskSpec], step: int) -> list[Episode]:
        seed = self.cfg.run.seed * 1_000_003 + step
        if self.pool is not None:
            self.pool.sync(self.model.state_dict())
            return self.pool.run(tasks, group_size=self.cfg.rollout.group_size, run_id=self.run_id, step=step, seed=seed)
        return self._run_share(self.engine, self.agent, tasks, seed, group_size=self.cfg.rollout.group_size, step=step)

    def _run_share(self, engine: RolloutEngine, agent: Any, tasks: list[TaskSpec], seed: int, *, group_size: int,
                   step: int | None) -> list[Episode]:
        """This rank's share of ``tasks`` with full weights gathered (no collective while ranks
        generate different amounts), then every rank's episodes; with one rank, simply ``tasks``."""
        from turngym.train import spread

        ctx = self.ctx
        set_sampling_seed(agent, seed + 7919 * ctx.rank)  # distinct sampling streams per rank
        kw: dict[str, Any] = {"group_size": group_size, "run_id": self.run_id}
        if step is not None:
            kw["step"] = step
        if not ctx.enabled:
            return engine.run(tasks, **kw)
        mine = [tasks[i] for i in spread.my_share(len(tasks), ctx)]
        with full_weights(self.model, ctx):
            episodes = engine.run(mine, **kw) if mine else []
        return spread.gather_episodes(episodes, ctx)

    def rollout(self, step: int) -> list[Episode]:
        episodes = self._run_tasks(self.sample_tasks(), step)
        for _ in range(self.cfg.algo.max_resample if self.cfg.algo.dynamic_sampling else 0):
            episodes = drop_flat_groups(episodes)
            missing = self.cfg.rollout.tasks_per_step - len({e.group_id for e in episodes})
            if missing <= 0:
                break
            episodes += self._run_tasks(self.sample_tasks()[:missing], step)
        return episodes

    def advantages(self, episodes: list[Episode]) -> dict[str, float]:
        from turngym.algos import compute_advantages

        with full_weights(self.model, self.ctx):  # scoring passes differ in length per rank: no collectives
            metrics = self.algorithm_inputs(episodes)
        table = TurnTable.from_episodes(episodes)
        if len(table) == 0:
            return metrics
        if self.cfg.algo.name == "a2tgpo" and table.info_gain is None:  # no multi-turn episode in the batch
            table.info_gain = np.full(len(table), np.nan)
        if self.cfg.algo.name == "matchtir":
            table.tool_match_reward = algo_inputs.tool_match_column(episodes, preset=self.cfg.algo.preset)
        result = compute_advantages(self.cfg.algo.name, table, preset=self.cfg.algo.preset, **self.cfg.algo.params)
        table.write_back(episodes, result.advantage, result.clip_scale)
        if self.cfg.algo.filter_void:
            metrics["filter/void_episodes"] = float(mask_void_episodes(episodes))
        adv = np.asarray(result.advantage)
        return {**metrics, "adv/mean": float(adv.mean()), "adv/std": float(adv.std()), "adv/nonzero": float((adv != 0).mean())}

    def algorithm_inputs(self, episodes: list[Episode]) -> dict[str, float]:
        """Entropy (AEM), information gain (A²TGPO), PRM step rewards (OPRL) when selected."""
        name, cfg = self.cfg.algo.name, self.cfg
        uses = {name, str(cfg.algo.params.get("base", ""))}
        metrics: dict[str, float] = {}
        if "aem" in uses:
            n = algo_inputs.ensure_entropy(self.model, episodes, layout=cfg.policy.layout, pad_id=self.pad_id, token_budget=cfg.optim.micro_batch_tokens)
            metrics["aem/recomputed_entropy_turns"] = float(n)
        if "a2tgpo" in uses:
            metrics["a2tgpo/ig_turns"] = float(algo_inputs.fill_info_gain(self.model, self.tokenizer, episodes, preset=cfg.algo.preset, pad_id=self.pad_id))
        if "oprl" in uses:
            if self.prm is None:
                self.prm = algo_inputs.StepRewardModel(self.model, preset=cfg.algo.preset, **cfg.algo.prm)
            metrics.update(self.prm.fill_step_rewards(episodes, pad_id=self.pad_id))
        return metrics

    def update(self, episodes: list[Episode]) -> dict[str, float]:
        from turngym.train import spread
        from turngym.train.partition import samples_for_rank

        samples = build_samples(episodes, layout=self.cfg.policy.layout, drop_zero_advantage=self.cfg.optim.drop_zero_advantage)
        ctx = self.ctx
        samples = samples_for_rank(samples, episodes, ctx.rank, ctx.world)  # whole groups, balanced by tokens
        metrics = policy_update(
            self.model,
            self.optimizer,
            samples,
            episodes,
            self.cfg.optim,
            pad_id=self.pad_id,
            temperature=1.0,  # the backends report raw (temperature-1) logprobs, like vLLM's default
            ref_model=self.ref_model,
            device=self.device,
            ctx=ctx,
        )
        spread.share_trainer_logprobs(episodes, samples, ctx)
        self.sync_weights()
        return metrics

    def sync_weights(self) -> None:
        """The hf backend shares the module (nothing to do); vllm reloads weights or the adapter."""
        if self.cfg.policy.backend == "hf":
            return
        if self.cfg.model.lora.enabled:
            adapter = self.run_dir / "sync_adapter"
            self.model.save_pretrained(adapter)
            self.backend.load_adapter(str(adapter), name=f"step{self.step}")
        else:
            self.backend.load_weights(self.model.state_dict())

    def evaluate(self, n_tasks: int | None = None) -> dict[str, float]:
        cfg = self.cfg
        n = n_tasks or cfg.eval.tasks
        options = {"split": cfg.env.eval_split} if cfg.env.eval_split else {}
        tasks = [TaskSpec(seed=EVAL_SEED_BASE + i, options=dict(options)) for i in range(n)]
        if self.eval_engine is None:  # built once: worker processes are not re-spawned per eval
            self.eval_agent = self._make_agent(self.backend, temperature=cfg.policy.eval_temperature)
            self.eval_engine = self._make_engine(self.eval_agent)
        episodes = self._run_share(self.eval_engine, self.eval_agent, tasks, EVAL_SEED_BASE, group_size=1, step=self.step)
        for e in episodes:  # stored to be found (turngym replay RUN --list --failed), kept apart from training data
            e.tag = "eval"
        if self.store is not None:
            self.store.write(episodes)
        return summarize(episodes, "eval")

    # -- the loop -------------------------------------------------------------------------------
    def train_step(self) -> dict[str, float]:
        step = self.step + 1
        t0 = time.monotonic()
        episodes = self.rollout(step)
        t_rollout = time.monotonic() - t0
        metrics: dict[str, float] = {"step": step, **summarize(episodes, "train")}
        t1 = time.monotonic()
        metrics.update(self.advantages(episodes))
        metrics.update(self.update(episodes))
        t_update = time.monotonic() - t1
        if self.store is not None:
            self.store.write(episodes)
        metrics.update({"time/rollout_s": t_rollout, "time/update_s": t_update, "time/step_s": time.monotonic() - t0})
        self.step = step
        return metrics

    def save(self) -> Path:
        state = {
            "task_rng": self.task_rng.bit_generator.state,
            "bc_done": self.bc_done,
            "run_id": self.run_id,
            "prm": self.prm.state_dict() if self.prm is not None else None,
            **self.extra_state(),
        }
        return ckpt.save_checkpoint(self.run_dir, self.step, self.model, self.tokenizer, state, keep=self.cfg.run.keep_checkpoints,
                                    optimizer=self.optimizer, ctx=self.ctx, agent_settings=self.agent_settings())

    def extra_state(self) -> dict[str, Any]:
        """More state for the checkpoint (subclasses: e.g. the named policies of MultiPolicyTrainer)."""
        return {}

    def agent_settings(self) -> dict[str, Any]:
        """How this policy is prompted (stored with every checkpoint: ``turngym_agent.json``)."""
        from turngym.train.policy import agent_settings_of

        return agent_settings_of(self.cfg)

    def close(self) -> None:
        for name in ("engine", "eval_engine", "pool"):
            obj = getattr(self, name, None)
            if obj is not None:
                obj.close()
        if getattr(self, "backend", None) is not None and self.cfg.policy.backend != "hf":
            self.backend.close()
        if getattr(self, "store", None) is not None:
            self.store.close()
        if getattr(self, "metrics", None) is not None:
            self.metrics.close()


def _dump_yaml(cfg: TrainConfig) -> str:
    import yaml

    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)
