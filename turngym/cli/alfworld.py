"""``turngym alfworld``: generate pinned ALFWorld games and print counts / expert sweeps.

Module-level imports stay light: the alfworld extra is imported inside the commands.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import typer

from turngym.cli.common import fail

app = typer.Typer(help="ALFWorld on the real TextWorld engine: generate games, counts, expert sweeps.", no_args_is_help=True)


def _require() -> None:
    from turngym.envs.alfworld.engine import require_alfworld

    try:
        require_alfworld()
    except ImportError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc


def _task_set(split: str, seed: int, cache_dir: Path | None) -> Any:
    """The generated task set of ``split``, or a one-line error naming ``--split``."""
    from turngym.envs.alfworld.tasks import TaskSet

    try:
        return TaskSet(split, seed=seed, cache_dir=cache_dir)
    except ValueError as exc:
        fail(f"--split {split}: {exc}")


@app.command()
def generate(
    split: str = typer.Option("train", help="train | eval_seen | eval_unseen"),
    n: int = typer.Option(10, "--n", min=1, help="number of games (task indices start..start+n-1)"),
    out: Path = typer.Option(..., help="output folder, written in ALFWorld's json_2.1.1 layout"),
    seed: int = typer.Option(0, help="task-set seed (with the generator version, pins the games)"),
    start: int = typer.Option(0, min=0, help="first task index"),
    cache_dir: Path | None = typer.Option(None, help="game cache (default ~/.cache/turngym/alfworld/<version>)"),
) -> None:
    """Generate N expert-certified games; the folder is loadable with ``games_dir=OUT``."""
    _require()
    from turngym.envs.alfworld.generator import TaskSpec

    ts = _task_set(split, seed, cache_dir)
    if start + n > len(ts):
        typer.echo(f"split {ts.split} has {len(ts)} tasks; --start {start} --n {n} goes past it", err=True)
        raise typer.Exit(2)
    t0 = time.perf_counter()
    for index in range(start, start + n):
        record = ts[index]
        spec = TaskSpec(**record.traj["generator"]["spec"])
        folder = out / ts.split / spec.name() / f"trial_{record.task_id}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "game.tw-pddl").write_text(json.dumps(record.game), encoding="utf-8")
        (folder / "traj_data.json").write_text(json.dumps(record.traj, indent=1), encoding="utf-8")
        typer.echo(f"{record.task_id}  {record.task_type:32s} {record.room:10s} -> {folder}")
    typer.echo(f"{n} games in {time.perf_counter() - t0:.1f}s")


@app.command()
def stats(
    split: str = typer.Option("train", help="generated split to describe (ignored with --games-dir)"),
    n: int = typer.Option(300, "--n", min=1, help="number of generated tasks to count/evaluate"),
    seed: int = typer.Option(0, help="task-set seed"),
    games_dir: Path | None = typer.Option(None, help="a real ALFWorld json_2.1.1-style folder instead"),
    expert_eval: bool = typer.Option(False, "--expert-eval", help="play every game with the handcoded expert"),
    raw: bool = typer.Option(False, "--raw", help="evaluate the generator's first attempt, before the expert certification"),
    expert_seed: int = typer.Option(1, help="expert tie-break seed for --expert-eval (games are certified with seed 0)"),
    max_steps: int = typer.Option(200, help="expert turn budget (ALFWorld's expert uses 200)"),
    budget: int = typer.Option(50, help="also report wins within this many turns"),
    cache_dir: Path | None = typer.Option(None, help="game cache for generated splits"),
) -> None:
    """Counts per task type and room type; with --expert-eval, the expert's win table per type."""
    _require()
    from turngym.envs.alfworld.evaluate import counts, expert_sweep, expert_table
    from turngym.envs.alfworld.tasks import load_games_dir, task_spec

    if games_dir is not None:
        try:
            records = load_games_dir(games_dir)
        except (FileNotFoundError, ValueError) as exc:
            fail(f"--games-dir {games_dir}: {exc}")
        label = str(games_dir)
        by_type, by_room, _ = counts(records)
    else:
        ts = _task_set(split, seed, cache_dir)
        n = min(n, len(ts))
        label = f"{ts.split} (seed {seed}, first {n} of {len(ts)})"
        specs = [task_spec(ts.split, i, seed=seed) for i in range(n)]
        from collections import Counter

        by_type = Counter(s.task_type for s in specs)
        by_room = Counter(s.room for s in specs)
        records = None
    typer.echo(f"ALFWorld games: {label}")
    typer.echo("  per task type: " + ", ".join(f"{k}={v}" for k, v in sorted(by_type.items())))
    typer.echo("  per room type: " + ", ".join(f"{k}={v}" for k, v in sorted(by_room.items())))
    if not expert_eval:
        return

    if records is None:
        records = (ts.uncertified(i) if raw else ts[i] for i in range(n))
    t0 = time.perf_counter()
    done = [0]

    def progress(result: object) -> None:
        done[0] += 1
        if done[0] % 25 == 0:
            typer.echo(f"  ... {done[0]} games, {time.perf_counter() - t0:.0f}s", err=True)

    results = expert_sweep(records, max_steps=max_steps, seed=expert_seed, progress=progress)
    rows = expert_table(results, budget=budget)
    kind = "uncertified first attempts" if raw and games_dir is None else "games"
    typer.echo(f"\nHandcoded expert (seed {expert_seed}) on {len(results)} {kind}, <= {max_steps} turns ({time.perf_counter() - t0:.0f}s):")
    header = f"  {'task type':32s} {'games':>5s} {'won':>5s} {'win%':>7s} {'won<=' + str(budget):>8s} {'%<=' + str(budget):>7s} {'med.steps':>9s}"
    typer.echo(header)
    for row in rows:
        typer.echo(
            f"  {row['task_type']:32s} {row['games']:5d} {row['won']:5d} {100 * row['win_rate']:6.1f}% "
            f"{row[f'won_le_{budget}']:8d} {100 * row[f'rate_le_{budget}']:6.1f}% {row['median_steps']:9d}"
        )
    lost = [r for r in results if not r.won]
    if lost:
        typer.echo("  lost: " + ", ".join(r.task_id for r in lost[:20]) + (" ..." if len(lost) > 20 else ""))
