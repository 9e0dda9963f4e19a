"""A writer killed with SIGKILL leaves only whole episodes; readers work while a writer writes."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter

import pytest

from turngym.store import EpisodeStore

# Writes batches of 1..40 episodes forever, announcing each batch before and after the write call.
WRITER = r"""
import random, sys
from turngym.core.episode import new_id
from turngym.store import EpisodeStore
from turngym.store.synthetic import synthetic_episodes

path, seed = sys.argv[1], int(sys.argv[2])
rng = random.Random(seed)
pool = synthetic_episodes(120, seed=seed)
store = EpisodeStore(path)
batch = 0
while True:
    size = rng.randint(1, 40)
    tag = f"{seed}-{batch}"
    episodes = [
        e.model_copy(update={"episode_id": new_id(), "meta": {"batch": tag, "batch_size": size}})
        for e in rng.sample(pool, size)
    ]
    print("begin", tag, flush=True)
    store.write(episodes)
    print("done", tag, flush=True)
    batch += 1
"""


def _start_writer(path, seed: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), str(seed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_episodes(path, minimum: int, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read()
        if path.exists():
            try:
                with EpisodeStore(path, readonly=True) as ro:
                    if ro.count() >= minimum:
                        return
            except ValueError:
                pass  # the writer has not created the schema yet
        time.sleep(0.05)
    raise AssertionError("writer made no progress")


def _check_only_whole_episodes(path) -> Counter:
    """Every episode has all its turns and validates; every batch is all-or-nothing."""
    with EpisodeStore(path, readonly=True) as store:  # a viewer can read the crashed run as it is
        batches: Counter = Counter()
        sizes = {}
        for episode in store.iter_episodes(batch_size=200):  # parses and validates every record
            assert episode.num_turns > 0  # header vs. stored turn rows is checked on load
            batches[episode.meta["batch"]] += 1
            sizes[episode.meta["batch"]] = episode.meta["batch_size"]
        assert all(batches[tag] == sizes[tag] for tag in batches), "a batch was written partially"
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    mismatched = conn.execute(
        "SELECT e.episode_id, e.num_turns, COUNT(t.pos) FROM episodes e LEFT JOIN turns t USING (episode_id) "
        "GROUP BY e.episode_id HAVING COUNT(t.pos) != e.num_turns"
    ).fetchall()
    orphans = conn.execute(
        "SELECT COUNT(*) FROM turns WHERE episode_id NOT IN (SELECT episode_id FROM episodes)"
    ).fetchone()[0]
    conn.close()
    assert mismatched == [] and orphans == 0
    return batches


def test_sigkill_mid_write_leaves_only_whole_episodes(tmp_path):
    path = tmp_path / "run" / "episodes.db"
    rng = random.Random(os.getpid())
    total_batches: Counter = Counter()
    in_flight_seen = 0
    for round_ in range(3):
        proc = _start_writer(path, seed=round_)
        _wait_for_episodes(path, sum(total_batches.values()) + 1, proc)
        time.sleep(rng.uniform(0.05, 0.6))
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        log = out.split()
        begun = [log[i + 1] for i, word in enumerate(log) if word == "begin" and i + 1 < len(log)]
        done = {log[i + 1] for i, word in enumerate(log) if word == "done" and i + 1 < len(log)}
        batches = _check_only_whole_episodes(path)
        for tag in done:
            assert tag in batches  # committed writes are durable across the crash
        in_flight = [tag for tag in begun if tag not in done]
        in_flight_seen += bool(in_flight)
        assert set(batches) - set(total_batches) <= set(begun)
        total_batches = batches
    assert in_flight_seen >= 1  # the kill did land inside a write call at least once


def test_readers_see_consistent_data_while_a_writer_writes(tmp_path):
    path = tmp_path / "run" / "episodes.db"
    proc = _start_writer(path, seed=7)
    try:
        _wait_for_episodes(path, 1, proc)
        counts = []
        with EpisodeStore(path, readonly=True) as ro, EpisodeStore(path) as rw:
            deadline = time.monotonic() + 3.0
            while time.monotonic() < deadline:
                for store in (ro, rw):
                    counts.append(store.count())
                    latest = store.query(order_by="created_at", descending=True, limit=20)
                    assert all(len(e.turns) == e.num_turns for e in latest)
                    tags = Counter(e.meta["batch"] for e in store.query(offset=max(0, counts[-1] - 50)))
                    assert len(store.summaries(limit=100)) == min(100, store.count())
                    assert tags
        assert proc.poll() is None  # the writer never hit "database is locked"
        assert counts == sorted(counts) and counts[-1] > counts[0]
    finally:
        proc.kill()
        proc.communicate(timeout=30)


def test_second_writer_waits_for_the_first(tmp_path):
    """Two writers (e.g. a resumed trainer and a stale one) serialise on the lock instead of failing."""
    path = tmp_path / "run"
    proc = _start_writer(path / "episodes.db", seed=3)
    try:
        _wait_for_episodes(path / "episodes.db", 1, proc)
        from turngym.store.synthetic import synthetic_episodes

        with EpisodeStore(path) as store:
            mine = synthetic_episodes(30, seed=99)
            for e in mine:
                e.meta = {"batch": "main", "batch_size": 30}
            assert store.write(mine) == 30
    finally:
        proc.kill()
        proc.communicate(timeout=30)
    assert _check_only_whole_episodes(path / "episodes.db")["main"] == 30


@pytest.mark.parametrize("threads", [4])
def test_one_store_shared_by_threads(tmp_path, threads):
    import threading

    from turngym.store.synthetic import synthetic_episodes

    errors: list[BaseException] = []
    with EpisodeStore(tmp_path / "run") as store:

        def work(k: int) -> None:
            try:
                for i in range(5):
                    batch = synthetic_episodes(4, seed=k * 100 + i)
                    for e in batch:
                        e.meta = {"batch": f"{k}-{i}", "batch_size": 4}
                    store.write(batch)
                    store.summaries(limit=10)
                    list(store.iter_episodes(batch_size=3, run_id="run-0"))
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        workers = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        assert not errors
        assert store.count() == threads * 5 * 4
    _check_only_whole_episodes(tmp_path / "run" / "episodes.db")
