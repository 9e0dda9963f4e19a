"""Top-level env commands: ``envs``, ``check``, ``play`` (and ``rollout`` from ``turngym.cli.rollout``).

Every env argument takes a registered id or a local env (``path/to/file.py:Class``,
``module:Class``; ``--import MODULE`` first imports a module that registers envs)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from turngym.cli import common
from turngym.cli.common import EnvArgs, EnvOpt, ImportOpt, console, err_console, fail, resolve_env_arg, store_error


def envs() -> None:
    """List registered envs (built-in and from installed plugins)."""
    from turngym.envs.registration import list_envs

    table = Table(title="turngym envs")
    table.add_column("id", style="bold cyan")
    table.add_column("source")
    table.add_column("description")
    for spec in list_envs():
        try:
            summary = spec.summary()
        except Exception as exc:  # an env whose optional dependency is missing still lists
            summary = f"[yellow](cannot import: {exc})[/]"
        table.add_row(spec.id, spec.source, summary)
    console.print(table)


def check(
    env_id: Annotated[str | None, typer.Argument(help="Env id (KeyDoor-v0), or path/to/file.py:Class or module:Class.")] = None,
    env_opt: EnvOpt = None,
    imports: ImportOpt = None,
    seed: Annotated[int, typer.Option(min=0, help="Seed for resets and the action sequence.")] = 0,
    fuzz: Annotated[int, typer.Option(min=0, help="Number of garbage actions to fuzz with.")] = 300,
    env_arg: EnvArgs = None,
) -> None:
    """Check that an env honours the turngym env contract (API, info keys, determinism, fuzzing)."""
    from turngym.envs.checker import check_env_id
    from turngym.envs.registration import UnknownEnvError

    env_id = resolve_env_arg(env_id, env_opt, imports)
    kwargs = common.parse_kv(env_arg, flag="-e/--env-arg")
    try:
        report = check_env_id(env_id, seed=seed, n_fuzz=fuzz, raise_on_error=False, **kwargs)
    except (UnknownEnvError, TypeError, ValueError, ImportError) as exc:
        fail(str(exc))
    table = Table(title=f"turngym check {env_id}")
    table.add_column("check")
    table.add_column("result")
    table.add_column("details", overflow="fold")
    table.add_column("s", justify="right")
    for r in report.results:
        verdict = "[yellow]skip[/]" if getattr(r, "skipped", False) else "[green]pass[/]" if r.passed else "[bold red]FAIL[/]"
        table.add_row(r.name, verdict, r.message, f"{r.seconds:.2f}")
    console.print(table)
    if not report.ok:
        err_console.print(f"[bold red]{env_id} fails {len(report.failures())} check(s)[/]")
        raise typer.Exit(code=1)
    console.print(f"[bold green]{env_id} passes all checks[/]")


def play(
    env_id: Annotated[str | None, typer.Argument(help="Env id (KeyDoor-v0), or path/to/file.py:Class or module:Class.")] = None,
    env_opt: EnvOpt = None,
    imports: ImportOpt = None,
    seed: Annotated[int | None, typer.Option(min=0, help="Seed that fixes the task.")] = None,
    out: Annotated[Path, typer.Option(help="Run directory whose store receives the episode.")] = Path("runs/play"),
    env_arg: EnvArgs = None,
) -> None:
    """Play an env yourself in the terminal; type an action or the number of an admissible one.

    Piped input works too (``printf 'go north\\n' | turngym play KeyDoor-v0``): each action read is
    echoed, and a menu number out of range is refused without spending a turn."""
    import turngym
    from turngym.agents.base import AgentAction
    from turngym.agents.rollout import apply_step, turn_from_action
    from turngym.core.episode import Episode
    from turngym.store import EpisodeStore

    env_id = resolve_env_arg(env_id, env_opt, imports)
    kwargs = common.parse_kv(env_arg, flag="-e/--env-arg")
    try:
        env = turngym.make(env_id, **kwargs)
    except Exception as exc:
        fail(f"-e/--env-arg: {env_id} cannot be made with {kwargs}: {exc}" if kwargs else str(exc))
    try:  # the store opens before the first turn: a bad --out loses no play
        EpisodeStore(out).close()
    except Exception as exc:
        fail(f"--out {out}: {store_error(exc)}")
    obs, info = env.reset(seed=seed)
    piped = not sys.stdin.isatty()
    episode = Episode(env_id=env.spec_id, task_id=info.get("task_id"), seed=seed, env_kwargs=kwargs, run_id="play")
    done = False
    while not done:
        console.rule(f"turn {len(episode.turns)}")
        console.print(obs, markup=False, highlight=False)
        admissible = info.get("admissible_actions") or []
        for i, a in enumerate(admissible, 1):
            console.print(f"  [cyan]{i:>2}[/] {escape(a)}", highlight=False)  # actions like click[b07x] are not markup
        try:
            typed = console.input("[bold]> [/]")
        except (EOFError, KeyboardInterrupt):
            episode.truncated, episode.error = True, "aborted by the player"
            break
        if piped:  # a piped action is not shown by the terminal: echo it so the transcript reads
            console.print(typed, markup=False, highlight=False)
        if typed.strip().isdigit() and admissible:
            number = int(typed)
            if not 0 < number <= len(admissible):
                console.print(f"[yellow]no action number {number}: choose 1-{len(admissible)} or type an action[/]")
                continue
            action = admissible[number - 1]
        else:
            action = typed
        turn = turn_from_action(len(episode.turns), obs, info, AgentAction(action=action, response_text=typed))
        obs, reward, terminated, truncated, info = env.step(action)
        apply_step(turn, reward, terminated, truncated, info)
        episode.turns.append(turn)
        console.print(f"reward {reward:+.3f}" + ("" if turn.action_valid else "  [red](invalid action)[/]"))
        done = terminated or truncated
        if done:
            console.print(obs, markup=False, highlight=False)
            episode.final_observation = obs
            episode.terminated, episode.truncated = terminated, truncated
            episode.won = bool(info.get("won"))
    episode.outcome_reward = episode.total_reward
    with EpisodeStore(out) as store:
        store.write([episode])
    console.print(f"[bold]{'won' if episode.won else 'not won'}[/], reward {episode.outcome_reward:+.3f}; saved episode {episode.episode_id} to {out}")


def attach(app: typer.Typer) -> None:
    app.command("envs")(envs)
    app.command("check")(check)
    app.command("play")(play)
    from turngym.cli.rollout import rollout

    app.command("rollout")(rollout)
