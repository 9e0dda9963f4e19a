"""Issue 18.5: failures are findable without the browser; eval and branch episodes are stored
apart from training data (tagged), and exports of training data leave them out."""

import json
import re

import pytest

from cli_helpers import turngym_cli
from turngym.replay import rerun
from turngym.store import EpisodeStore

pytestmark = pytest.mark.slow

ID = re.compile(r"^([0-9a-f]{32}) ", re.M)


def test_eval_episodes_are_stored_tagged_and_listed(tiny_run):
    with EpisodeStore(tiny_run, readonly=True) as store:
        evals = store.summaries(tag="eval")
        training = store.summaries(tagged=False)
    # eval before training (step 0) and after the one RL step (step 1), 3 held-out tasks each
    assert sorted(s.step for s in evals) == [0, 0, 0, 1, 1, 1]
    assert len(training) == 4 and all(s.step == 1 for s in training)  # 2 tasks × G=2
    failed_evals = [s for s in evals if not s.won]
    proc = turngym_cli("replay", tiny_run, "--list", "--failed", "--tag", "eval")
    assert proc.returncode == 0, proc.stderr
    listed = ID.findall(proc.stdout)
    assert sorted(listed) == sorted(s.episode_id for s in failed_evals)
    assert all(len(line) <= 80 for line in proc.stdout.splitlines()[:-1]), proc.stdout
    one = evals[0]
    proc = turngym_cli("replay", tiny_run, "--list", "--task", one.task_id, "--step", str(one.step), "--tag", "eval")
    assert one.episode_id in ID.findall(proc.stdout)
    assert all(f" {one.step} " in line for line in proc.stdout.splitlines()[1:-1])
    # a listed id opens
    proc = turngym_cli("replay", tiny_run, "--text", "--episode", one.episode_id)
    assert proc.returncode == 0 and one.episode_id in proc.stdout


def test_training_exports_exclude_eval_and_branches(tiny_run, tmp_path):
    store_dir = tmp_path / "copy"
    with EpisodeStore(tiny_run, readonly=True) as src, EpisodeStore(store_dir) as dst:
        dst.write(src.query())
        parent = dst.query(tagged=False)[0]
        child = rerun.branch(parent, 0, action="look")
        dst.write(child)
        assert dst.get(child.episode_id).tag == "branch"
        n = dst.export_training_jsonl(tmp_path / "train.jsonl")
        everything = dst.export_jsonl(tmp_path / "all.jsonl")
    exported = [json.loads(line) for line in (tmp_path / "train.jsonl").read_text().splitlines()]
    assert n == len(exported) == 4 and everything == 4 + 6 + 1
    assert all(e["tag"] is None and e["parent_id"] is None for e in exported)


def test_a_version_1_store_reads_and_upgrades(tmp_path):
    """A store written before tags (schema 1, the committed fixture) reads with every episode
    untagged, and once opened writable takes tagged episodes."""
    import shutil
    from pathlib import Path

    from turngym.core.episode import Episode

    path = tmp_path / "old.db"
    shutil.copy(Path(__file__).parents[1] / "store" / "fixtures" / "v1_store.db", path)
    with EpisodeStore(path, readonly=True) as store:
        n = store.count()
        assert n > 0 and store.count(tagged=False) == n and all(s.tag is None for s in store.summaries(limit=5))
    with EpisodeStore(path) as store:
        store.write(Episode(env_id="KeyDoor-v0", task_id="u", tag="eval"))
        assert store.count(tag="eval") == 1 and store.count(tagged=False) == n
        assert store.query(tag="eval")[0].tag == "eval"
