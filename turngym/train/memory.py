"""Keep the learner's freed memory in its own heap instead of handing it back to the kernel.

Why: glibc serves every block above its mmap threshold (at most 32 MB) with a fresh ``mmap`` and
unmaps it on ``free``. A training step at scale allocates many such blocks (the estimator's
per-row arrays are 80 MB each at 10M rows, batches of token tensors), so every step maps them
anew and the kernel zero-fills them page by page. On virtual machines that report freed pages to
the host (Firecracker/virtio-balloon free page reporting, as on this project's CI machines) a
re-touched page is also faulted in by the hypervisor: measured here, a fresh 80 MB array costs
~40-60 ns per float64 element to fill versus ~0.5 ns for a reused one, which made every
estimator's cost per row jump ~3x between 10^6 and 10^7 rows. Serving large blocks from the heap
(``M_MMAP_MAX = 0``) and never trimming it (``M_TRIM_THRESHOLD``) makes step N reuse step N-1's
pages: the process keeps its peak footprint, which is what a long-lived trainer holds anyway
(PyTorch's caching allocators make the same trade on GPUs).

Set ``TURNGYM_KEEP_FREED_MEMORY=0`` to leave glibc's defaults alone; a libc without ``mallopt``
(musl, macOS) is left as it is.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_applied: bool | None = None


def keep_freed_memory() -> bool:
    """Apply the policy once per process; True if glibc accepted it."""
    global _applied
    if _applied is not None:
        return _applied
    _applied = False
    if os.environ.get("TURNGYM_KEEP_FREED_MEMORY", "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    # mallopt returns 1 on success; the trim threshold is an int, so "never" is its largest value
    _applied = bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))
    return _applied
