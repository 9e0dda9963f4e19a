"""The confinement layers applied inside each freshly forked child, in the order that matters.

Each layer is attempted, and its outcome recorded (``True`` or the reason it is inactive), so the
worker can report what actually protects a run instead of what was configured. The order is fixed:
namespaces and mounts need root, rlimits must be set while hard limits can still be raised, Landlock
rules need the paths opened before we lose access, the uid drop clears the parent-death signal (so
it is set after), and seccomp comes last because it forbids the calls used before it.
"""

from __future__ import annotations

import gc
import os
import random
import resource
import signal
import sys
import time
from typing import Any

from . import _sys, landlock, seccomp_filter

#: Layers strict mode insists on.
STRICT_LAYERS = ("new_session", "close_fds", "rlimits", "pid_namespace", "scratch_tmpfs", "ipc_namespace", "landlock", "setuid",
                 "seccomp", "ipc_syscalls", "clear_env")

#: Directories through which processes share POSIX IPC objects (``shm_open``, ``sem_open``, ``mq_open``'s view).
SHARED_DIRS = ("/dev/shm", "/dev/mqueue")


def _blocking_ancestor(path: str) -> str | None:
    """Highest ancestor of ``path`` that other users cannot traverse (e.g. ``/root`` for pyenv)."""
    parts = os.path.abspath(path).split("/")[1:]
    cur = ""
    for p in parts[:-1]:
        cur += "/" + p
        try:
            if not os.stat(cur).st_mode & 0o001:
                return cur
        except OSError:
            return None
    return None


def _expose_hidden(paths: list[str], stage: str) -> list[str]:
    """Make read-only paths under non-traversable directories reachable for the unprivileged uid.

    Inside the private mount namespace: bind each path to a staging point, cover the blocking
    ancestor with an empty tmpfs (0755), recreate the path and move the bind back. The rest of the
    hidden directory (e.g. everything else in ``/root``) stays invisible.
    """
    by_anc: dict[str, list[str]] = {}
    for p in paths:
        anc = _blocking_ancestor(p)
        if anc and os.path.exists(p):
            by_anc.setdefault(anc, []).append(os.path.abspath(p))
    exposed: list[str] = []
    for anc, ps in by_anc.items():
        staged = []
        for i, p in enumerate(ps):
            st = os.path.join(stage, f"s{len(exposed) + i}")
            os.makedirs(st, exist_ok=True)
            _sys.mount(p, st, None, _sys.MS_BIND | _sys.MS_REC)
            staged.append((st, p))
        _sys.mount("tmpfs", anc, "tmpfs", _sys.MS_NOSUID | _sys.MS_NODEV, "mode=0755,size=64k")
        for st, p in staged:
            os.makedirs(p, exist_ok=True)
            _sys.mount(st, p, None, _sys.MS_MOVE)
            exposed.append(p)
    return exposed


def prepare_worker_namespace(ro_paths: list[str], stage: str) -> list[str]:
    """Once per worker (root): a private mount namespace with hidden interpreter paths exposed.

    Children copy it with a plain ``unshare(CLONE_NEWNS)`` and only mount their tmpfs, instead of
    repeating the propagation change and the bind dance for every run. POSIX shared memory and
    message-queue directories are covered by empty read-only mounts: Landlock already hides them,
    this keeps a run from leaving objects there for the next one when Landlock is missing.
    """
    _sys.unshare(_sys.CLONE_NEWNS)
    _sys.mount(None, "/", None, _sys.MS_REC | _sys.MS_PRIVATE)
    for shared in SHARED_DIRS:
        if os.path.isdir(shared):
            _sys.mount("tmpfs", shared, "tmpfs", _sys.MS_NOSUID | _sys.MS_NODEV | _sys.MS_NOEXEC | _sys.MS_RDONLY, "size=4k,nr_inodes=1,mode=0755")
    return _expose_hidden(ro_paths, stage)


def prepare_scratch_parent(parent: str) -> str:
    """Inside the worker's namespace: a tiny read-only tmpfs at ``parent`` holding one mount point.

    Every child mounts its private scratch tmpfs on the returned ``parent/work``. The worker's
    Landlock ruleset grants read-write on ``parent``: Landlock skips mount points when it walks up a
    path (a rule on the mount point itself would not cover the tmpfs mounted there) and checks their
    parent instead. ``parent`` is read-only and empty apart from the mount point, so the only place a
    child can write is its own tmpfs, exactly as with a per-child ruleset naming the tmpfs root.
    """
    flags, opts = _sys.MS_NOSUID | _sys.MS_NODEV | _sys.MS_NOEXEC, "mode=0711,size=16k,nr_inodes=8"
    _sys.mount("tmpfs", parent, "tmpfs", flags, opts)
    work = os.path.join(parent, "work")
    os.mkdir(work, 0o711)
    _sys.mount("tmpfs", parent, "tmpfs", flags | _sys.MS_REMOUNT | _sys.MS_RDONLY, opts)
    return work


