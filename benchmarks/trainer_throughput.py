"""Trainer throughput: length-bucketed micro-batches vs padding, and the rollout/update split.

Part 1 runs the real policy update (tiny Qwen2, PPO-clip, 1 epoch) on the same batch of
mixed-length samples twice: micro-batches formed by length bucketing (what the trainer does) and
the baseline of fixed-size micro-batches in arrival order padded to their longest row. Part 2 runs
a few real training steps on KeyDoor and reports how each step splits between rollout and update.

    .venv/bin/python benchmarks/trainer_throughput.py [--samples 256] [--steps 4]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from turngym.core.episode import Episode, Turn
from turngym.models.loading import load_model_and_tokenizer
from turngym.models.tiny import build_model_dir
from turngym.train.config import OptimConfig, load_config
from turngym.train.samples import build_samples
from turngym.train.update import policy_update

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "keydoor_gigpo.yaml"


def mixed_episodes(n: int, vocab: int, seed: int = 0) -> list[Episode]:
    """Step rows whose prompts range from 30 to 1000 tokens (log-uniform), 2-12 response tokens."""
    rng = np.random.default_rng(seed)
    eps = []
    for i in range(n):
        plen = int(np.exp(rng.uniform(np.log(30), np.log(1000))))
        rlen = int(rng.integers(2, 13))
        eps.append(Episode(env_id="bench", turns=[Turn(
            index=0,
            prompt_token_ids=rng.integers(3, vocab, plen).tolist(),
            response_token_ids=rng.integers(3, vocab, rlen).tolist(),
            loss_mask=[1] * rlen,
            rollout_logprobs=(-rng.random(rlen)).tolist(),
            advantage=float(rng.normal()),
        )]))
    return eps


def bench_update(samples_n: int, console: Console) -> None:
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        model, tok = load_model_and_tokenizer(build_model_dir(Path(tmp) / "m", "tiny"))
    eps = mixed_episodes(samples_n, len(tok))
    samples = build_samples(eps)
    real = sum(len(s) for s in samples)
    cfg = OptimConfig(epochs=1, micro_batch_tokens=8192)
    table = Table(title=f"policy update on {samples_n} mixed-length samples ({real:,} real tokens), tiny model")
    for col in ("micro-batching", "micro-batches", "padding", "seconds", "real tokens/s"):
        table.add_column(col, justify="right")
    results = {}
    for name, bucketing in (("padded (arrival order)", False), ("length-bucketed", True)):
        opt = torch.optim.AdamW(model.parameters(), lr=0.0)  # lr 0: identical work, unchanged weights
        policy_update(model, opt, samples[:8], eps, cfg, pad_id=0, bucketing=bucketing)  # warm-up
        t0 = time.perf_counter()
        m = policy_update(model, opt, samples, eps, cfg, pad_id=0, bucketing=bucketing)
        dt = time.perf_counter() - t0
        results[name] = dt
        table.add_row(name, f"{m['update/micro_batches']:.0f}", f"{m['update/pad_fraction']:.1%}", f"{dt:.2f}", f"{real / dt:,.0f}")
    console.print(table)
    console.print(f"length bucketing: {results['padded (arrival order)'] / results['length-bucketed']:.2f}× the throughput of padding")


def bench_steps(steps: int, console: Console) -> None:
    from turngym.train.trainer import Trainer

    with tempfile.TemporaryDirectory() as tmp:
        cfg = load_config(CONFIG, [f"run.out={tmp}/run", f"run.steps={steps}", "bc.enabled=false", "run.tensorboard=false"], profile="cpu")
        trainer = Trainer(cfg)
        trainer.setup()
        rows = []
        try:
            for _ in range(steps):
                rows.append(trainer.train_step())
        finally:
            trainer.close()
    table = Table(title=f"KeyDoor training steps (cpu profile: {cfg.rollout.tasks_per_step}×{cfg.rollout.group_size} episodes/step)")
    for col in ("step", "rollout s", "update s", "rollout share", "turns", "samples"):
        table.add_column(col, justify="right")
    for m in rows:
        total = m["time/rollout_s"] + m["time/update_s"]
        table.add_row(str(m["step"]), f"{m['time/rollout_s']:.2f}", f"{m['time/update_s']:.2f}", f"{m['time/rollout_s'] / total:.0%}", f"{m['train/turns_mean'] * cfg.rollout.tasks_per_step * cfg.rollout.group_size:.0f}", f"{m['update/samples']:.0f}")
    console.print(table)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=256)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    console = Console()
    bench_update(args.samples, console)
    bench_steps(args.steps, console)


if __name__ == "__main__":
    main()
