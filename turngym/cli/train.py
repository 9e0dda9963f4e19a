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
    nproc: Annotated[int, typer.Option("--nproc", min=1, help="Learner ranks on this machine (FSDP2; launches torch's elastic launcher). "
                                       "For several nodes run `torchrun --nnodes M --nproc-per-node N -m turngym train ...`.")] = 1,
    env: EnvOpt = None,
    imports: ImportOpt = None,
) -> None:
    """Train a policy: rollouts, turn-level advantages, policy updates, checkpoints, metrics."""
    from turngym.train.config import ConfigError, load_config
    from turngym.train.parallel import launched_by_torchrun

    import_modules(imports)
    if config is None and resume is None:
        fail("give a CONFIG file, or --resume RUN_DIR")
    overrides = list(overrides or [])
    if config is not None and resume is not None and "=" in str(config) and not Path(config).exists():
        overrides.insert(0, str(config))  # `--resume RUN_DIR key=value`: the first override landed in CONFIG
        config = None
    if nproc > 1 and not launched_by_torchrun() and not dry_run:
        try:  # settings N ranks cannot run fail here, before any process starts
            from turngym.train.trainer import validate_world

            validate_world(load_config(config if config is not None else resume / "config.yaml",
                                       overrides + ([f"env.id={env}"] if env is not None else []),
                                       profile=profile if config is not None else "none"), nproc)
        except ConfigError as exc:
            fail(str(exc))
        _launch(nproc, config, overrides, resume, profile, env=env, imports=imports)
        return
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
        from turngym.train.parallel import init_distributed, shutdown
        from turngym.train.run import train as run_train

        ctx = init_distributed(cfg.distributed.timeout_s)
        try:
            run_train(cfg, resume=resume is not None, run_dir=resume, console=console, overrides=overrides, ctx=ctx)
        finally:
            shutdown(ctx)
    except (ConfigError, FileExistsError, FileNotFoundError) as exc:
        fail(str(exc))


def _launch(nproc: int, config: Path | None, overrides: list[str], resume: Path | None, profile: str, *,
            env: str | None = None, imports: list[str] | None = None) -> None:
    """Re-run this command as ``nproc`` ranks under torch's elastic launcher (what torchrun runs).

    ``--max-restarts 0``: a rank that dies ends the job (every rank exits, the launcher names the
    failed rank); continue with ``--resume RUN_DIR`` at any world size.
    """
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import get_args_parser, run

    args = [str(config)] if config is not None else []
    args += list(overrides) + ["--profile", profile]
    if resume is not None:
        args += ["--resume", str(resume)]
    if env is not None:
        args += ["--env", env]
    for module in imports or []:
        args += ["--import", module]
    launch = get_args_parser().parse_args(
        ["--standalone", "--nproc-per-node", str(nproc), "--max-restarts", "0", "-m", "turngym", "train", *args]
    )
    try:
        run(launch)
    except ChildFailedError as exc:
        ranks = ", ".join(f"rank {r} (exit {f.exitcode})" for r, f in sorted(exc.failures.items()))
        console.print(f"[bold red]error:[/] the training job failed: {ranks}. Logs: the run's logs/ directory; "
                      "continue from the last checkpoint with --resume RUN_DIR (any --nproc).")
        raise typer.Exit(code=1) from None


def attach(app: typer.Typer) -> None:
    app.command("train")(train)
