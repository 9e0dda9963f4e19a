"""Checkpoints that let a killed run continue as if it had never stopped.

A checkpoint directory ``RUN_DIR/checkpoints/step_000010/`` holds the policy in HF format (full
weights via ``save_pretrained``, or the peft adapter for LoRA), the tokenizer, and
``turngym_agent.json`` (the template, projection, history and token budget the policy was trained
with, so a rollout of the checkpoint prompts it the same way), ``trainer_state.pt`` (RNG states of
python/numpy/torch, the task sampler's position, the step), and ``dcp/``: model and optimizer as
``torch.distributed.checkpoint`` shards, which load at any world size. It is written to a
temporary directory and renamed into place, so a crash while saving never leaves a half
checkpoint that resume would pick.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from turngym.train.parallel import SINGLE, DistContext, barrier
from turngym.agents.settings import write_agent_settings

STATE_FILE = "trainer_state.pt"


def rng_state() -> dict[str, Any]:
    return {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])


def checkpoint_dir(run_dir: Path, step: int) -> Path:
    return Path(run_dir) / "checkpoints" / f"step_{step:06d}"


def save_checkpoint(run_dir: Path, step: int, model: Any, tokenizer: Any, state: dict[str, Any], keep: int = 2, *,
                    optimizer: torch.optim.Optimizer | None = None, ctx: DistContext = SINGLE,
                    agent_settings: dict[str, Any] | None = None) -> Path:
    """Write ``step_NNNNNN`` (every rank calls; rank 0 owns the directory).

    With ``optimizer`` the model and optimizer also go to ``dcp/`` as sharded state, which loads at
    any world size; without it (old callers) the optimizer state must be inside ``state``.
    """
    from turngym.train.sharded_checkpoint import export_hf, rng_file, save_sharded

    final = checkpoint_dir(run_dir, step)
    tmp = final.with_name(final.name + ".tmp")
    if ctx.is_main:
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
    barrier(ctx)
    if optimizer is not None:
        save_sharded(tmp, model, optimizer, ctx)
    if ctx.enabled:
        export_hf(tmp, model, tokenizer, ctx)  # gathered to rank 0, which writes it
    else:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
    torch.save(rng_state(), rng_file(tmp, ctx.rank))
    barrier(ctx)
    if ctx.is_main:
        if agent_settings is not None:  # how to prompt these weights (turngym rollout --policy reads it)
            write_agent_settings(tmp, agent_settings)
        torch.save({**state, "step": step, "rng": rng_state(), "world": ctx.world}, tmp / STATE_FILE)
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)
        for old in list_checkpoints(run_dir)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    barrier(ctx)
    return final


def load_training_state(ckpt: Path, model: Any, optimizer: torch.optim.Optimizer, state: dict[str, Any],
                        ctx: DistContext = SINGLE) -> None:
    """Restore optimizer (and, from sharded state, model) and this rank's RNG from ``ckpt``,
    whatever world size wrote it. A rank with no RNG file of its own (the world grew) takes rank
    0's: sampling streams are re-derived per rank from the step seed anyway."""
    from turngym.train.sharded_checkpoint import has_sharded, load_sharded, rng_file

    if has_sharded(ckpt):
        load_sharded(ckpt, model, optimizer, ctx)
    elif "optimizer" in state and not ctx.enabled:
        optimizer.load_state_dict(state["optimizer"])
    else:
        raise FileNotFoundError(
            f"{ckpt} holds no sharded training state (it predates sharded checkpoints); resume it with one process"
        )
    own = rng_file(ckpt, ctx.rank)
    set_rng_state(torch.load(own, weights_only=False) if own.exists() else state["rng"])


def list_checkpoints(run_dir: Path) -> list[Path]:
    root = Path(run_dir) / "checkpoints"
    if not root.exists():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith("step_") and not p.name.endswith(".tmp") and (p / STATE_FILE).exists())


def latest_checkpoint(run_dir: Path) -> Path | None:
    found = list_checkpoints(run_dir)
    return found[-1] if found else None


def load_state(ckpt: Path) -> dict[str, Any]:
    return torch.load(Path(ckpt) / STATE_FILE, weights_only=False)
