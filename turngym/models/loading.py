"""Load a causal LM and its tokenizer from an HF model directory (a tiny local model or a real one).

One code path for every policy: the tiny dirs written by ``turngym.models.tiny`` and a user's real
checkpoint (e.g. Qwen2.5-1.5B-Instruct) go through the same ``AutoTokenizer``/``AutoModelForCausalLM``
calls. A local directory is always loaded with ``local_files_only=True`` so that a typo never turns
into a hub download; a non-directory name is passed through (it resolves from the local HF cache, or
from the hub only where the network and ``HF_HUB_OFFLINE`` allow it).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

_DTYPES = ("auto", "float32", "bfloat16", "float16")


def _local_kwargs(path: str | os.PathLike[str]) -> dict[str, Any]:
    return {"local_files_only": True} if Path(path).is_dir() else {}


def load_tokenizer(path: str | os.PathLike[str]) -> Any:
    """The tokenizer of ``path``, set up for batched generation (left padding, a pad token)."""
    from transformers import AutoTokenizer

    if not Path(path).is_dir() and os.sep in str(path):
        raise FileNotFoundError(f"model directory {path} does not exist")
    tok = AutoTokenizer.from_pretrained(str(path), **_local_kwargs(path))
    tok.padding_side = "left"
    if tok.pad_token_id is None:  # base models often ship without one
        tok.pad_token = tok.eos_token
    return tok


def load_model(path: str | os.PathLike[str], *, dtype: str = "float32", device: str = "cpu") -> Any:
    """The causal LM of ``path`` in eval mode on ``device``; ``dtype="auto"`` keeps the stored dtype."""
    import torch
    from transformers import AutoModelForCausalLM

    if dtype not in _DTYPES:
        raise ValueError(f"dtype must be one of {_DTYPES}, got {dtype!r}")
    if not Path(path).is_dir() and os.sep in str(path):
        raise FileNotFoundError(f"model directory {path} does not exist")
    torch_dtype = "auto" if dtype == "auto" else getattr(torch, dtype)
    model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch_dtype, **_local_kwargs(path))
    return model.to(device).eval()


def load_model_and_tokenizer(path: str | os.PathLike[str], *, dtype: str = "float32", device: str = "cpu") -> tuple[Any, Any]:
    return load_model(path, dtype=dtype, device=device), load_tokenizer(path)
