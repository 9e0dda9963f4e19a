"""The learner on N devices: process group, FSDP2 sharding, and the collectives the loop needs.

Everything here is PyTorch's own engine: ``torch.distributed`` launched by torchrun (or
``turngym train --nproc N``, which calls the same elastic launcher), FSDP2 ``fully_shard`` per
decoder layer, DTensor parameters. On CPU the backend is gloo, on CUDA nccl; the code is the same.

Three rules keep N ranks equal to one process:

- **Same collectives on every rank.** A sharded forward all-gathers each layer, so every rank must
  run the same number of forwards and backwards in a training step (ranks with fewer
  micro-batches run empty ones, see :func:`pad_micro_batches`). Generation and no-grad scoring,
  whose lengths differ per rank, run inside :func:`full_weights`, which gathers the full weights
  once so that no collective runs until the context ends.
- **Sums, not averages.** The loss is normalised by the *global* token/sequence counts, so the
  gradient of the batch is the sum of the ranks' gradients. FSDP's reduce-scatter averages (gloo
  cannot pre-multiply), so each rank's loss is scaled by the world size (:attr:`DistContext.loss_scale`).
- **Whole groups per rank.** Group- and anchor-level estimators need every member of a group, so
  advantages are computed on the full gathered batch and the update is split by whole groups.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistContext:
    """Who this process is in the job. ``world == 1`` means a plain single-process run."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: str = "cpu"
    backend: str | None = None

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def loss_scale(self) -> float:
        """Factor on each rank's loss that turns FSDP's averaged gradients into the batch sum."""
        return float(self.world)


SINGLE = DistContext()


def launched_by_torchrun() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1


def init_distributed(timeout_s: float = 600.0) -> DistContext:
    """Join the process group torchrun set up (env:// rendezvous), or return :data:`SINGLE`.

    ``timeout_s`` bounds every collective: a rank that dies or hangs makes the others fail with an
    error naming the collective instead of waiting forever (the elastic agent then stops the job).
    """
    if not launched_by_torchrun():
        return SINGLE
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", rank))
    if torch.cuda.is_available():
        if local_rank >= torch.cuda.device_count():
            raise RuntimeError(
                f"rank {rank} has local rank {local_rank} but this node has {torch.cuda.device_count()} CUDA devices: "
                "use --nproc at most the number of devices per node"
            )
        torch.cuda.set_device(local_rank)
        backend, device = "nccl", f"cuda:{local_rank}"
    else:
        backend, device = "gloo", "cpu"
    if not dist.is_initialized():
        dist.init_process_group(backend, timeout=_dt.timedelta(seconds=timeout_s))
    return DistContext(rank=rank, world=world, local_rank=local_rank, device=device, backend=backend)


def shutdown(ctx: DistContext) -> None:
    if ctx.enabled and dist.is_initialized():
        dist.destroy_process_group()


# -- sharding --------------------------------------------------------------------------------
def decoder_layers(model: torch.nn.Module) -> list[torch.nn.Module]:
    """The transformer blocks to shard one by one (HF causal LMs, peft-wrapped or not)."""
    base = model
    for attr in ("base_model", "model"):  # peft PeftModel -> LoraModel -> HF model
        inner = getattr(base, attr, None)
        if isinstance(inner, torch.nn.Module) and inner is not base:
            base = inner
    for path in ("model.layers", "layers", "transformer.h", "gpt_neox.layers"):
        obj: Any = base
        for part in path.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                break
        if isinstance(obj, torch.nn.ModuleList) and len(obj):
            return list(obj)
    raise ValueError(f"cannot find the decoder layers of {type(model).__name__} to shard (looked for model.layers, transformer.h, ...)")


def shard_model(model: torch.nn.Module, *, param_dtype: str = "float32", cpu_offload: bool = False) -> torch.nn.Module:
    """``fully_shard`` each decoder layer, the decoder body, the LM head, then the root; bf16
    parameters with fp32 gradient reduction when ``param_dtype == "bfloat16"`` (FSDP2's
    ``MixedPrecisionPolicy``), parameters on the CPU between uses with ``cpu_offload``.

    The body and the head are units of their own because the trainer calls them separately (the
    LM head runs only on trained positions, :func:`turngym.algos.lm.next_token_logprobs`); the body
    keeps its weights gathered from forward to backward, so a head tied to the input embeddings
    (Qwen2.5 ≤ 3B) uses them without being a second owner of the same parameter.
    """
    from torch.distributed.fsdp import CPUOffloadPolicy, MixedPrecisionPolicy, fully_shard

    from turngym.algos.lm import decoder_and_head

    kwargs: dict[str, Any] = {}
    if param_dtype == "bfloat16":
        kwargs["mp_policy"] = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)
    if cpu_offload:
        kwargs["offload_policy"] = CPUOffloadPolicy(pin_memory=torch.cuda.is_available())  # pinning needs a device
    for layer in decoder_layers(model):
        fully_shard(layer, **kwargs)
    parts = decoder_and_head(model)
    if parts is not None:
        decoder, head = parts
        embeddings = decoder.get_input_embeddings() if hasattr(decoder, "get_input_embeddings") else None
        tied = embeddings is not None and getattr(head, "weight", None) is getattr(embeddings, "weight", None)
        fully_shard(decoder, reshard_after_forward=False, **kwargs)
        if not tied:
            fully_shard(head, **kwargs)
    fully_shard(model, **kwargs)
    return model


def _fsdp_modules(model: torch.nn.Module) -> list[Any]:
    from torch.distributed.fsdp import FSDPModule

    return [m for m in model.modules() if isinstance(m, FSDPModule)]


@contextlib.contextmanager
def full_weights(model: torch.nn.Module, ctx: DistContext) -> Iterator[torch.nn.Module]:
    """Gather the full weights once (a collective every rank enters together); inside, forwards
    run no collective, so ranks may generate or score different amounts of data. Re-sharded on
    exit. A no-op for unsharded models."""
    mods = _fsdp_modules(model) if ctx.enabled else []
    if not mods:
        yield model
        return
    for m in mods:
        m.unshard()
        m.set_reshard_after_forward(False, recurse=False)
    try:
        yield model
    finally:
        for m in mods:
            m.set_reshard_after_forward(True, recurse=False)
            m.reshard()


# -- collectives -----------------------------------------------------------------------------
def all_gather_objects(obj: Any, ctx: DistContext) -> list[Any]:
    """Every rank's ``obj``, in rank order (pickled; for episodes and small metadata)."""
    if not ctx.enabled:
        return [obj]
    out: list[Any] = [None] * ctx.world
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj: Any, ctx: DistContext, src: int = 0) -> Any:
    if not ctx.enabled:
        return obj
    box = [obj if ctx.rank == src else None]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def all_reduce(values: list[float], ctx: DistContext, op: str = "sum") -> list[float]:
    """Element-wise sum or max over ranks of a short list of numbers (one collective)."""
    if not ctx.enabled:
        return list(values)
    t = torch.tensor(values, dtype=torch.float64)
    if ctx.backend == "nccl":
        t = t.to(ctx.device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM if op == "sum" else dist.ReduceOp.MAX)
    return t.cpu().tolist()


def barrier(ctx: DistContext) -> None:
    if ctx.enabled:
        dist.barrier()
