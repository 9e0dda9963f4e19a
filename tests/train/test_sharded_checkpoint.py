"""Sharded checkpoints (torch.distributed.checkpoint) load at another world size, exactly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from turngym.models.loading import load_model
from turngym.models.tiny import build_model_dir

WORKER = Path(__file__).with_name("sharded_checkpoint_worker.py")
pytestmark = pytest.mark.slow


def _run(nproc: int, *args: str) -> None:
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(nproc)] if nproc > 1 else [sys.executable]
    proc = subprocess.run([*launcher, str(WORKER), *args], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]


def _max_diff(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k].float() - b[k].float()).abs().max()) for k in a)


@pytest.mark.parametrize(("save_world", "load_world"), [(2, 1), (1, 2), (2, 2)])
def test_resume_at_another_world_size(tmp_path, save_world, load_world):
    model_dir = build_model_dir(tmp_path / "model", "tiny", seed=0)
    ck = tmp_path / "ck"
    _run(save_world, "save", str(model_dir), str(ck), str(tmp_path / "saved.pt"))
    _run(load_world, "load", str(model_dir), str(ck), str(tmp_path / "loaded.pt"))
    saved = torch.load(tmp_path / "saved.pt", weights_only=False)
    loaded = torch.load(tmp_path / "loaded.pt", weights_only=False)
    assert _max_diff(saved["model"], loaded["model"]) == 0.0
    s_opt, l_opt = saved["optim"]["state"], loaded["optim"]["state"]
    assert s_opt.keys() == l_opt.keys() and s_opt
    for k in s_opt:
        assert _max_diff(s_opt[k], l_opt[k]) == 0.0, k
    # the HF export next to the shards is the same model, readable without torch.distributed
    assert _max_diff(saved["model"], load_model(ck / "hf").state_dict()) == 0.0
    initial = load_model(model_dir).state_dict()
    assert _max_diff(saved["model"], initial) > 0  # the saved state is the updated one
