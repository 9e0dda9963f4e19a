"""Issue 18.2: a config fails before any work, the profile is said, a dead start does not block."""

import json
import signal
import subprocess
import sys
import time

import pytest

from cli_helpers import CONFIG, ROOT, cli_env, turngym_cli


def _no_traceback(proc):
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr


def test_dry_run_rejects_a_misspelled_estimator_parameter():
    proc = turngym_cli("train", CONFIG, "--dry-run", "algo.params.gama=0.9")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    _no_traceback(proc)
    assert "algo.params: gigpo has no parameter(s) gama (did you mean gamma?)" in " ".join(proc.stderr.split())


def test_bad_parameter_value_fails_the_dry_run():
    proc = turngym_cli("train", CONFIG, "--dry-run", "algo.params.gamma=7")
    assert proc.returncode == 2 and "algo.params of gigpo" in proc.stderr
    _no_traceback(proc)


def test_overriding_the_estimator_drops_the_old_ones_parameters():
    proc = turngym_cli("train", CONFIG, "--dry-run", "algo.name=grpo")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = " ".join(proc.stdout.split())
    assert "algo.name=grpo replaces gigpo: dropped its parameter(s) gamma, mode, step_advantage_w" in out
    # a parameter given on the command line is the user's own: it is checked, not dropped
    proc = turngym_cli("train", CONFIG, "--dry-run", "algo.name=grpo", "algo.params.step_advantage_w=1")
    assert proc.returncode == 2 and "grpo has no parameter(s) step_advantage_w" in " ".join(proc.stderr.split())


def test_the_chosen_profile_is_printed_and_a_missing_one_lists_the_others(tmp_path):
    proc = turngym_cli("train", CONFIG, "--dry-run")
    assert proc.returncode == 0 and "profile: cpu (auto: no CUDA device visible)" in proc.stdout
    proc = turngym_cli("train", CONFIG, "--dry-run", "--profile", "gpu")
    assert proc.returncode == 2 and "profile 'gpu' not in config" in proc.stderr and "available: cpu" in proc.stderr
    bare = tmp_path / "bare.yaml"
    bare.write_text("env: {id: KeyDoor-v0}\n")
    proc = turngym_cli("train", bare, "--dry-run", "--profile", "gpu")
    assert proc.returncode == 2 and "it has no profiles" in " ".join(proc.stderr.split())
    _no_traceback(proc)


def test_dry_run_counts_parameters_like_the_built_model(tmp_path):
    proc = turngym_cli("train", CONFIG, "--dry-run", "--profile", "cpu")
    assert proc.returncode == 0, proc.stderr
    built = turngym_cli("model", "init", "--out", tmp_path / "m", check=True)
    params = json.loads((tmp_path / "m" / "turngym_model.json").read_text())["parameters"]
    config_vocab = json.loads((tmp_path / "m" / "config.json").read_text())["vocab_size"]
    meta = json.loads((tmp_path / "m" / "turngym_model.json").read_text())
    assert meta["vocab_size"] == meta["spec"]["vocab_size"] == config_vocab  # 18.8: one vocab size everywhere
    assert f"{params / 1e6:.3g}M params" in proc.stdout, (params, proc.stdout)  # was "0.00B params"
    assert built.returncode == 0


@pytest.mark.slow
def test_a_start_that_died_before_its_first_checkpoint_does_not_block_the_rerun(tmp_path):
    run_dir = tmp_path / "run"
    small = ["run.threads=1", "run.tensorboard=false", "bc.enabled=false", "rollout.tasks_per_step=2", "rollout.group_size=2",
             "rollout.num_envs=4", "eval.tasks=2", "env.kwargs.max_turns=3"]
    train = ["train", str(CONFIG), "--profile", "cpu", f"run.out={run_dir}", *small]
    # a long run with its first checkpoint far away, killed once it has logged its step-0 evaluation
    proc = subprocess.Popen([sys.executable, "-m", "turngym.cli.main", *train, "run.steps=40", "run.checkpoint_every=40"], env=cli_env(), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while not (run_dir / "metrics.jsonl").exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert (run_dir / "metrics.jsonl").exists() and not (run_dir / "checkpoints").exists()
    rerun = turngym_cli(*train, "run.steps=1", timeout=400)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "failed before its first checkpoint; starting afresh" in " ".join(rerun.stdout.split())
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [0, 1]  # nothing of the dead start is left
