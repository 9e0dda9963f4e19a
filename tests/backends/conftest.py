"""Fixtures for the vLLM-marked tests: one tiny model (and LoRA adapter) per session.

vLLM itself is never imported here, so the default suite in `.venv` collects these tests and skips
them quickly when vllm is missing.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    import torch

    from tiny_policy import build_tiny_model

    torch.set_num_threads(1)
    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny")


@pytest.fixture(scope="session")
def lora_dir(tiny_model_dir, tmp_path_factory):
    from tiny_policy import make_lora_adapter

    return make_lora_adapter(tiny_model_dir, tmp_path_factory.mktemp("adapters") / "lora")
