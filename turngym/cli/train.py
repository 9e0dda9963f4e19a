"""``turngym train CONFIG [overrides...]``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

console = Console()


def train(
    config: Annotated[Path | None, typer.Argument(help="YAML config, e.g. configs/keydoor_gigpo.yaml (omit with --resume).")] = None,
    overrides: Annotated[list[str] | None, typer.Argument(help="Dotted overrides, e.g. algo.params.gamma=0.9 run.steps=20")] = None,
    resume: Annotated[Path | None, typer.Option("--resume", help="Continue the run in RUN_DIR from its last checkpoint.")] = None,
    profile: Annotated[str, typer.Option(help="Config profile: cpu, gpu, none (the top-level GPU recipe), or auto (cpu without CUDA).")] = "auto",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Validate, build everything but the weights, print the plan.")] = False,
) -> None:
    """Train a policy: rollouts, turn-level advantages, policy updates, checkpoints, metrics."""
    from turngym.train.config import ConfigError, load_config

    if config is None and resume is None:
        raise typer.BadParameter("give a CONFIG file, or --resume RUN_DIR")
    if resume is not None and config is None:
        config = resume / "config.yaml"
        profile = "none"
    try:
        cfg = load_config(config, overrides, profile=profile)
        if dry_run:
            from turngym.train.plan import print_plan

            print_plan(cfg, console)
            return
        from turngym.train.run import train as run_train

        run_train(cfg, resume=resume is not None, run_dir=resume, console=console)
    except (ConfigError, FileExistsError, FileNotFoundError) as exc:
        console.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(code=2) from None


def attach(app: typer.Typer) -> None:
    app.command("train")(train)
