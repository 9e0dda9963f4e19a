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
    list_: Annotated[
        bool, typer.Option("--list", help="Print episode ids with outcome, turns and reward, and exit.")
    ] = False,
    failed: Annotated[bool, typer.Option("--failed", help="With --list: only episodes not won.")] = False,
    task: Annotated[str | None, typer.Option("--task", help="With --list: only this task id.")] = None,
    step: Annotated[int | None, typer.Option("--step", min=0, help="With --list: only this training step.")] = None,
    tag: Annotated[
        str | None, typer.Option("--tag", help="With --list: only this tag (eval, branch) or 'none' (training data).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="With --list: at most this many rows.")] = 50,
    token: Annotated[
        str, typer.Option(envvar="TURNGYM_REPLAY_TOKEN", help="Token for writes (re-run, branch) when --host is beyond loopback; generated when empty.")
    ] = "",
    allow_host: Annotated[
        list[str] | None, typer.Option("--allow-host", help="Extra Host names to answer (repeatable), e.g. the machine's DNS name.")
    ] = None,
) -> None:
    """Browse, re-run and branch the episodes of a run in the browser (or list them with --list)."""
    if not run_dir.exists():
        raise typer.BadParameter(f"{run_dir} does not exist", param_hint="RUN_DIR")
    if list_:
        _list_episodes(run_dir, failed=failed, task=task, step=step, tag=tag, limit=limit)
        return
    if not 0 < port < 65536:
        raise typer.BadParameter(f"{port} is not a TCP port (1-65535)", param_hint="--port")
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

                if export.is_dir():
                    typer.echo(f"--export {export} is a directory; give the HTML file to write", err=True)
                    raise typer.Exit(2)
                try:
                    path = export_html(run, ep.episode_id, export)
                except OSError as exc:
                    typer.echo(f"--export {export}: cannot write it ({exc.strerror or exc})", err=True)
                    raise typer.Exit(2) from None
                typer.echo(f"wrote {path}")
            return
        import uvicorn

        from turngym.replay.app import create_app

        from turngym.httpguard import guard, needs_token, new_token

        if needs_token(host) and not token:
            token = new_token()
        query = f"?token={token}" if needs_token(host) else ""
        typer.echo(
            f"turngym replay: http://{host}:{port}/{query}  (API docs at /docs; Ctrl-C to stop)"
        )
        app = guard(create_app(run), bind_host=host, token=token or None, allow_hosts=tuple(allow_host or ()))
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        run.close()


def _list_episodes(run_dir: Path, *, failed: bool, task: str | None, step: int | None, tag: str | None, limit: int) -> None:
    """One line per episode, newest first, narrow enough for 80 columns with the full id (so it
    can be pasted into ``--episode``)."""
    from turngym.store import EpisodeStore

    filters: dict[str, object] = {"task_id": task, "step": step}
    if failed:
        filters["won"] = False
    if tag is not None:
        filters.update({"tagged": False} if tag == "none" else {"tag": tag})
    try:
        store = EpisodeStore(run_dir, readonly=True)
    except (FileNotFoundError, ValueError) as exc:
        typer.echo(f"cannot open {run_dir}: {exc}", err=True)
        raise typer.Exit(1) from None
    with store:
        total = store.count(**filters)
        rows = store.summaries(order_by="created_at", descending=True, limit=limit, **filters)
    tagged = tag is None and any(r.tag for r in rows)  # the tag column only when it tells something
    # end: won, lost, trunc(ated) or error; 80 columns hold the full id and a 24-character task id
    typer.echo(f"{'episode id':<32} {'end':<5} {'step':>4} {'turns':>5} {'rew.':>5} " + ("tag    " if tagged else "") + "task")
    for r in rows:
        outcome = "won" if r.won else "error" if r.error else "trunc" if r.truncated else "lost"
        step_text = "-" if r.step is None else str(r.step)
        tag_text = f"{r.tag or '-':<6} " if tagged else ""
        typer.echo(f"{r.episode_id:<32} {outcome:<5} {step_text:>4} {r.num_turns:>5} {r.outcome_reward:>5.2f} {tag_text}{r.task_id or '-'}")
    shown = f"{len(rows)} of {total}" if total > len(rows) else str(total)
    typer.echo(f"{shown} episode(s); open one with: turngym replay {run_dir} --text --episode ID")


def attach(app: typer.Typer) -> None:
    app.command(name="replay")(replay)
