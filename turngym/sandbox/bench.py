"""Latency and throughput of the sandbox against a plain ``python -I -c`` subprocess, same run.

Used by ``turngym sandbox bench`` and ``benchmarks/sandbox_latency.py``. Absolute numbers depend on
machine load, so every figure is paired with its baseline measured in the same process and minute.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

SYMPY_CELL = "import sympy as sp\nx = sp.Symbol('x')\nprint(sp.factor(x**4 - 1), sp.solve(x**2 - 2*x - 3, x))"


def _times(fn: Callable[[], Any], n: int, think_s: float = 0.0) -> list[float]:
    out = []
    for _ in range(n):
        if think_s:
            time.sleep(think_s)  # the policy generating its next tool call
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def _stats(ts: list[float]) -> dict[str, float]:
    ts = sorted(ts)
    return {"median_ms": statistics.median(ts) * 1e3, "p95_ms": ts[min(len(ts) - 1, int(0.95 * len(ts)))] * 1e3,
            "n": len(ts)}


def run_bench(n: int = 200, n_cold: int = 8, workers: int = 2, python: str | None = None,
              think_ms: tuple[float, ...] = (5.0, 50.0)) -> dict[str, Any]:
    from .config import SandboxConfig
    from .local import LocalBackend

    python = python or sys.executable
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        backend = LocalBackend(SandboxConfig(workers=workers, python=python))
    try:
        def check(r: Any, want: str) -> None:
            if r.status != "ok" or r.stdout.strip() != want:
                raise RuntimeError(f"sandbox returned {r.status}: {r.stdout!r} {r.stderr[-300:]!r}")

        for _ in range(20):  # warm up
            check(backend.run("print(1+1)"), "2")
        local = _times(lambda: check(backend.run("print(1+1)"), "2"), n)
        paced = {ms: _times(lambda: check(backend.run("print(1+1)"), "2"), n, ms / 1e3) for ms in think_ms}
        with backend.session() as s:
            for _ in range(20):
                s.run("print(1+1)")
            sess = _times(lambda: check(s.run("print(1+1)"), "2"), n)
        sub = _times(lambda: subprocess.run([python, "-I", "-c", "print(1+1)"], capture_output=True, check=True), n)
        want = backend.run(SYMPY_CELL).stdout.strip()
        t0 = time.perf_counter()
        n_sym = max(20, n // 4)
        for _ in range(n_sym):
            check(backend.run(SYMPY_CELL), want)
        sym_local = n_sym / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        for _ in range(n_cold):
            subprocess.run([python, "-I", "-c", SYMPY_CELL], capture_output=True, check=True)
        sym_cold = n_cold / (time.perf_counter() - t0)
        layers = backend.capabilities()["layers"]
    finally:
        backend.close()
    import os

    res = {"local": _stats(local), "local_paced": {f"{ms:g}": _stats(ts) for ms, ts in paced.items()},
           "session": _stats(sess), "subprocess": _stats(sub),
           "loadavg_1min": os.getloadavg()[0], "cpus": os.cpu_count(),
           "sympy_local_per_s": sym_local, "sympy_cold_per_s": sym_cold,
           "active_layers": sorted(k for k, v in layers.items() if v is True)}
    res["speedup_vs_subprocess"] = res["subprocess"]["median_ms"] / res["local"]["median_ms"]
    res["sympy_speedup"] = sym_local / sym_cold
    return res


def format_table(res: dict[str, Any]) -> str:
    def row(name: str, st: dict[str, float], target: str) -> str:
        return f"{name:32} {st['median_ms']:>10.3f} {st['p95_ms']:>10.3f}  {target}"

    lines = [f"{'case':32} {'median ms':>10} {'p95 ms':>10}  target", "-" * 82,
             row("print(1+1) local backend", res["local"], "median <= 2 ms, >= 4x subprocess")]
    lines += [row(f"  same, {ms} ms between calls", st, "(rollout-like pacing)") for ms, st in res["local_paced"].items()]
    lines += [row("print(1+1) session", res["session"], "median <= 0.2 ms"),
              row("print(1+1) python -I -c", res["subprocess"], "baseline"), "-" * 82]
    lines.append(f"local speed-up vs subprocess: {res['speedup_vs_subprocess']:.1f}x   (n={res['local']['n']} each)")
    lines.append(f"sympy cell: local {res['sympy_local_per_s']:.1f}/s vs cold subprocess {res['sympy_cold_per_s']:.2f}/s "
                 f"= {res['sympy_speedup']:.0f}x (target >= 10x)")
    lines.append("active layers: " + ", ".join(res["active_layers"]))
    lines.append(f"machine: {res['cpus']} CPUs, 1-min load average {res['loadavg_1min']:.1f} at the end of the run")
    return "\n".join(lines)
