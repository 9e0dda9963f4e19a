"""``turngym replay RUN_DIR``: the replay debugger (web app), a terminal transcript, an HTML export.

Imports of FastAPI/uvicorn happen inside the command so that ``turngym --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def replay(
    run_dir: Annotated[
        Path,
        typer.Argument(help="Run directory (holding episodes.db) or a store file."),
    ],
    port: Annotated[int, typer.Option(help="Port of the local web app.")] = 8765,
    host: Annotated[
        str, typer.Option(help="Interface to listen on (127.0.0.1: this machine only).")
    ] = "127.0.0.1",
    episode: Annotated[
        str | None, typer.Option("--episode", help="Episode id for --text / --export.")
    ] = None,
    text: Annotated[
        bool, typer.Option("--text", help="Print the episode in the terminal and exit.")
    ] = False,
    export: Annotated[
        Path | None,
        typer.Option(
            "--export", help="Write a self-contained HTML page for --episode and exit."
        ),
    ] = None,
    readonly: Annotated[
        bool, typer.Option(help="Open the store readonly (branching disabled).")
    ] = False,
) -> None:
    """Browse, re-run and branch the episodes of a run in the browser."""
    if not run_dir.exists():
        raise typer.BadParameter(f"{run_dir} does not exist", param_hint="RUN_DIR")
    try:
        from turngym.replay.run import RunDir
    except ImportError as exc:  # fastapi is in the `replay` extra
        typer.echo(
            f"turngym replay needs the replay extra: pip install 'turngym[replay]' ({exc})",
            err=True,
        )
        raise typer.Exit(1) from None
    if (text or export) and not episode:
        raise typer.BadParameter(
            "--text and --export need --episode ID", param_hint="--episode"
        )
    try:
        run = RunDir(run_dir, readonly=readonly or bool(text or export))
    except (FileNotFoundError, ValueError) as exc:
        typer.echo(f"cannot open {run_dir}: {exc}", err=True)
        raise typer.Exit(1) from None
    try:
        if text or export:
            try:
                ep = run.store.get(episode)  # type: ignore[arg-type]
            except KeyError:
                typer.echo(
                    f"episode {episode!r} not found in {run.store.path}", err=True
                )
                raise typer.Exit(1) from None
            if text:
                from turngym.replay.render import episode_text

                typer.echo(
                    episode_text(
                        ep, [run.decode_tokens(t.response_token_ids) for t in ep.turns]
                    )
                )
            if export:
                from turngym.replay.render import export_html

                path = export_html(run, ep.episode_id, export)
                typer.echo(f"wrote {path}")
            return
        import uvicorn

        from turngym.replay.app import create_app

        typer.echo(
            f"turngym replay: http://{host}:{port}/  (API docs at /docs; Ctrl-C to stop)"
        )
        uvicorn.run(create_app(run), host=host, port=port, log_level="warning")
    finally:
        run.close()


def attach(app: typer.Typer) -> None:
    app.command(name="replay")(replay)
