"""Reference pieces for the vLLM tests: a vLLM-servable tiny model, plain-transformers greedy decoding,
a peft LoRA adapter with non-zero B, and perturbed weights.

The HF side deliberately uses ``AutoModelForCausalLM.generate`` (not the hf backend), so a vLLM/HF
mismatch points at one engine, not at our own wrapper code.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
import torch

#: Skip (with the recipe) where vllm is not importable, e.g. in the main .venv; vllm itself is not
#: imported at collection, so the default suite stays fast.
requires_vllm = pytest.mark.skipif(
    importlib.util.find_spec("vllm") is None,
    reason="vllm is not installed in this interpreter: run `bash scripts/install_vllm.sh`, then "
    "`.venv-vllm/bin/python -m pytest -m vllm tests/backends`",
)

#: vLLM's CPU attention kernels only support these head sizes (vllm/v1/attention/backends/cpu_attn.py).
VLLM_CPU_HEAD_SIZES = (32, 64, 80, 96, 112, 128, 160, 192, 224, 256, 512)
LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def build_tiny_model(out: Path) -> Path:
    """A tiny Qwen2 dir from ``turngym.models``; its ``tiny`` size if vLLM can serve it, else the same
    recipe with 2 heads of 32 (vLLM's CPU attention has no kernel for head_dim 16)."""
    from turngym.models import SIZES, TinySpec, build_model_dir

    spec = SIZES["tiny"]
    if spec.hidden_size // spec.num_attention_heads in VLLM_CPU_HEAD_SIZES:
        return build_model_dir(out, "tiny", seed=0)
    name = "_vllm_tiny_test"
    SIZES[name] = TinySpec(hidden_size=64, intermediate_size=256, num_hidden_layers=2, num_attention_heads=2,
                           num_key_value_heads=1, vocab_size=spec.vocab_size)
    try:
        return build_model_dir(out, name, seed=0)
    finally:
        del SIZES[name]


def load_hf(model_dir: Path) -> Any:
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32).eval()


@torch.no_grad()
def hf_greedy(model: Any, prompts: list[list[int]], max_new_tokens: int) -> list[tuple[list[int], list[float]]]:
    """Greedy tokens and their logprobs, one prompt at a time (no padding effects)."""
    results = []
    for ids in prompts:
        out = model.generate(
            torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
            do_sample=False, max_new_tokens=max_new_tokens, output_scores=True, return_dict_in_generate=True,
            pad_token_id=model.config.pad_token_id,
        )
        new = out.sequences[0, len(ids):].tolist()
        lps = [torch.log_softmax(score[0].float(), -1)[t].item() for score, t in zip(out.scores, new)]
        results.append((new, lps))
    return results


def make_lora_adapter(model_dir: Path, out: Path, *, rank: int = 8, seed: int = 1, scale: float = 0.2) -> Path:
    """A peft LoRA adapter on every linear layer with random non-zero A and B (peft zero-inits B, which
    would make the adapter a no-op and the test vacuous)."""
    from peft import LoraConfig, get_peft_model

    model = get_peft_model(load_hf(model_dir), LoraConfig(r=rank, lora_alpha=2 * rank, target_modules=LORA_TARGETS,
                                                          lora_dropout=0.0, bias="none"))
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_" in name:
                p.copy_(torch.randn(p.shape, generator=gen) * scale)
    model.save_pretrained(str(out))
    return out


def load_hf_with_adapter(model_dir: Path, adapter_dir: Path) -> Any:
    from peft import PeftModel

    return PeftModel.from_pretrained(load_hf(model_dir), str(adapter_dir)).eval()


def perturbed_state_dict(model_dir: Path, *, seed: int = 2, scale: float = 0.05) -> dict[str, torch.Tensor]:
    """The model's weights plus Gaussian noise, in HF names (what a trainer hands over after a step)."""
    sd = load_hf(model_dir).state_dict()
    gen = torch.Generator().manual_seed(seed)
    return {k: (v + torch.randn(v.shape, generator=gen) * scale).contiguous() for k, v in sd.items()}
