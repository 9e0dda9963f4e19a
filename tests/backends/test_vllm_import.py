"""Without vllm installed, the backend module still imports and says how to install the engine."""

from __future__ import annotations

import importlib.util

import pytest

from turngym.agents.backends.errors import BackendNotInstalled


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vllm is installed here")
def test_missing_vllm_gives_the_install_recipe(tmp_path):
    from turngym.agents.backends.vllm import VLLMBackend  # the module itself never needs vllm

    with pytest.raises(BackendNotInstalled, match=r"scripts/install_vllm\.sh"):
        VLLMBackend(tmp_path)
    assert issubclass(BackendNotInstalled, ImportError)
