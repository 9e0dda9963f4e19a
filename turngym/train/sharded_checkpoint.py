"""Model and optimizer state with ``torch.distributed.checkpoint`` (DCP): sharded, and loadable at
any world size.

Each rank writes its own shards in parallel (no full-model gather for the training state), and
DCP re-shards on load, so a run saved by 2 ranks resumes on 1 or on 4. The same code writes a plain
single-process model (DCP then runs without a process group), which is what makes 1 → 2 work too.
Next to the shards, each rank's RNG states go to ``rng_rank{r}.pt`` (a resumed rank that has no
file of its own, after a world-size change, derives its state from rank 0's and its rank), and rank
0 writes the policy in HF format (full safetensors, or the peft adapter), gathered parameter by
parameter to the CPU, so vLLM, ``turngym rollout --policy`` and the viewer read checkpoints
unchanged.
"""

from __future__ import annotations

import contextlib
import warnings
from pathlib import Path
from typing import Any

import torch

from turngym.train.parallel import DistContext

DCP_DIR = "dcp"


@contextlib.contextmanager
def _single_process_quiet() -> Any:
    """DCP warns on every call without a process group; one process is a supported case here."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="torch.distributed is disabled, unavailable or uninitialized")
        yield


def _options(full: bool = False) -> Any:
    from torch.distributed.checkpoint.state_dict import StateDictOptions

    return StateDictOptions(full_state_dict=full, cpu_offload=full)


def save_sharded(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, ctx: DistContext) -> None:
    """Model + optimizer state under ``path/dcp`` (every rank calls). An optimizer that has not
    stepped yet (the checkpoint after behaviour cloning) has no state to save: the model alone."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_model_state_dict, get_state_dict

    if optimizer.state:
        model_sd, optim_sd = get_state_dict(model, optimizer, options=_options())
        state = {"model": model_sd, "optim": optim_sd}
    else:
        state = {"model": get_model_state_dict(model, options=_options())}
    with _single_process_quiet():
        dcp.save(state, checkpoint_id=str(Path(path) / DCP_DIR))


def load_sharded(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, ctx: DistContext) -> None:
    """Load what :func:`save_sharded` wrote, at this job's world size (every rank calls)."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import (
        get_model_state_dict,
        get_state_dict,
        set_model_state_dict,
        set_state_dict,
    )

    checkpoint_id = str(Path(path) / DCP_DIR)
    saved = dcp.FileSystemReader(checkpoint_id).read_metadata().state_dict_metadata
    with _single_process_quiet():
        if not any(k.startswith("optim.") for k in saved):  # saved before the optimizer's first step
            state = {"model": get_model_state_dict(model, options=_options())}
            dcp.load(state, checkpoint_id=checkpoint_id)
            set_model_state_dict(model, state["model"])
            return
        model_sd, optim_sd = get_state_dict(model, optimizer, options=_options())
        state = {"model": model_sd, "optim": optim_sd}
        dcp.load(state, checkpoint_id=checkpoint_id)
    set_state_dict(model, optimizer, model_state_dict=state["model"], optim_state_dict=state["optim"])


def has_sharded(path: Path) -> bool:
    return (Path(path) / DCP_DIR / ".metadata").exists()


def full_model_state(model: torch.nn.Module, ctx: DistContext) -> dict[str, torch.Tensor] | None:
    """The full (unsharded) model state on rank 0's CPU, None on the other ranks (all call)."""
    if not ctx.enabled:
        return {k: v.detach().cpu() for k, v in model.state_dict().items()}
    from torch.distributed.checkpoint.state_dict import get_model_state_dict

    state = get_model_state_dict(model, options=_options(full=True))
    return state if ctx.is_main else None


def export_hf(path: Path, model: torch.nn.Module, tokenizer: Any, ctx: DistContext, agent_settings: dict[str, Any] | None = None) -> None:
    """The policy in HF format under ``path`` (rank 0 writes; all ranks call the gather), with the
    agent settings it was trained with (``turngym_agent.json``) when given."""
    state = full_model_state(model, ctx)
    if state is None:
        return
    # a peft model picks its adapter out of the full state; an HF model writes it all
    model.save_pretrained(path, state_dict=state, safe_serialization=True)
    tokenizer.save_pretrained(path)
    if agent_settings is not None:
        from turngym.agents.settings import write_agent_settings

        write_agent_settings(path, agent_settings)


def iter_full_parameters(model: torch.nn.Module) -> Any:
    """``(name, full tensor)`` one parameter at a time: what a weight sync into a rollout engine
    (vLLM's ``load_weights``) consumes, with at most one gathered parameter alive at once instead
    of a whole-model copy per rank. Every rank must iterate (each step is a collective)."""
    for name, p in model.named_parameters():
        full = p.full_tensor() if hasattr(p, "full_tensor") else p
        yield name, full.detach()


def rng_file(path: Path, rank: int) -> Path:
    return Path(path) / f"rng_rank{rank}.pt"
