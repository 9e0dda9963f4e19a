"""Generation throughput of the hf and vllm backends on the same tiny model and prompts, same run.

Also measured: vLLM engine start-up, in-place weight reload (state dict and checkpoint dir) and the
first generation with a LoRA adapter. Needs vllm, so run it from the vLLM venv:

    bash scripts/install_vllm.sh
    .venv-vllm/bin/python benchmarks/backend_throughput.py [--size tiny|small] [--max-new-tokens 64]

Both engines get one CPU thread (vLLM pins its worker to one core and keeps the other for the
front-end; ``torch.set_num_threads(1)`` for hf), so the numbers compare engines, not thread counts.
Prompts are chat-templated KeyDoor-style observations; sampling is temperature 1 with a fixed seed,
and tokens/s counts the tokens actually generated (a random model may stop early at EOS).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")

#: vLLM's CPU attention kernels only support these head sizes.
VLLM_CPU_HEAD_SIZES = (32, 64, 80, 96, 112, 128, 160, 192, 224, 256, 512)


def build_model(out: Path, size: str) -> Path:
    """The ``turngym.models`` model of that size, with 32-wide heads if its own head size has no vLLM CPU kernel."""
    from turngym.models import SIZES, TinySpec, build_model_dir

    spec = SIZES[size]
    if spec.hidden_size // spec.num_attention_heads in VLLM_CPU_HEAD_SIZES:
        return build_model_dir(out, size)
    heads = spec.hidden_size // 32
    name = f"_{size}_vllm"
    SIZES[name] = TinySpec(hidden_size=spec.hidden_size, intermediate_size=spec.intermediate_size,
                           num_hidden_layers=spec.num_hidden_layers, num_attention_heads=heads,
                           num_key_value_heads=max(1, heads // 2), vocab_size=spec.vocab_size)
    try:
        return build_model_dir(out, name)
    finally:
        del SIZES[name]


def make_prompts(n: int) -> list[list[dict[str, str]]]:
    rooms = ["north-west", "north", "north-east", "west", "center", "east", "south-west", "south", "south-east"]
    return [[
        {"role": "system", "content": "You are an agent in a house. Answer with one action."},
        {"role": "user", "content": f"Your task is to: take the key in the {rooms[i % 9]} room, then open the door "
                                    f"in the {rooms[(i * 4 + 1) % 9]} room. You are in the {rooms[(i * 7) % 9]} room. "
                                    "Admissible actions: look, go north, go south, go west, go east\nYour action:"},
    ] for i in range(n)]


def timed_generate(backend: Any, prompts: list[Any], sampling: Any, repeats: int) -> tuple[float, int]:
    backend.generate(prompts[:2], sampling)  # warm-up (allocators, kernels, prefix cache for the template)
    best, tokens = float("inf"), 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        outs = backend.generate(prompts, sampling)
        dt = time.perf_counter() - t0
        assert all(o.error is None for o in outs), [o.error for o in outs if o.error][:1]
        if dt < best:
            best, tokens = dt, sum(len(o.token_ids) for o in outs)
    return best, tokens


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="tiny", choices=["tiny", "small"])
    ap.add_argument("--policy", default=None, help="model directory (default: build one in a temp dir)")
    ap.add_argument("--batches", default="1,8,32")
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()

    import torch

    from turngym.agents.backends.base import SamplingParams
    from turngym.agents.backends.hf import HFBackend
    from turngym.agents.backends.vllm import VLLMBackend

    torch.set_num_threads(1)
    tmp = tempfile.TemporaryDirectory(prefix="turngym-bench-")
    policy = Path(args.policy) if args.policy else build_model(Path(tmp.name) / args.size, args.size)
    batches = [int(b) for b in args.batches.split(",")]
    sampling = SamplingParams(max_new_tokens=args.max_new_tokens, temperature=1.0, seed=0)
    prompts = make_prompts(max(batches))

    hf = HFBackend.from_pretrained(policy, batch_size=max(batches))
    t0 = time.perf_counter()
    vllm = VLLMBackend(policy, dtype="float32", enable_lora=True, max_lora_rank=8, max_model_len=1024)
    start_s = time.perf_counter() - t0

    print(f"policy={policy} params={sum(p.numel() for p in hf.model.parameters()):,} "
          f"max_new_tokens={args.max_new_tokens} (best of {args.repeats})")
    print(f"\n{'batch':>5} {'hf tok/s':>9} {'vllm tok/s':>10} {'vllm/hf':>8} {'hf tokens':>9} {'vllm tokens':>11}")
    for b in batches:
        hf_s, hf_tok = timed_generate(hf, prompts[:b], sampling, args.repeats)
        vl_s, vl_tok = timed_generate(vllm, prompts[:b], sampling, args.repeats)
        print(f"{b:>5} {hf_tok / hf_s:>9.0f} {vl_tok / vl_s:>10.0f} {(vl_tok / vl_s) / (hf_tok / hf_s):>7.1f}x "
              f"{hf_tok:>9} {vl_tok:>11}")

    # Weight sync and adapters: what a training step costs the vLLM engine.
    state = {k: v + 0.01 for k, v in hf.model.state_dict().items()}
    t0 = time.perf_counter()
    vllm.load_weights(state)
    reload_sd_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    vllm.load_weights(str(policy))
    reload_dir_s = time.perf_counter() - t0

    from peft import LoraConfig, get_peft_model

    adapter = Path(tmp.name) / "lora"
    get_peft_model(hf.model, LoraConfig(r=8, target_modules=["q_proj", "v_proj"])).save_pretrained(str(adapter))
    vllm.load_adapter(str(adapter), name="bench")
    t0 = time.perf_counter()
    vllm.generate(prompts[:1], sampling)
    lora_first_s = time.perf_counter() - t0
    vllm.use_base_model()

    print(f"\n{'vLLM operation':<44} {'seconds':>8}")
    for label, secs in (("engine start (VLLMBackend(...))", start_s),
                        ("load_weights(state dict) + reset_prefix_cache", reload_sd_s),
                        ("load_weights(checkpoint dir)", reload_dir_s),
                        ("first generate with a new LoRA adapter", lora_first_s)):
        print(f"{label:<44} {secs:>8.2f}")
    vllm.close()
    tmp.cleanup()


if __name__ == "__main__":
    main()
