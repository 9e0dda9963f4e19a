"""``turngym train CONFIG [overrides...]``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from turngym.cli.common import EnvOpt, ImportOpt, console, fail, import_modules


def train(
    config: Annotated[Path | None, typer.Argument(help="YAML config, e.g. configs/keydoor_gigpo.yaml (omit with --resume).")] = None,
    overrides: Annotated[list[str] | None, typer.Argument(help="Dotted overrides, e.g. algo.params.gamma=0.9 run.steps=20")] = None,
    resume: Annotated[Path | None, typer.Option("--resume", help="Continue the run in RUN_DIR from its last checkpoint.")] = None,
    profile: Annotated[str, typer.Option(help="Config profile: a name under the config's profiles (cpu, gpu, ...), none (the top-level GPU recipe), or auto (cpu without CUDA).")] = "auto",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Validate, build everything but the weights, print the plan.")] = False,
    env: EnvOpt = None,
    imports: ImportOpt = None,
) -> None:
    """Train a policy: rollouts, turn-level advantages, policy updates, checkpoints, metrics."""
    from turngym.train.config import ConfigError, load_config

    import_modules(imports)
    if config is None and resume is None:
        fail("give a CONFIG file, or --resume RUN_DIR")
    overrides = list(overrides or [])
    if config is not None and resume is not None and "=" in str(config) and not Path(config).exists():
        overrides.insert(0, str(config))  # `--resume RUN_DIR key=value`: the first override landed in CONFIG
        config = None
    if resume is not None and config is None:
        config = resume / "config.yaml"
        if not config.is_file():
            fail(f"--resume {resume}: no config.yaml there (is it a run directory?)")
        profile = "none"
    if env is not None:
        overrides.append(f"env.id={env}")
    notes: list[str] = []
    try:
        cfg = load_config(config, overrides, profile=profile, notes=notes)
        for note in notes:
            console.print(note, highlight=False)
        if dry_run:
            from turngym.train.plan import print_plan

            print_plan(cfg, console)
            return
        from turngym.train.run import train as run_train

        run_train(cfg, resume=resume is not None, run_dir=resume, console=console, overrides=overrides)
    except (ConfigError, FileExistsError, FileNotFoundError) as exc:
        fail(str(exc))


def attach(app: typer.Typer) -> None:
    app.command("train")(train)
