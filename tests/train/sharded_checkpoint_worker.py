"""Save (after one update) or load a sharded checkpoint in 1 process or as a torchrun rank, then
write the full model and optimizer state (rank 0) for ``test_sharded_checkpoint.py`` to compare.

    python sharded_checkpoint_worker.py save|load MODEL_DIR CKPT_DIR OUT.pt
"""

from __future__ import annotations

import sys

import torch
from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict

from turngym.models.loading import load_model_and_tokenizer
from turngym.train import sharded_checkpoint as sc
from turngym.train.parallel import init_distributed, shard_model, shutdown


def main() -> None:
    mode, model_dir, ckpt_dir, out = sys.argv[1:5]
    torch.set_num_threads(1)
    torch.manual_seed(0)
    ctx = init_distributed(timeout_s=60)
    model, tok = load_model_and_tokenizer(model_dir)
    if ctx.enabled:
        shard_model(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    if mode == "save":
        ids = torch.randint(0, 100, (4, 9))
        (model(input_ids=ids).logits.float().pow(2).mean() * ctx.loss_scale).backward()
        optimizer.step()
        sc.save_sharded(ckpt_dir, model, optimizer, ctx)
        sc.export_hf(f"{ckpt_dir}/hf", model, tok, ctx)
    else:
        sc.load_sharded(ckpt_dir, model, optimizer, ctx)
    full_model = sc.full_model_state(model, ctx)
    full_optim = get_optimizer_state_dict(model, optimizer, options=StateDictOptions(full_state_dict=True, cpu_offload=ctx.enabled))
    if ctx.is_main:
        torch.save({"model": full_model, "optim": full_optim}, out)
    shutdown(ctx)


if __name__ == "__main__":
    main()
