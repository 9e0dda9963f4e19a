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
    nproc: Annotated[int, typer.Option("--nproc", min=1, help="Learner ranks on this machine (FSDP2; launches torch's elastic launcher). "
                                       "For several nodes run `torchrun --nnodes M --nproc-per-node N -m turngym train ...`.")] = 1,
) -> None:
    """Train a policy: rollouts, turn-level advantages, policy updates, checkpoints, metrics."""
    from turngym.train.config import ConfigError, load_config
    from turngym.train.parallel import launched_by_torchrun

    if config is None and resume is None:
        raise typer.BadParameter("give a CONFIG file, or --resume RUN_DIR")
    if resume is not None and config is not None and "=" in config.name and not config.exists():
        overrides, config = [str(config), *(overrides or [])], None  # `--resume RUN key=value`: no config path
    if nproc > 1 and not launched_by_torchrun() and not dry_run:
        try:  # settings N ranks cannot run fail here, before any process starts
            from turngym.train.trainer import validate_world

            validate_world(load_config(config if config is not None else resume / "config.yaml", overrides,
                                       profile=profile if config is not None else "none"), nproc)
        except ConfigError as exc:
            console.print(f"[bold red]error:[/] {exc}")
            raise typer.Exit(code=2) from None
        _launch(nproc, config, overrides or [], resume, profile)
        return
    if resume is not None and config is None:
        config = resume / "config.yaml"
        profile = "none"
    try:
        cfg = load_config(config, overrides, profile=profile)
        if dry_run:
            from turngym.train.plan import print_plan

            print_plan(cfg, console)
            return
        from turngym.train.parallel import init_distributed, shutdown
        from turngym.train.run import train as run_train

        ctx = init_distributed(cfg.distributed.timeout_s)
        try:
            run_train(cfg, resume=resume is not None, run_dir=resume, console=console, ctx=ctx)
        finally:
            shutdown(ctx)
    except (ConfigError, FileExistsError, FileNotFoundError) as exc:
        console.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(code=2) from None


def _launch(nproc: int, config: Path | None, overrides: list[str], resume: Path | None, profile: str) -> None:
    """Re-run this command as ``nproc`` ranks under torch's elastic launcher (what torchrun runs).

    ``--max-restarts 0``: a rank that dies ends the job (every rank exits, the launcher names the
    failed rank); continue with ``--resume RUN_DIR`` at any world size.
    """
    import torch

    if torch.cuda.is_available() and nproc > torch.cuda.device_count():
        console.print(f"[bold red]error:[/] --nproc {nproc} but this machine has {torch.cuda.device_count()} CUDA devices")
        raise typer.Exit(code=2)
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import get_args_parser, run

    args = [str(config)] if config is not None else []
    args += list(overrides) + ["--profile", profile]
    if resume is not None:
        args += ["--resume", str(resume)]
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
