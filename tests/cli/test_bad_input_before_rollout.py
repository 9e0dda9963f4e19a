"""Issue 18.3: a misspelled env kwarg or template exits 2 before any episode is written."""

import pytest

from cli_helpers import turngym_cli
from turngym.train.checkpoint import latest_checkpoint


def test_misspelled_env_kwarg_exits_before_rolling_out(tmp_path):
    out = tmp_path / "run"
    proc = turngym_cli("rollout", "KeyDoor-v0", "-e", "max_turn=3", "-n", "2", "--out", out)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "max_turn" in proc.stderr and "did you mean 'max_turns'" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()  # not a single episode (nor an empty store) was written


def test_unknown_split_exits_before_rolling_out(tmp_path):
    out = tmp_path / "run"
    proc = turngym_cli("rollout", "KeyDoor-v0", "--split", "nosuch", "-n", "2", "--out", out)
    assert proc.returncode == 2 and "--split nosuch" in proc.stderr and not out.exists()


@pytest.mark.slow
def test_misspelled_template_exits_before_rolling_out(tiny_run, tmp_path):
    out = tmp_path / "run"
    proc = turngym_cli("rollout", "KeyDoor-v0", "--policy", latest_checkpoint(tiny_run), "--template", "compactt", "--out", out)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    text = " ".join(proc.stderr.split())
    assert "--template: unknown template 'compactt'" in text and "compact" in text
    assert not out.exists()
