"""Configs that cannot run are refused before any model, env worker or rank is built.

Each check names the key and what is allowed, so a typo fails the dry run (``turngym train
--dry-run``) instead of a run minutes later. ``validate_world`` holds what N learner ranks cannot
run; every rank raises alike, and ``--nproc`` calls it before launching any process.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import torch

from turngym.train.config import ConfigError, TrainConfig

logger = logging.getLogger(__name__)


def validate_combination(cfg: TrainConfig) -> None:
    """Refuse configs that cannot work, before any model or env worker is built."""
    import turngym
    from turngym.algos import estimators

    if cfg.algo.name not in estimators:
        raise ConfigError(f"algo.name {cfg.algo.name!r} is not a registered estimator ({', '.join(estimators)})")
    _validate_algo_params(cfg, estimators[cfg.algo.name])
    try:
        env = turngym.make(cfg.env.id, **cfg.env.kwargs)
    except Exception as exc:
        raise ConfigError(f"env {cfg.env.id!r} with kwargs {cfg.env.kwargs} cannot be made: {exc}") from None
    _, info = env.reset(seed=0, options={"split": cfg.env.train_split} if cfg.env.train_split else None)
    from turngym.agents.parsing import make_projection
    from turngym.agents.prompting import resolve_template

    try:
        make_projection("plain" if cfg.policy.projection == "auto" else cfg.policy.projection)
        resolve_template(cfg.policy.template, env_id=cfg.env.id)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"policy: {exc}") from None
    if cfg.algo.name == "a2tgpo" and "ground_truth" not in info:
        raise ConfigError(
            f"algo.name=a2tgpo needs info['ground_truth'] from the env (information gain is measured on the "
            f"ground-truth answer), and {cfg.env.id} gives none; use an env with a ground truth or another estimator"
        )
    if cfg.algo.name == "matchtir" and cfg.policy.layout != "concat":
        raise ConfigError("algo.name=matchtir works on tool-call transcripts: set policy.layout=concat")
    if cfg.bc.enabled:
        try:
            expert_env = turngym.make(cfg.env.id, **{**cfg.env.kwargs, "expert": True})
            _, info = expert_env.reset(seed=0)
        except TypeError:
            info = {}
        if "expert_action" not in info:
            raise ConfigError(f"bc.enabled=true needs an env oracle (info['expert_action'] with expert=True); {cfg.env.id} has none")
    if cfg.distributed.ray and cfg.model.lora.enabled:
        raise ConfigError("distributed.ray=true with model.lora.enabled=true is not supported yet: Ray workers hold full weights")
    if cfg.distributed.ray and cfg.policy.backend == "vllm" and not torch.cuda.is_available():
        logger.warning("distributed.ray with the vllm backend on CPU: each Ray worker starts its own vLLM engine")


def validate_world(cfg: TrainConfig, world: int) -> None:
    """Refuse what N learner ranks cannot run, before any model is built (every rank raises alike)."""
    if world <= 1:
        return
    if cfg.rollout.tasks_per_step % world:
        raise ConfigError(
            f"rollout.tasks_per_step={cfg.rollout.tasks_per_step} does not split into whole groups over {world} ranks: "
            f"use a multiple of {world} (each rank rolls out tasks_per_step/{world} tasks x group_size)"
        )
    if cfg.distributed.ray:
        raise ConfigError("distributed.ray=true with several learner ranks is not supported: use Ray rollout workers with one learner process")
    if cfg.policy.backend != "hf":
        raise ConfigError(
            f"policy.backend={cfg.policy.backend} with several learner ranks is not supported yet (a rollout engine per rank "
            "needs a GPU to test); use policy.backend=hf, or one learner process"
        )
    if set(cfg.policy.agent_policies.values()) - {"main"}:
        raise ConfigError("policy.agent_policies (several policies) trains in one process; run it with one learner process")
    if cfg.algo.name == "oprl" or str(cfg.algo.params.get("base", "")) == "oprl":
        raise ConfigError("algo.name=oprl trains its implicit PRM in one process; run OPRL with one learner process")
    per_node = int(os.environ.get("LOCAL_WORLD_SIZE", world))
    if torch.cuda.is_available() and per_node > torch.cuda.device_count():
        raise ConfigError(f"{per_node} ranks per node but {torch.cuda.device_count()} CUDA devices: --nproc at most the devices")


def _generic_algo_params() -> tuple[str, ...]:
    """``compute_advantages``'s own keyword options (e.g. ``per_agent``), which every estimator takes
    beside the fields of its config: read from its signature, so a new option needs no list here."""
    import inspect

    from turngym.algos import compute_advantages

    return tuple(n for n, p in inspect.signature(compute_advantages).parameters.items() if p.kind is p.KEYWORD_ONLY)



def _validate_algo_params(cfg: TrainConfig, estimator: Any) -> None:
    """``algo.params`` against the estimator's own parameters and value checks, so a typo such as
    ``gama`` fails in the dry run, not after minutes of behaviour cloning."""
    import dataclasses
    import difflib

    generic = _generic_algo_params()
    allowed = [f.name for f in dataclasses.fields(estimator.config)] + list(generic)
    unknown = [k for k in cfg.algo.params if k not in allowed]
    if unknown:
        hints = [f"{k}" + (f" (did you mean {close[0]}?)" if (close := difflib.get_close_matches(k, allowed, n=1)) else "") for k in unknown]
        raise ConfigError(f"algo.params: {cfg.algo.name} has no parameter(s) {', '.join(hints)}; its parameters: {', '.join(allowed)}")
    try:
        estimator.make_config(cfg.algo.preset, **{k: v for k, v in cfg.algo.params.items() if k not in generic})
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"algo.params of {cfg.algo.name} ({cfg.algo.preset}): {exc}") from None