def child_environment(plan: dict[str, Any], scratch: str) -> dict[str, str]:
    """The complete environment of a child: the plan's fixed variables plus its scratch as home."""
    return {**plan.get("env", {}), "HOME": scratch, "TMPDIR": scratch, "PWD": scratch}


def reseed_rngs() -> None:
    """Fresh seeds for ``random`` and numpy's global generator (a fork copies their state)."""
    random.seed()
    np = sys.modules.get("numpy")
    if np is not None and "numpy.random" in sys.modules:
        np.random.seed(int.from_bytes(os.urandom(4), "little"))


def vm_bytes() -> int:
    # A raw read on purpose: the first buffered text read in a fresh child was measured at ~160
    # copy-on-write faults (buffer allocation), a tenth of the child's start-up.
    fd = os.open("/proc/self/statm", os.O_RDONLY | os.O_CLOEXEC)
    try:
        return int(os.read(fd, 256).split()[0]) * resource.getpagesize()
    finally:
        os.close(fd)


def apply(plan: dict[str, Any], keep_fds: list[int]) -> dict[str, Any]:
    """Confine the calling (freshly forked, single-threaded) process; return per-layer outcomes.

    ``plan`` keys: uid, gid, scratch_base, scratch_size_mb, scratch_inodes, max_memory_mb,
    max_cpu_s, fsize_mb, nofile, nproc, ro_paths, rw_files, seccomp_bpf (bytes or None), env,
    disabled (list of layer names), pid_namespace (bool: the worker forked us as pid 1).
    """
    disabled = set(plan.get("disabled", ()))
    layers: dict[str, Any] = {}
    info: dict[str, Any] = {}

    timings: dict[str, float] = {}
    info["timings_us"] = timings

    def attempt(name: str, fn: Any) -> Any:
        if name in disabled:
            layers[name] = "disabled by configuration"
            return None
        try:
            t0 = time.perf_counter()
            out = fn()
            timings[name] = round((time.perf_counter() - t0) * 1e6)
            layers[name] = True
            return out
        except Exception as exc:  # a missing layer is reported, never fatal here
            layers[name] = f"{type(exc).__name__}: {exc}"
            return None

    is_root = os.geteuid() == 0
    layers["pid_namespace"] = True if plan.get("pid_namespace") else plan.get("pid_namespace_reason", "not available")

    def detach() -> None:
        # Init of a fresh PID namespace already has nothing to share a session with, and setsid()
        # costs milliseconds there (it creates a scheduler autogroup): a process group suffices.
        if plan.get("pid_namespace"):
            os.setpgid(0, 0)
        else:
            os.setsid()

    attempt("new_session", detach)

    ruleset_fd = plan.get("landlock_ruleset_fd")

    def close_fds() -> None:
        keep = sorted(set(keep_fds) | {0, 1, 2} | ({ruleset_fd} if ruleset_fd is not None else set()))
        lo = 3
        for fd in keep:
            if fd >= lo:
                os.closerange(lo, fd)
                lo = fd + 1
        os.closerange(lo, 1 << 20)

    attempt("close_fds", close_fds)

    scratch: str | None = None

    def tmpfs() -> str:
        if not is_root:
            raise PermissionError("needs root for a private mount namespace")
        _sys.unshare(_sys.CLONE_NEWNS)
        if not plan.get("worker_mount_ns"):  # the worker did not prepare a private namespace for us
            _sys.mount(None, "/", None, _sys.MS_REC | _sys.MS_PRIVATE)
            info["exposed"] = _expose_hidden(plan["ro_paths"], os.path.join(plan["scratch_base"], "stage"))
        target = plan.get("scratch_mount") or os.path.join(plan["scratch_base"], "scratch")
        opts = f"size={plan['scratch_size_mb']}m,nr_inodes={plan['scratch_inodes']},mode=0700"
        if plan.get("uid") is not None and "setuid" not in disabled:
            opts += f",uid={plan['uid']},gid={plan['gid']}"
        _sys.mount("tmpfs", target, "tmpfs", _sys.MS_NOSUID | _sys.MS_NODEV | _sys.MS_NOEXEC, opts)
        return target

    scratch = attempt("scratch_tmpfs", tmpfs)
    if scratch is None:  # fallback: a per-child directory chosen (and removed after exit) by the worker
        scratch = plan["fallback_scratch"]
        os.makedirs(scratch, mode=0o700)
        if is_root and plan.get("uid") is not None and "setuid" not in disabled:
            os.chown(scratch, plan["uid"], plan["gid"])
    info["scratch"] = scratch
    os.chdir(scratch)

    def ipc_namespace() -> None:
        # System V IPC objects and POSIX message queues belong to an IPC namespace and live until
        # removed or until the namespace dies: a private one dies with this child, taking every
        # segment, queue and semaphore the run made with it. (Seccomp also denies the calls.)
        if not is_root:
            raise PermissionError("needs root for a private IPC namespace")
        _sys.unshare(_sys.CLONE_NEWIPC)

    attempt("ipc_namespace", ipc_namespace)

    info["vm_base"] = vm_base = vm_bytes()

    def rlimits() -> None:
        mb = 1 << 20
        cpu = int(plan["max_cpu_s"])
        resource.setrlimit(resource.RLIMIT_AS, (vm_base + plan["max_memory_mb"] * mb,) * 2)
        # RLIMIT_CPU is normally inherited from the worker (armed at fork for free): setting it here
        # re-arms the process CPU timer, which stalls for milliseconds on a busy machine.
        if resource.getrlimit(resource.RLIMIT_CPU)[0] != cpu:
            resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        signal.signal(signal.SIGXCPU, signal.SIG_DFL)  # the worker ignores it for itself
        resource.setrlimit(resource.RLIMIT_FSIZE, (plan["fsize_mb"] * mb,) * 2)
        resource.setrlimit(resource.RLIMIT_NOFILE, (plan["nofile"],) * 2)
        resource.setrlimit(resource.RLIMIT_NPROC, (plan["nproc"],) * 2)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    attempt("rlimits", rlimits)

    def do_landlock() -> int:
        ruleset = plan.get("landlock_ruleset_fd")
        if ruleset is not None and scratch == plan.get("landlock_scratch"):
            # Built by the worker with our scratch mount point as the read-write path: a rule on the
            # mount point covers the tmpfs mounted on it (Landlock walks up across mounts).
            landlock.restrict_self(ruleset)
            return int(plan["landlock_abi"])
        return landlock.restrict(plan["ro_paths"], [scratch], plan["rw_files"])

    abi = attempt("landlock", do_landlock)
    if plan.get("landlock_ruleset_fd") is not None:
        try:
            os.close(plan["landlock_ruleset_fd"])
        except OSError:
            pass
    if abi:
        info["landlock_abi"] = abi

    def drop_uid() -> None:
        if not is_root:
            raise PermissionError("not root: already unprivileged, no uid change possible")
        uid, gid = plan["uid"], plan["gid"]
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
        if os.getresuid() != (uid, uid, uid) or os.getresgid() != (gid, gid, gid):
            raise OSError("uid change did not stick")

    attempt("setuid", drop_uid)
    # After the uid change (which clears it): die with the worker.
    attempt("pdeathsig", lambda: _sys.prctl(_sys.PR_SET_PDEATHSIG, signal.SIGKILL))

    def seccomp() -> None:
        if plan.get("seccomp_bpf") is None:
            raise OSError(plan.get("seccomp_reason") or "no seccomp filter")
        seccomp_filter.load(plan["seccomp_bpf"])

    attempt("seccomp", seccomp)
    if layers.get("seccomp") is not True:
        layers["ipc_syscalls"] = "seccomp inactive"
    elif plan.get("seccomp_ipc_missing"):
        layers["ipc_syscalls"] = f"the filter could not name {plan['seccomp_ipc_missing']}"
    else:
        layers["ipc_syscalls"] = True  # shm*/msg*/sem*/mq_* return EPERM
    if not plan.get("strict"):
        layers["seccomp_strict"] = "strict mode not requested (fork/exec allowed)"
    else:
        layers["seccomp_strict"] = True if layers.get("seccomp") is True else "seccomp inactive"

    def clear_env() -> None:
        if plan.get("env_scratch") != scratch:  # the worker prepared the environment for another scratch
            os.environ.clear()
            os.environ.update(child_environment(plan, scratch))
        import tempfile

        tempfile.tempdir = scratch

    attempt("clear_env", clear_env)

    attempt("reseed", reseed_rngs)
    # Everything alive now (inherited or made while confining) is never garbage for the user code:
    # freezing it keeps the cell's collections off those objects. A gc.collect() here would instead
    # write to every tracked object's header, copying its page (~0.2 ms per child, measured).
    gc.freeze()
    return {"layers": layers, "info": info}
