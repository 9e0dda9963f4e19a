"""Shared fixtures: hand-written tables and a tiny random causal LM (built locally, never downloaded)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_lm():
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    torch.set_num_threads(1)
    torch.manual_seed(0)
    cfg = transformers.Qwen2Config(
        vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=False,
    )
    model = transformers.AutoModelForCausalLM.from_config(cfg)
    model.eval()
    return model
