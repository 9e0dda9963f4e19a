"""One policy update on a recorded batch, in 1 process or as one rank of a torchrun job.

    python fsdp_update_worker.py MODEL_DIR EPISODES.json OUT.pt [--lora]
    python -m torch.distributed.run --nproc-per-node 2 fsdp_update_worker.py MODEL_DIR EPISODES.json OUT.pt

Under torchrun the policy is sharded with FSDP2 per decoder layer, each rank trains on its whole
groups (token-balanced), and rank 0 writes the full updated weights; alone it trains on the
whole batch. ``test_fsdp_equivalence.py`` compares the two files.
"""

from __future__ import annotations

import json
import sys

import torch

from turngym.core.episode import Episode
from turngym.models.loading import load_model_and_tokenizer
from turngym.train.config import OptimConfig
from turngym.train.parallel import init_distributed, shard_model, shutdown
from turngym.train.partition import samples_for_rank
from turngym.train.samples import build_samples
from turngym.train.update import policy_update


def main() -> None:
    model_dir, episodes_path, out = sys.argv[1:4]
    lora = "--lora" in sys.argv
    torch.set_num_threads(1)
    torch.manual_seed(0)
    ctx = init_distributed(timeout_s=120)
    model, tok = load_model_and_tokenizer(model_dir)
    if lora:
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"))
    if ctx.enabled:
        shard_model(model)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    episodes = [Episode.model_validate(e) for e in json.loads(open(episodes_path).read())]
    samples = build_samples(episodes, layout="step")
    mine = samples_for_rank(samples, episodes, ctx.rank, ctx.world)
    cfg = OptimConfig(lr=1e-3, epochs=2, micro_batch_tokens=256)
    metrics = policy_update(model, optimizer, mine, episodes, cfg, pad_id=tok.pad_token_id, ctx=ctx)
    if ctx.enabled:
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        state = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    else:
        state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    if ctx.is_main:
        trained = {k: v for k, v in state.items() if not lora or "lora_" in k}
        torch.save({"state": trained, "metrics": metrics, "my_samples": len(mine)}, out)
    shutdown(ctx)


if __name__ == "__main__":
    main()
