"""Issue 20.6: a resume logs no second step-0 row and names its stages truly; a corrupt store fails
at open with the store's message; partial groups (a rollout killed mid-group) are skipped."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from cli_helpers import CONFIG, ROOT, cli_env, turngym_cli
from turngym.core.table import TurnTable, partial_groups
from turngym.store import EpisodeStore

BC_RUN = [
    "run.threads=1", "run.tensorboard=false", "rollout.tasks_per_step=2", "rollout.group_size=2", "rollout.num_envs=4",
    "eval.tasks=2", "bc.enabled=true", "bc.episodes=6", "bc.epochs=1", "env.kwargs.max_turns=3",
]


@pytest.mark.slow
def test_resume_from_the_bc_checkpoint(tmp_path):
    run_dir = tmp_path / "run"
    first = turngym_cli("train", CONFIG, "--profile", "cpu", f"run.out={run_dir}", "run.steps=0", *BC_RUN)
    assert first.returncode == 0, first.stdout + first.stderr
    resumed = turngym_cli("train", "--resume", run_dir, "run.steps=1")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [0, 1]  # no second step-0 row
    table = resumed.stdout
    assert "initial (random init)" in table and "after behaviour cloning" in table
    # the initial row is the first segment's random-init evaluation, not the BC'd policy re-evaluated
    init_success = f"{rows[0]['init_eval/success']:.3f}"
    line = next(l for l in table.splitlines() if "initial (random init)" in l)
    assert init_success in line
    config = (run_dir / "config.yaml").read_text()
    assert "--resume at step 0" in config and "run.steps=1" in config  # every segment's overrides
    assert json.loads((run_dir / "run.json").read_text())["segments"][1]["overrides"] == ["run.steps=1"]


def test_a_corrupt_store_fails_at_open(tmp_path):
    out = tmp_path / "run"
    proc = turngym_cli("rollout", "KeyDoor-v0", "-n", "64", "--out", out)
    assert proc.returncode == 0, proc.stderr
    db = out / "episodes.db"
    size = db.stat().st_size
    with open(db, "r+b") as f:  # damage the page in the middle of the file, from its header on
        header = f.read(100)
        page = int.from_bytes(header[16:18], "big") or 65536  # SQLite stores 65536 as 1
        page = 65536 if page == 1 else page
        f.seek(max(1, size // 2 // page) * page)
        f.write(b"\xde\xad" * 2048)
    with pytest.raises(ValueError, match="is a corrupt episode store"):
        EpisodeStore(out, readonly=True)
    proc = turngym_cli("replay", out, "--list")
    assert proc.returncode != 0 and "corrupt episode store" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_a_rollout_killed_mid_group_leaves_a_partial_group_that_estimators_skip(tmp_path):
    out = tmp_path / "run"
    # G=7 rollouts per task, stored 32 at a time (not a multiple of 7); killed after the first writes
    proc = subprocess.Popen(
        [sys.executable, "-m", "turngym.cli.main", "rollout", "KeyDoor-v0", "--agent", "random", "-n", "400", "--group", "7",
         "--envs", "3", "--out", str(out)], env=cli_env(), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if (out / "episodes.db").exists():
            with EpisodeStore(out, readonly=True) as store:
                if store.count() >= 40:
                    break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with EpisodeStore(out, readonly=True) as store:
        episodes = store.query()
    partial = partial_groups(episodes)
    assert partial, "the kill left every group whole; rerun with a larger -n"
    table = TurnTable.from_episodes(episodes)
    kept = {episodes[e].group_id for e, _ in table.source}
    assert not kept & partial and kept  # complete groups stay, partial ones give no rows
