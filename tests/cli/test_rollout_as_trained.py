"""Issue 18.1: a checkpoint rolls out the way it was trained (template, history, token budget)."""

import json

import pytest

from turngym.store import EpisodeStore
from turngym.train.checkpoint import latest_checkpoint

from cli_helpers import turngym_cli

pytestmark = pytest.mark.slow


def _episodes(out):
    with EpisodeStore(out, readonly=True) as store:
        return store.query()


def test_checkpoint_records_agent_settings(tiny_run):
    settings = json.loads((latest_checkpoint(tiny_run) / "turngym_agent.json").read_text())
    # the cpu profile of keydoor_gigpo: compact template, no history, 6 new tokens, plain projection
    assert {k: settings[k] for k in ("template", "history_k", "max_new_tokens", "layout", "projection")} == {
        "template": "compact", "history_k": 0, "max_new_tokens": 6, "layout": "step", "projection": "plain",
    }
    assert settings["stop"] == ["\n"] and settings["max_prompt_tokens"] == 256


def test_rollout_policy_uses_the_checkpoint_settings_unless_overridden(tiny_run, tmp_path):
    ckpt = latest_checkpoint(tiny_run)
    proc = turngym_cli("rollout", "KeyDoor-v0", "--policy", ckpt, "-n", "2", "--out", tmp_path / "a")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    eps = _episodes(tmp_path / "a")
    turns = [t for e in eps for t in e.turns]
    assert max(len(t.response_token_ids) for t in turns) <= 6  # not the CLI's old default of 64
    first = turns[0].prompt
    assert [m["role"] for m in first] == ["user"] and first[0]["content"].count("\n") >= 1  # compact: no system message
    assert all(len(t.prompt[0]["content"]) < 400 for t in turns)  # history_k=0: prompts do not grow
    # a flag wins over the checkpoint
    proc = turngym_cli("rollout", "KeyDoor-v0", "--policy", ckpt, "-n", "2", "--template", "keydoor", "--out", tmp_path / "b")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert _episodes(tmp_path / "b")[0].turns[0].prompt[0]["role"] == "system"


def test_rollout_run_takes_the_runs_own_config(tiny_run, tmp_path):
    proc = turngym_cli("rollout", "--run", tiny_run, "--out", tmp_path / "r")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    eps = _episodes(tmp_path / "r")
    # the trainer's held-out evaluation: eval.tasks tasks of the eval split, its seeds, its env kwargs
    assert len(eps) == 3
    assert sorted(e.seed for e in eps) == [1_000_000, 1_000_001, 1_000_002]
    assert all(e.reset_options == {"split": "test"} and e.env_kwargs == {"max_turns": 4} for e in eps)
    assert all(len(e.turns) <= 4 for e in eps)
    bad = turngym_cli("rollout", "--run", tiny_run, "--step", "7", "--out", tmp_path / "s")
    assert bad.returncode == 2 and "--step 7" in bad.stderr and "Traceback" not in bad.stderr


def test_template_help_lists_every_template():
    import subprocess
    import sys

    # the built-in templates, from a fresh interpreter (tests in this process register their own)
    names = subprocess.run([sys.executable, "-c", "from turngym.agents.prompting import template_names; print(*template_names())"],
                           capture_output=True, text=True, check=True).stdout.split()
    proc = turngym_cli("rollout", "--help")
    text = " ".join(proc.stdout.split())
    for name in names:
        assert name in text, name
    assert "compact" in names
