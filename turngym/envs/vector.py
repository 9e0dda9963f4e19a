"""Run N env instances ("slots") in worker processes behind one batched, fault-tolerant API.

Why not ``gymnasium.vector.AsyncVectorEnv``: rollouts need (1) per-slot, completion-ordered results
so generation can overlap slow envs (``send``/``recv``), (2) slots that finish early to sit idle
without autoreset, and (3) a crashed or hung worker to be restarted while the other slots go on,
with the affected episodes *marked* rather than the whole batch failing.

Workers are started with the ``spawn`` method (never ``fork`` a process that may hold torch
threads), set a parent-death signal so they never outlive the trainer, and each hosts several
slots. ``num_workers=0`` runs the envs in the calling process with the same API.

Messaging is what decides speed when a step costs microseconds: commands sent to a worker are
buffered and go out as **one message per worker** when results are awaited (``recv``), and the
worker answers the whole batch in one message. A round trip per slot would cost more than the
step itself and would serialise the workers behind the parent. Replies larger than
``shm_threshold`` bytes (long observations, e.g. HTML pages) travel through a per-worker
shared-memory block instead of the pipe, with a busy flag as the only synchronisation: the
worker writes only into a free block, the parent copies the bytes out and frees it.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import time
import weakref
from collections.abc import Mapping, Sequence
from multiprocessing.connection import wait
from typing import Any

from turngym.envs._vector_worker import EnvResult, failed_result, run_command, WorkerHandle
from turngym.envs.registration import spec

__all__ = ["EnvResult", "VectorTextEnv"]


class VectorTextEnv:
    """``num_envs`` instances of one env id, spread over ``num_workers`` processes.

    Batched API: ``reset(seeds, options)`` and ``step(actions)`` (actions for a subset of slots
    via a mapping). Completion-ordered API for overlapping generation and env time:
    ``send_reset``/``send_step`` then ``recv``. A worker that dies or exceeds ``timeout`` seconds
    on a command is killed and restarted: its in-flight slots get an ``EnvResult`` with ``error``
    set (``truncated=True``); its other slots lost their state and report an error on their next
    step until they are reset. ``shm_bytes`` > 0 gives each worker a shared-memory block of that
    size for replies longer than ``shm_threshold`` bytes.
    """

    def __init__(
        self,
        env_id: str,
        num_envs: int,
        *,
        env_kwargs: dict[str, Any] | None = None,
        num_workers: int | None = None,
        timeout: float = 60.0,
        shm_bytes: int = 0,
        shm_threshold: int = 1 << 16,
    ) -> None:
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        # Resolved here so an unknown id fails in the caller, and shipped whole to the workers so
        # that envs registered at run time (not only built-ins and plugins) work there too.
        self.env_spec = spec(env_id)
        self.env_id = self.env_spec.id
        self.env_kwargs = dict(env_kwargs or {})
        self.num_envs = num_envs
        self.num_workers = min(num_envs, os.cpu_count() or 1) if num_workers is None else num_workers
        if self.num_workers < 0:
            raise ValueError(f"num_workers must be >= 0, got {num_workers}")
        self.timeout = timeout
        if shm_bytes < 0 or shm_threshold < 0:
            raise ValueError(f"shm_bytes and shm_threshold must be >= 0, got {shm_bytes}, {shm_threshold}")
        self.shm_bytes, self.shm_threshold = shm_bytes, shm_threshold
        self.restarts = 0
        self._ctx = mp.get_context("spawn")
        self._local_envs: dict[int, Any] = {}
        self._workers: list[WorkerHandle] = [self._spawn() for _ in range(self.num_workers)]
        self._pending: dict[int, float] = {}  # slot -> deadline
        self._ready: list[tuple[int, EnvResult]] = []  # results produced without a round trip
        self._lost: set[int] = set()
        self._closed = False
        self._finalizer = weakref.finalize(self, VectorTextEnv._shutdown, self._workers)

    # -- slots and workers --------------------------------------------------------------------
    def _spawn(self) -> WorkerHandle:
        return WorkerHandle(self._ctx, self.env_spec, self.env_kwargs, self.shm_bytes, self.shm_threshold)

    def worker_of(self, slot: int) -> int:
        return slot % self.num_workers

    def worker_pids(self) -> list[int]:
        return [w.process.pid for w in self._workers if w.process.pid is not None]

    def _check_slot(self, slot: int) -> None:
        if not 0 <= slot < self.num_envs:
            raise IndexError(f"slot {slot} out of range for {self.num_envs} envs")
        if slot in self._pending:
            raise RuntimeError(f"slot {slot} already has a command in flight; recv() its result first")

    def _send(self, slot: int, cmd: str, payload: Any) -> None:
        if self._closed:
            raise RuntimeError("VectorTextEnv is closed")
        self._check_slot(slot)
        if self.num_workers == 0:
            try:
                result = run_command(self._local_envs, self.env_spec, self.env_kwargs, slot, cmd, payload)
            except Exception as exc:
                result = failed_result(f"{type(exc).__name__} in env {cmd}: {exc}")
            self._ready.append((slot, result))
            return
        if cmd == "step" and slot in self._lost:
            self._ready.append((slot, failed_result("env state was lost when its worker restarted; reset this slot")))
            return
        if cmd == "reset":
            self._lost.discard(slot)
        self._workers[self.worker_of(slot)].outbox.append((slot, cmd, payload))
        self._pending[slot] = time.monotonic() + self.timeout

    def flush(self) -> None:
        """Send every worker its buffered commands, one message each (``recv`` does this)."""
        for w_idx, worker in enumerate(self._workers):
            if worker.outbox:
                slots = [s for s, _, _ in worker.outbox]
                if not worker.flush():  # already dead: the next collect restarts it and marks the slots
                    for s in slots:
                        self._pending[s] = 0.0

    def send_reset(self, slot: int, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        self._send(slot, "reset", (seed, options))

    def send_step(self, slot: int, action: str) -> None:
        self._send(slot, "step", action)

    @property
    def in_flight(self) -> int:
        return len(self._pending) + len(self._ready)

    def recv(self, timeout: float | None = None) -> list[tuple[int, EnvResult]]:
        """Results that are ready, waiting up to ``timeout`` s (None: until at least one is)."""
        if self._ready:
            out, self._ready = self._ready, []
            return out
        if not self._pending:
            return []
        self.flush()
        give_up = None if timeout is None else time.monotonic() + timeout
        while True:
            out = self._collect()
            if out or not self._pending:
                return out
            now = time.monotonic()
            if give_up is not None and now >= give_up:
                return []
            wait_for = min(self._pending.values()) - now
            if give_up is not None:
                wait_for = min(wait_for, give_up - now)
            self._wait(max(wait_for, 0.0))

    def _wait(self, seconds: float) -> None:
        conns = [self._workers[i].conn for i in {self.worker_of(s) for s in self._pending}]
        wait(conns, timeout=seconds)

    def _collect(self) -> list[tuple[int, EnvResult]]:
        out: list[tuple[int, EnvResult]] = []
        busy = {self.worker_of(s) for s in self._pending}
        for w_idx in busy:
            worker = self._workers[w_idx]
            try:
                while worker.conn.poll():
                    for slot, result in worker.receive():
                        self._pending.pop(slot, None)
                        out.append((slot, result))
            except (EOFError, OSError):
                out.extend(self._restart(w_idx, f"env worker (pid {worker.process.pid}) died: exit code {worker.process.exitcode}"))
                continue
        now = time.monotonic()
        for w_idx in {self.worker_of(s) for s, deadline in self._pending.items() if deadline <= now}:
            worker = self._workers[w_idx]
            reason = (
                f"env worker (pid {worker.process.pid}) died: exit code {worker.process.exitcode}"
                if not worker.process.is_alive()
                else f"env worker (pid {worker.process.pid}) timed out after {self.timeout:.1f}s"
            )
            out.extend(self._restart(w_idx, reason))
        return out

    def _restart(self, w_idx: int, reason: str) -> list[tuple[int, EnvResult]]:
        self._workers[w_idx].kill()
        self._workers[w_idx] = self._spawn()
        self.restarts += 1
        failed: list[tuple[int, EnvResult]] = []
        for slot in [s for s in range(self.num_envs) if self.worker_of(s) == w_idx]:
            if slot in self._pending:
                del self._pending[slot]
                failed.append((slot, failed_result(reason)))
            else:
                self._lost.add(slot)
        return failed

    # -- batched API ----------------------------------------------------------------------------
    def _gather(self, slots: Sequence[int]) -> dict[int, EnvResult]:
        results: dict[int, EnvResult] = {}
        while len(results) < len(slots):
            for slot, result in self.recv():
                results[slot] = result
        return results

    def reset(
        self,
        seeds: Sequence[int | None] | None = None,
        options: Sequence[dict[str, Any] | None] | None = None,
        indices: Sequence[int] | None = None,
    ) -> list[EnvResult]:
        """Reset the slots in ``indices`` (default: all); returns their results in that order."""
        slots = list(range(self.num_envs)) if indices is None else list(indices)
        for pos, slot in enumerate(slots):
            self.send_reset(slot, None if seeds is None else seeds[pos], None if options is None else options[pos])
        results = self._gather(slots)
        return [results[s] for s in slots]

    def step(self, actions: Mapping[int, str] | Sequence[str | None]) -> dict[int, EnvResult]:
        """Step the slots that have an action (None in a sequence skips a slot)."""
        if isinstance(actions, Mapping):
            items = list(actions.items())
        else:
            if len(actions) != self.num_envs:
                raise ValueError(f"expected {self.num_envs} actions (None to skip a slot), got {len(actions)}")
            items = [(i, a) for i, a in enumerate(actions) if a is not None]
        for slot, action in items:
            self.send_step(slot, action)
        return self._gather([s for s, _ in items])

    def call(self, slot: int, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call a method of the env in ``slot`` (e.g. ``task_ids``) and return its value."""
        self._send(slot, "call", (method, args, kwargs))
        result = self._gather([slot])[slot]
        if result.error:
            raise RuntimeError(result.error)
        return result.info["value"]

    # -- shutdown -------------------------------------------------------------------------------
    @staticmethod
    def _shutdown(workers: list[WorkerHandle]) -> None:
        for worker in workers:
            try:
                worker.conn.send_bytes(pickle.dumps(None))
            except (BrokenPipeError, OSError):
                pass
        for worker in workers:
            worker.process.join(timeout=2)
            worker.kill()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for env in self._local_envs.values():
            env.close()
        self._finalizer()

    def __enter__(self) -> VectorTextEnv:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
