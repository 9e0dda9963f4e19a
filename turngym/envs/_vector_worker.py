"""The worker side of :class:`~turngym.envs.vector.VectorTextEnv`: the process loop, its wire
format and the parent's handle on one worker.

The wire format is chosen for microsecond env steps: a batch of ``(slot, cmd, payload)`` commands
per message, results as plain tuples (a dataclass pickles 4x slower), and replies above a size
threshold through a shared-memory block guarded by a one-byte busy flag.
"""

from __future__ import annotations

import ctypes
import mmap
import os
import pickle
import signal
import traceback
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.shared_memory import SharedMemory
from typing import Any

from turngym.envs.registration import EnvSpec, instantiate

@dataclass
class EnvResult:
    """One slot's answer to a reset or a step. ``error`` is set when the slot's worker failed."""

    observation: str
    reward: float = 0.0
    terminated: bool = False
    truncated: bool = False
    info: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def done(self) -> bool:
        return self.terminated or self.truncated


def failed_result(message: str) -> EnvResult:
    return EnvResult(observation="", truncated=True, info={"error": message}, error=message)


def _set_parent_death_signal() -> None:
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:  # not Linux: the pipe EOF still ends the worker
        pass


def run_command(envs: dict[int, Any], env_spec: EnvSpec, env_kwargs: dict[str, Any], slot: int, cmd: str, payload: Any) -> EnvResult:
    if cmd == "reset":
        env = envs.get(slot)
        if env is None:
            env = envs[slot] = instantiate(env_spec, **env_kwargs)
        seed, options = payload
        obs, info = env.reset(seed=seed, options=options)
        return EnvResult(obs, info=info)
    if cmd == "step":
        env = envs.get(slot)
        if env is None:
            return failed_result("step() before reset() on this slot")
        obs, reward, terminated, truncated, info = env.step(payload)
        return EnvResult(obs, float(reward), bool(terminated), bool(truncated), info)
    if cmd == "call":
        name, args, kwargs = payload
        env = envs.get(slot) or envs.setdefault(slot, instantiate(env_spec, **env_kwargs))
        return EnvResult("", info={"value": getattr(env, name)(*args, **kwargs)})
    raise ValueError(f"unknown command {cmd!r}")


_SHM_HEADER = 8  # byte 0: 1 while the block holds a reply the parent has not copied out


def _run_batch(envs: dict[int, Any], env_spec: EnvSpec, env_kwargs: dict[str, Any], batch: list[tuple[int, str, Any]]) -> list[tuple[int, tuple[Any, ...]]]:
    """Run a worker's commands; results go back as plain tuples (4x cheaper to pickle than the
    dataclass), rebuilt into ``EnvResult`` by the parent."""
    out = []
    for slot, cmd, payload in batch:
        try:
            result = run_command(envs, env_spec, env_kwargs, slot, cmd, payload)
        except Exception as exc:  # an env bug is reported on its slot, the worker lives on
            tb = traceback.format_exc(limit=3)
            result = failed_result(f"{type(exc).__name__} in env {cmd}: {exc}\n{tb}")
        out.append((slot, (result.observation, result.reward, result.terminated, result.truncated, result.info, result.error)))
    return out


def _attach(shm_name: str) -> mmap.mmap:
    """Map the parent's block directly: attaching through ``SharedMemory`` would register it with
    the resource tracker a second time (CPython < 3.13), which unlinks it when a worker exits."""
    fd = os.open(f"/dev/shm/{shm_name.lstrip('/')}", os.O_RDWR)
    try:
        return mmap.mmap(fd, os.fstat(fd).st_size)
    finally:
        os.close(fd)


def _worker_main(conn: Connection, env_spec: EnvSpec, env_kwargs: dict[str, Any], shm_name: str | None = None, shm_threshold: int = 0) -> None:
    _set_parent_death_signal()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    shm = _attach(shm_name) if shm_name else None
    envs: dict[int, Any] = {}
    while True:
        try:
            data = conn.recv_bytes()
        except (EOFError, OSError):
            return
        batch = pickle.loads(data)
        if batch is None:
            for env in envs.values():
                env.close()
            return
        reply = pickle.dumps(_run_batch(envs, env_spec, env_kwargs, batch), protocol=pickle.HIGHEST_PROTOCOL)
        if shm is not None and shm_threshold < len(reply) <= len(shm) - _SHM_HEADER and shm[0] == 0:
            shm[_SHM_HEADER : _SHM_HEADER + len(reply)] = reply
            shm[0] = 1
            conn.send_bytes(len(reply).to_bytes(8, "little"))  # an 8-byte message means "read the block"
        else:
            conn.send_bytes(reply)


class WorkerHandle:
    def __init__(self, ctx: Any, env_spec: EnvSpec, env_kwargs: dict[str, Any], shm_bytes: int, shm_threshold: int) -> None:
        self.conn, child = ctx.Pipe()
        self.shm = SharedMemory(create=True, size=shm_bytes + _SHM_HEADER) if shm_bytes else None
        if self.shm is not None:
            self.shm.buf[0] = 0
        args = (child, env_spec, env_kwargs, self.shm.name if self.shm else None, shm_threshold)
        self.process = ctx.Process(target=_worker_main, args=args, daemon=True)
        self.process.start()
        child.close()
        self.outbox: list[tuple[int, str, Any]] = []
        self.shm_replies = 0  # replies that came through the block (observability, tests)

    def flush(self) -> bool:
        """Send the buffered commands as one message; False if the worker is gone."""
        if not self.outbox:
            return True
        batch, self.outbox = self.outbox, []
        try:
            self.conn.send_bytes(pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL))
        except (BrokenPipeError, OSError):
            return False
        return True

    def receive(self) -> list[tuple[int, EnvResult]]:
        data = self.conn.recv_bytes()
        if len(data) == 8 and self.shm is not None:  # pickles are never 8 bytes long
            n = int.from_bytes(data, "little")
            data = bytes(self.shm.buf[_SHM_HEADER : _SHM_HEADER + n])
            self.shm.buf[0] = 0
            self.shm_replies += 1
        return [(slot, EnvResult(*fields)) for slot, fields in pickle.loads(data)]

    def kill(self) -> None:
        try:
            self.conn.close()
        finally:
            if self.process.is_alive():
                self.process.kill()
            self.process.join(timeout=5)
            if self.shm is not None:
                self.shm.close()
                self.shm.unlink()
                self.shm = None
