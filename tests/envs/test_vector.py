import os
import signal
import time

import pytest

import turngym
from turngym.envs.registration import register
from turngym.envs.vector import VectorTextEnv

from faulty_envs import CrashyKeyDoor

register("CrashyKeyDoor-v0", CrashyKeyDoor)


def _children_of(pid: int) -> set[int]:
    out = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.add(int(entry))
    return out


def _state(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


@pytest.mark.parametrize("num_workers", [0, 2])
def test_matches_single_env(num_workers):
    """The vector env gives the same observations as plain envs with the same seeds."""
    seeds = [3, 4, 5]
    with VectorTextEnv("KeyDoor-v0", 3, env_kwargs={"expert": True}, num_workers=num_workers) as venv:
        results = venv.reset(seeds=seeds)
        singles = [turngym.make("KeyDoor-v0", expert=True) for _ in seeds]
        firsts = [env.reset(seed=s) for env, s in zip(singles, seeds)]
        assert [r.observation for r in results] == [o for o, _ in firsts]
        infos = [r.info for r in results]
        for _ in range(20):
            active = {i: info["expert_action"] for i, info in enumerate(infos) if "expert_action" in info}
            if not active:
                break
            stepped = venv.step(active)
            for i, action in active.items():
                obs, reward, term, trunc, info = singles[i].step(action)
                assert stepped[i].observation == obs and stepped[i].reward == reward
                assert (stepped[i].terminated, stepped[i].truncated) == (term, trunc)
                infos[i] = info if not (term or trunc) else {}


def test_sigkill_worker_mid_episode_marks_episode_and_recovers():
    with VectorTextEnv("KeyDoor-v0", 4, num_workers=2, timeout=30) as venv:
        venv.reset(seeds=[0, 1, 2, 3])
        victim_slot = 1
        victim_pid = venv._workers[venv.worker_of(victim_slot)].process.pid
        os.kill(victim_pid, signal.SIGKILL)
        results = venv.step(["look"] * 4)
        assert results[victim_slot].error and "died" in results[victim_slot].error
        assert results[victim_slot].truncated and results[victim_slot].info["error"]
        other = [s for s in range(4) if venv.worker_of(s) != venv.worker_of(victim_slot)]
        assert all(results[s].error is None for s in other)
        # Slots of the dead worker that had no command in flight lost their env: marked on next step.
        assert venv.restarts == 1
        # The next reset works on every slot.
        again = venv.reset(seeds=[0, 1, 2, 3])
        assert all(r.error is None and r.observation for r in again)
        assert _state(victim_pid) is None  # reaped: no zombie
        pids = venv.worker_pids()
    for pid in pids:
        deadline = time.monotonic() + 5
        while _state(pid) not in (None,) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _state(pid) is None
    assert not [p for p in _children_of(os.getpid()) if _state(p) == "Z"]


def test_crash_and_hang_are_isolated():
    with VectorTextEnv("CrashyKeyDoor-v0", 3, num_workers=3, timeout=5.0) as venv:
        venv.reset(seeds=[0, 1, 2])
        results = venv.step({0: "crash", 1: "hang", 2: "look"})
        assert "died" in results[0].error
        assert "timed out" in results[1].error
        assert results[2].error is None and results[2].observation.startswith("You are in")
        assert venv.restarts == 2
        assert all(r.error is None for r in venv.reset(seeds=[0, 1, 2]))


def test_env_exception_is_reported_on_its_slot_only():
    with VectorTextEnv("CrashyKeyDoor-v0", 2, num_workers=1) as venv:
        venv.reset(seeds=[0, 1])
        results = venv.step({0: "raise", 1: "look"})
        assert "RuntimeError" in results[0].error and results[1].error is None
        assert venv.restarts == 0


def test_lost_slot_reports_error_until_reset():
    with VectorTextEnv("KeyDoor-v0", 2, num_workers=1) as venv:
        venv.reset(seeds=[0, 1])
        venv.send_step(0, "look")
        os.kill(venv.worker_pids()[0], signal.SIGKILL)
        (slot, result), = venv.recv()
        assert slot == 0 and result.error
        lost = venv.step({1: "look"})[1]
        assert "lost" in lost.error
        assert venv.reset(indices=[1], seeds=[1])[0].error is None


def test_completion_order_api_and_call():
    with VectorTextEnv("KeyDoor-v0", 2, num_workers=2) as venv:
        venv.reset(seeds=[0, 1])
        venv.send_step(0, "look")
        venv.send_step(1, "look")
        with pytest.raises(RuntimeError, match="in flight"):
            venv.send_step(0, "look")
        got = {}
        while len(got) < 2:
            got.update(dict(venv.recv(timeout=5)))
        assert set(got) == {0, 1}
        assert len(venv.call(0, "task_ids", "test")) > 0


def test_unknown_env_fails_in_caller():
    with pytest.raises(KeyError, match="KeyDoor-v0"):
        VectorTextEnv("KeyDor-v0", 2)


def test_close_leaves_no_children():
    venv = VectorTextEnv("KeyDoor-v0", 4, num_workers=2)
    venv.reset()
    pids = venv.worker_pids()
    venv.close()
    for pid in pids:
        assert _state(pid) is None


@pytest.mark.parametrize("threshold", [0, 1 << 30])
def test_replies_through_shared_memory_match_the_pipe(threshold):
    """Every reply above the threshold goes through the worker's shared-memory block; the results
    are the same as in process, and the block is freed for the next reply."""
    seeds = list(range(6))
    with VectorTextEnv("KeyDoor-v0", 6, num_workers=0) as ref, VectorTextEnv(
        "KeyDoor-v0", 6, num_workers=2, shm_bytes=1 << 20, shm_threshold=threshold
    ) as venv:
        expected = [r.observation for r in ref.reset(seeds=seeds)]
        assert [r.observation for r in venv.reset(seeds=seeds)] == expected
        for _ in range(5):
            a = {s: "look" for s in range(6)}
            got, want = venv.step(a), ref.step(a)
            assert {s: r.observation for s, r in got.items()} == {s: r.observation for s, r in want.items()}
        assert all(w.shm.buf[0] == 0 for w in venv._workers)
        used = sum(w.shm_replies for w in venv._workers)
        assert used == 12 if threshold == 0 else used == 0  # 2 workers x (1 reset + 5 steps)


def test_one_message_per_worker_per_step():
    """Commands for a worker's slots are batched into one message (what makes workers scale)."""
    with VectorTextEnv("KeyDoor-v0", 8, num_workers=2) as venv:
        venv.reset(seeds=list(range(8)))
        sent = []
        for w in venv._workers:
            original = w.conn.send_bytes
            w.conn.send_bytes = lambda data, _o=original: (sent.append(len(data)), _o(data))[1]
        venv.step(["look"] * 8)
        assert len(sent) == 2
