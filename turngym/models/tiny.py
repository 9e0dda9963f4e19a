"""Tiny local Qwen2 models: random weights plus a BPE tokenizer trained on a committed corpus.

No model can be downloaded here, yet every part that needs a policy (backends, rollouts, trainer)
must run against a real HF model directory. ``build_model_dir`` writes one in seconds, offline, in
exactly the layout of a hub Qwen2 checkpoint (``config.json``, ``model.safetensors``,
``tokenizer.json``, ``vocab.json``/``merges.txt``, ``tokenizer_config.json`` with a ChatML template),
so transformers, vLLM and peft load it through the same code path as a user's Qwen2.5 checkpoint.

The tokenizer is trained with *exactly* Qwen2's normalizer (NFC) and pre-tokenizer (the Qwen2 split
regex + byte-level, no prefix space): transformers 5.x rebuilds any Qwen2 directory as
``Qwen2Tokenizer`` from vocab and merges, replacing whatever pre-tokenizer the file declares; any
other pre-tokenizer would make the raw ``tokenizers`` object and transformers disagree on ids.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

#: Qwen2's pre-tokenisation regex, verbatim (transformers ``tokenization_qwen2.PRETOKENIZE_REGEX``).
QWEN2_PRETOKENIZE_REGEX = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
)
ENDOFTEXT, IM_START, IM_END = "<|endoftext|>", "<|im_start|>", "<|im_end|>"
SPECIAL_TOKENS = (ENDOFTEXT, IM_START, IM_END)

#: ChatML, as Qwen2.5 renders it minus tool/system defaults: what ``add_generation_prompt`` appends
#: is ``<|im_start|>assistant\n``, and every message ends with ``<|im_end|>\n``.
CHATML_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)


@dataclass(frozen=True)
class TinySpec:
    """Qwen2 shape of a tiny model; ``vocab_size`` is the BPE target (specials included)."""

    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    vocab_size: int = 2048
    max_position_embeddings: int = 4096


SIZES: dict[str, TinySpec] = {
    # ~0.4M parameters: fast enough for unit tests and the CPU learning demo.
    # Head size 32: vLLM's CPU attention has no kernels below 32.
    "tiny": TinySpec(hidden_size=64, intermediate_size=256, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1),
    # ~26M parameters: the "small" CPU model of DESIGN.md §4 (0.8-1.2k tok/s batched).
    "small": TinySpec(hidden_size=512, intermediate_size=1408, num_hidden_layers=8, num_attention_heads=8, num_key_value_heads=4),
}


def corpus_text() -> str:
    """The committed tokenizer corpus (part of the package, so the tokenizer is the same everywhere)."""
    return resources.files("turngym.models").joinpath("corpus.txt").read_text(encoding="utf-8")


def train_tokenizer(vocab_size: int = 2048, corpus: str | None = None) -> Any:
    """A byte-level BPE ``tokenizers.Tokenizer`` with Qwen2's normalizer/pre-tokenizer/decoder.

    Special tokens get ids 0, 1, 2 (``<|endoftext|>``, ``<|im_start|>``, ``<|im_end|>``).
    """
    from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import BPE
    from tokenizers.trainers import BpeTrainer

    text = corpus_text() if corpus is None else corpus
    tok = Tokenizer(BPE(unk_token=None, continuing_subword_prefix="", end_of_word_suffix="", fuse_unk=False, byte_fallback=False))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN2_PRETOKENIZE_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    trainer = BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    # Train on chunks without the chat markers so that they never become merges of ordinary text.
    chunks = [part for line in text.splitlines(keepends=True) for part in _split_specials(line) if part]
    tok.train_from_iterator(chunks, trainer=trainer)
    return tok


def _split_specials(line: str) -> list[str]:
    parts = [line]
    for special in SPECIAL_TOKENS:
        parts = [p for piece in parts for p in piece.split(special)]
    return parts


def write_tokenizer(tok: Any, out: Path, *, model_max_length: int) -> None:
    """Save ``tok`` as a Qwen2 tokenizer directory (tokenizer.json + vocab/merges + config)."""
    out.mkdir(parents=True, exist_ok=True)
    tok.save(str(out / "tokenizer.json"))
    tok.model.save(str(out), None)  # vocab.json + merges.txt, read by slow/legacy loaders
    added = {
        str(tok.token_to_id(t)): {"content": t, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False, "special": True}
        for t in SPECIAL_TOKENS
    }
    config = {
        "tokenizer_class": "Qwen2Tokenizer",
        "added_tokens_decoder": added,
        "additional_special_tokens": [IM_START, IM_END],
        "bos_token": None,
        "eos_token": IM_END,
        "pad_token": ENDOFTEXT,
        "unk_token": None,
        "clean_up_tokenization_spaces": False,
        "errors": "replace",
        "split_special_tokens": False,
        "add_prefix_space": False,
        "model_max_length": model_max_length,
        "chat_template": CHATML_TEMPLATE,
    }
    (out / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")
    (out / "special_tokens_map.json").write_text(
        json.dumps({"eos_token": IM_END, "pad_token": ENDOFTEXT, "additional_special_tokens": [IM_START, IM_END]}, indent=2) + "\n"
    )


def build_model_dir(out: str | Path, size: str = "tiny", *, seed: int = 0, dtype: str = "float32") -> Path:
    """Write a Qwen2 causal LM with random weights (``seed``) and the corpus tokenizer to ``out``.

    Weights are untied (vLLM does not reload tied embeddings in place) and saved as safetensors.
    Idempotent and deterministic: the same (size, seed, library versions) give the same files.
    """
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}; choose one of {', '.join(SIZES)}")
    spec = SIZES[size]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tok = train_tokenizer(spec.vocab_size)
    vocab = tok.get_vocab_size()
    write_tokenizer(tok, out, model_max_length=spec.max_position_embeddings)
    pad_id, eos_id = tok.token_to_id(ENDOFTEXT), tok.token_to_id(IM_END)
    config = Qwen2Config(
        vocab_size=vocab,
        hidden_size=spec.hidden_size,
        intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_hidden_layers,
        num_attention_heads=spec.num_attention_heads,
        num_key_value_heads=spec.num_key_value_heads,
        max_position_embeddings=spec.max_position_embeddings,
        tie_word_embeddings=False,
        bos_token_id=pad_id,
        eos_token_id=eos_id,
        pad_token_id=pad_id,
        rope_theta=10000.0,
        initializer_range=0.02,
    )
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen2ForCausalLM(config)
        # Re-initialise explicitly from our own generator, so the weights do not depend on how a
        # transformers version schedules its init (meta device, lazy init, ...).
        with torch.no_grad():
            for name, param in sorted(model.named_parameters()):
                if name.endswith("norm.weight"):
                    param.fill_(1.0)
                elif name.endswith(".bias"):
                    param.zero_()
                else:
                    param.copy_(torch.randn(param.shape, generator=gen) * config.initializer_range)
    model = model.to(getattr(torch, dtype))
    model.save_pretrained(out, safe_serialization=True)
    GenerationConfig(bos_token_id=pad_id, eos_token_id=[eos_id, pad_id], pad_token_id=pad_id, do_sample=True).save_pretrained(out)
    (out / "turngym_model.json").write_text(
        json.dumps({"size": size, "seed": seed, "vocab_size": vocab, "spec": {**asdict(spec), "vocab_size": vocab, "vocab_target": spec.vocab_size}, "parameters": sum(p.numel() for p in model.parameters())}, indent=2) + "\n"
    )
    return out


def ensure_model_dir(out: str | Path, size: str = "tiny", *, seed: int = 0) -> Path:
    """Build the model dir unless a complete one (same size and seed) is already there.

    ``turngym_model.json`` is written last, so its presence means the directory is complete.
    """
    out = Path(out)
    marker = out / "turngym_model.json"
    if marker.exists():
        info = json.loads(marker.read_text())
        if info.get("size") == size and info.get("seed") == seed:
            return out
    return build_model_dir(out, size, seed=seed)
