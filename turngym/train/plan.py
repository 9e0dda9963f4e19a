"""``turngym train --dry-run``: validate a config, build everything except the weights, print the plan.

The plan answers what a person needs before renting GPUs: the model shape and parameter count,
memory for training (weights, gradients, Adam states, activations) and for the vLLM engine
(weights, KV cache), the batch geometry, and what the loop will do each step. The model shape comes
from ``config.json`` when the path is a local directory (a user's downloaded Qwen2.5-1.5B-Instruct);
for hub ids that are not on disk it comes from a table of the published Qwen2.5 shapes, since no
hub access is assumed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from turngym.train.config import TrainConfig


@dataclass(frozen=True)
class Shape:
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    intermediate: int
    vocab: int
    tied: bool

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    @property
    def params(self) -> int:
        h, kv = self.hidden, self.kv_heads * self.head_dim
        attn = h * h + 2 * h * kv + h * h + h + 2 * kv  # q, k, v (with biases), o
        mlp = 3 * h * self.intermediate
        per_layer = attn + mlp + 2 * h
        emb = self.vocab * h * (1 if self.tied else 2)
        return self.layers * per_layer + emb + h


#: Published Qwen2.5 shapes (config.json of the instruct models), for dry runs without the weights.
KNOWN_SHAPES: dict[str, Shape] = {
    "Qwen/Qwen2.5-0.5B-Instruct": Shape(896, 24, 14, 2, 4864, 151936, True),
    "Qwen/Qwen2.5-1.5B-Instruct": Shape(1536, 28, 12, 2, 8960, 151936, True),
    "Qwen/Qwen2.5-3B-Instruct": Shape(2048, 36, 16, 2, 11008, 151936, True),
    "Qwen/Qwen2.5-7B-Instruct": Shape(3584, 28, 28, 4, 18944, 152064, False),
    "Qwen/Qwen2.5-Coder-7B-Instruct": Shape(3584, 28, 28, 4, 18944, 152064, False),
    "Qwen/Qwen2.5-Math-7B": Shape(3584, 28, 28, 4, 18944, 152064, False),
    "Qwen/Qwen3-8B": Shape(4096, 36, 32, 8, 12288, 151936, False),
}

GiB = 1024**3
_DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}


def format_count(n: int) -> str:
    """``340_000`` -> ``0.34M``, ``1_543_714_304`` -> ``1.54B``: three significant figures at any size."""
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if n >= scale * 0.1:
            return f"{n / scale:.3g}{suffix}" if n < scale * 1000 else f"{n / scale:,.0f}{suffix}"
    return str(n)


def model_shape(cfg: TrainConfig) -> tuple[Shape, str]:
    path = cfg.model.path
    if path is None:
        from turngym.models.tiny import SIZES

        from turngym.models.tiny import train_tokenizer

        spec = SIZES[cfg.model.init or "tiny"]
        # the BPE target is an upper bound; the real vocabulary (hence the embedding size) comes from
        # training the tokenizer, which is deterministic and takes about a second
        vocab = train_tokenizer(spec.vocab_size).get_vocab_size()
        return Shape(spec.hidden_size, spec.num_hidden_layers, spec.num_attention_heads, spec.num_key_value_heads, spec.intermediate_size, vocab, False), f"local {cfg.model.init} model (built at start)"
    local = Path(path) / "config.json"
    if local.exists():
        import json

        c = json.loads(local.read_text())
        return Shape(c["hidden_size"], c["num_hidden_layers"], c["num_attention_heads"], c.get("num_key_value_heads", c["num_attention_heads"]), c["intermediate_size"], c["vocab_size"], bool(c.get("tie_word_embeddings", False))), f"{path} (config.json)"
    if path in KNOWN_SHAPES:
        return KNOWN_SHAPES[path], f"{path} (published shape; weights not loaded)"
    raise ValueError(f"model.path {path!r} is neither a local HF directory nor a known hub id ({', '.join(KNOWN_SHAPES)})")


def memory_estimate(cfg: TrainConfig, shape: Shape) -> dict[str, float]:
    """GiB per component; rough but on the safe side (activation memory without checkpointing)."""
    p = shape.params
    w = _DTYPE_BYTES[cfg.model.dtype]
    trainable = p if not cfg.model.lora.enabled else cfg.model.lora.r * 2 * shape.hidden * shape.layers * len(cfg.model.lora.target_modules)
    tokens = cfg.optim.micro_batch_tokens
    out = {
        "policy weights": p * w / GiB,
        "gradients": trainable * w / GiB,
        "Adam states (fp32 m, v, master)": trainable * 12 / GiB,
        # ~34 bytes per hidden unit per layer and token without checkpointing; with it, one saved
        # bf16 hidden state per layer plus one layer's full activations. LM-head logits only for
        # response tokens (assumed ≤ 10% of a micro-batch).
        "activations (one micro-batch)": (
            tokens * shape.hidden * (shape.layers * 2 + 34) if cfg.optim.gradient_checkpointing else tokens * shape.hidden * shape.layers * 34
        ) / GiB + tokens * 0.1 * shape.vocab * 8 / GiB,
    }
    if cfg.optim.kl_coef > 0:
        out["reference model"] = p * w / GiB
    if cfg.policy.backend == "vllm":
        ctx = cfg.policy.max_prompt_tokens + cfg.policy.max_new_tokens
        kv_per_token = 2 * shape.layers * shape.kv_heads * shape.head_dim * 2
        concurrent = cfg.rollout.tasks_per_step * cfg.rollout.group_size
        out["vLLM weights"] = p * 2 / GiB
        out["vLLM KV cache (all rollouts at full context)"] = kv_per_token * ctx * concurrent / GiB
    return out


def print_plan(cfg: TrainConfig, console: Console | None = None) -> dict[str, Any]:
    """Validate and describe a run without loading weights; returns the numbers it printed."""
    from turngym.train.trainer import validate_combination

    console = console or Console()
    validate_combination(cfg)
    shape, source = model_shape(cfg)
    mem = memory_estimate(cfg, shape)
    r, o = cfg.rollout, cfg.optim
    episodes = r.tasks_per_step * r.group_size
    table = Table(title="turngym train --dry-run: the plan", show_header=False)
    table.add_column("item", style="bold")
    table.add_column("value")
    rows = [
        ("env", f"{cfg.env.id} {cfg.env.kwargs or ''} · train split {cfg.env.train_split} · eval split {cfg.env.eval_split}"),
        ("model", f"{source} · {format_count(shape.params)} params · {cfg.model.dtype}" + (f" · LoRA r={cfg.model.lora.r}" if cfg.model.lora.enabled else " · full fine-tuning")),
        ("rollout", f"{cfg.policy.backend} backend · {r.tasks_per_step} tasks × G={r.group_size} = {episodes} episodes/step · layout {cfg.policy.layout} · ≤{cfg.policy.max_new_tokens} new tokens/turn"),
        ("estimator", f"{cfg.algo.name} ({cfg.algo.preset}) {cfg.algo.params}"),
        ("update", f"{o.epochs} epoch(s) · lr {o.lr} · clip {o.clip_low}/{o.clip_high} · {o.loss_agg} · micro-batches of ≤{o.micro_batch_tokens} tokens · KL {o.kl_coef} ({o.kl_kind})"),
        ("schedule", f"{cfg.run.steps} steps · eval every {cfg.eval.every} on {cfg.eval.tasks} tasks · checkpoint every {cfg.run.checkpoint_every}" + (f" · BC warm start on {cfg.bc.episodes} episodes" if cfg.bc.enabled else "")),
        ("scale-out", f"Ray, {cfg.distributed.num_rollout_workers} rollout workers" if cfg.distributed.ray else "single process"),
    ]
    for k, v in rows:
        table.add_row(k, v)
    for k, v in mem.items():
        table.add_row(f"memory: {k}", f"{v:.2f} GiB")
    trainer_total = sum(v for k, v in mem.items() if not k.startswith("vLLM"))
    table.add_row("memory: trainer total", f"{trainer_total:.1f} GiB")
    if cfg.policy.backend == "vllm":
        table.add_row("memory: vLLM total", f"{sum(v for k, v in mem.items() if k.startswith('vLLM')):.1f} GiB")
    console.print(table)
    console.print("config is valid; nothing was loaded or trained (drop --dry-run to start)")
    return {"params": shape.params, "memory_gib": mem}
