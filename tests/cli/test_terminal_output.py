"""Issue 18.7: output fits a terminal; --version exists; the closing commands are one line."""

import pytest

from cli_helpers import turngym_cli


def test_version():
    from turngym import __version__

    proc = turngym_cli("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"turngym {__version__}"


def test_rollout_summary_fits_80_columns_and_says_each_number_once(tmp_path):
    out = tmp_path / "a-rather-long-directory-name-for-the-rollout-store-of-this-test" / "run"
    proc = turngym_cli("rollout", "KeyDoor-v0", "-n", "4", "--out", out)  # COLUMNS=80
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    table = [line for line in lines if line.startswith(("│", "┌", "└", "├"))]
    assert table and all(len(line) <= 80 for line in table)
    assert "…" not in proc.stdout  # no header cut short
    assert sum("success" in line for line in lines if "━" not in line) == 1  # printed once (the bar aside)
    # the command to run next is a whole line even when longer than the terminal
    assert f"turngym replay {out} --list" in lines


def test_library_progress_bars_do_not_interleave_with_ours(tmp_path):
    """HF's "Loading weights" / "Writing model shards" bars are off under the CLI."""
    proc = turngym_cli("model", "init", "--out", tmp_path / "m")
    assert proc.returncode == 0, proc.stderr
    proc = turngym_cli("rollout", "KeyDoor-v0", "--policy", tmp_path / "m", "-n", "1", "--out", tmp_path / "r")
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout + proc.stderr
    assert "Loading weights" not in text and "Writing model shards" not in text and "it/s]" not in text


@pytest.mark.slow
def test_the_trainers_closing_command_is_one_line(tiny_run):
    lines = (tiny_run.parent / "train.out").read_text().splitlines()
    assert f"turngym replay {tiny_run}" in lines  # whole, even though the tmp path is longer than 80 columns
    assert "profile: cpu" in lines  # the chosen profile is said (--profile cpu here)
