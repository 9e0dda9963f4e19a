"""``turngym sandbox``: inspect the isolation layers, benchmark, and serve the sandbox over HTTP."""

from __future__ import annotations

import json

import typer

app = typer.Typer(help="Code-execution sandbox: check layers, benchmark, serve (SandboxFusion API).", no_args_is_help=True)


@app.command()
def check(
    strict: bool = typer.Option(False, help="Fail unless every strict-mode layer is active."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Probe the kernel, start a worker, and print which layers its children really apply."""
    import warnings

    from rich.console import Console
    from rich.table import Table

    from turngym.sandbox import SandboxConfig, SandboxUnavailable, capabilities
    from turngym.sandbox.config import LAYER_HELP
    from turngym.sandbox.local import LocalBackend

    static = capabilities()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            backend = LocalBackend(SandboxConfig(workers=1, strict=strict))
    except SandboxUnavailable as exc:
        typer.echo(f"sandbox unavailable: {exc}", err=True)
        raise typer.Exit(2) from exc
    try:
        live = backend.capabilities()
        probe = backend.run("print(1+1)")
    finally:
        backend.close()
    if as_json:
        typer.echo(json.dumps({"static": static, "live": live, "smoke_test": probe.status}, indent=2, default=str))
        return
    table = Table(title=f"turngym sandbox layers ({static['platform']}, landlock ABI {static['landlock_abi']})")
    table.add_column("layer")
    table.add_column("active")
    table.add_column("detail")
    for name, value in live["layers"].items():
        ok = value is True
        table.add_row(name, "[green]yes[/green]" if ok else "[yellow]no[/yellow]", LAYER_HELP.get(name, "") if ok else str(value))
    console = Console()
    console.print(table)
    console.print(f"smoke test print(1+1): {probe.status} {probe.stdout.strip()!r}   strict mode: {strict}")
    fs = live.get("fork_server") or {}
    if fs:
        loop = "C loop" if fs.get("native") else "Python loop (C extension not compiled)"
        console.print(f"fork server: {loop}; heap on huge pages: {fs.get('huge_pages_mb', 0)} MiB (THP {fs.get('thp')})")
    if probe.status != "ok":
        raise typer.Exit(1)


@app.command()
def bench(
    n: int = typer.Option(200, min=1, help="Runs per latency case."),
    cold: int = typer.Option(8, min=1, help="Cold sympy subprocess runs."),
    workers: int = typer.Option(2, min=1, help="Local backend workers."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Latency of the local backend and a session vs a plain `python -I -c` subprocess (same run)."""
    from turngym.sandbox.bench import format_table, run_bench

    res = run_bench(n=n, n_cold=cold, workers=workers)
    typer.echo(json.dumps(res, indent=2) if as_json else format_table(res))


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Bind address. Beyond loopback every write needs the token."),
    port: int = typer.Option(8080, min=1, max=65535, help="TCP port (1-65535)."),
    workers: int = typer.Option(2, min=1, help="Sandbox worker processes."),
    strict: bool = typer.Option(False, help="Refuse to start without every isolation layer."),
    timeout: float = typer.Option(10.0, min=0.001, help="Default per-call timeout in seconds."),
    memory_mb: int = typer.Option(1024, min=16, help="Default per-call memory budget."),
    token: str = typer.Option("", envvar="TURNGYM_SANDBOX_TOKEN",
                              help="Token for write endpoints when binding beyond loopback (generated and printed when empty)."),
    allow_host: list[str] = typer.Option([], "--allow-host", help="Extra Host names to answer (repeatable); loopback names are always allowed on a loopback bind."),
) -> None:
    """Serve the local backend with SandboxFusion's `/run_code` API (plus /turngym/sessions).

    Requests whose Host header is not the bound address (or an --allow-host name) get 400, which stops
    DNS rebinding from a browser. Bound beyond loopback, POST/DELETE need `Authorization: Bearer TOKEN`
    (FusionBackend(url, headers={"Authorization": "Bearer TOKEN"})).
    """
    from turngym.httpguard import needs_token, new_token
    from turngym.sandbox import SandboxConfig
    from turngym.sandbox.local import LocalBackend
    from turngym.sandbox.server import serve as _serve

    if needs_token(host) and not token:
        token = new_token()
        typer.echo(f"binding beyond loopback: write endpoints need this token: {token}", err=True)
    backend = LocalBackend(SandboxConfig(workers=workers, strict=strict, timeout_s=timeout, memory_mb=memory_mb))
    try:
        _serve(host=host, port=port, backend=backend, token=token or None, allow_hosts=tuple(allow_host))
    finally:
        backend.close()
