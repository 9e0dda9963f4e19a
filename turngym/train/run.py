"""``turngym train``: the whole run with progress bars, evaluation tables and checkpoints."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from turngym.train.config import TrainConfig
from turngym.train.memory import keep_freed_memory
from turngym.train.parallel import SINGLE, DistContext
from turngym.train.trainer import Trainer


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    )


def run_behaviour_cloning(trainer: Trainer, console: Console) -> dict[str, float]:
    from turngym.agents.rollout import RolloutEngine, TaskSpec
    from turngym.train.bc import NoisyDemonstrator, behaviour_clone

    cfg = trainer.cfg
    demo = NoisyDemonstrator(trainer.agent, noise=cfg.bc.noise, seed=cfg.run.seed)
    options = {"split": cfg.env.train_split} if cfg.env.train_split else {}
    seeds = trainer.task_rng.integers(0, 2**31 - 1, size=cfg.bc.episodes)
    tasks = [TaskSpec(seed=int(s), options=dict(options)) for s in seeds]
    with _progress(console) as progress:
        demos = progress.add_task("demonstrations", total=len(tasks), status="noisy oracle")
        with RolloutEngine(cfg.env.id, demo, env_kwargs=cfg.env.kwargs, num_envs=cfg.rollout.num_envs, num_workers=cfg.rollout.num_workers) as engine:
            episodes = engine.run(tasks, run_id=trainer.run_id, step=0, on_episode=lambda _: progress.advance(demos))
        demo_success = sum(e.won for e in episodes) / len(episodes)
        bar = progress.add_task("behaviour cloning", total=None, status=f"demo success {demo_success:.2f}")

        def on_batch(loss: float, total: int) -> None:
            progress.update(bar, advance=1, total=total, status=f"loss {loss:.3f}")

        metrics = behaviour_clone(
            trainer.model,
            episodes,
            pad_id=trainer.pad_id,
            layout=cfg.policy.layout,
            epochs=cfg.bc.epochs,
            lr=cfg.bc.lr,
            batch_tokens=cfg.bc.batch_tokens,
            seed=cfg.run.seed,
            on_batch=on_batch,
            ctx=trainer.ctx,
        )
    metrics["bc/demo_success"] = demo_success
    return metrics


def train(cfg: TrainConfig, *, resume: bool = False, run_dir: Any = None, console: Console | None = None,
          overrides: list[str] | None = None, ctx: DistContext = SINGLE) -> dict[str, Any]:
    """Run (or resume) a training run; returns the evaluation results by stage.

    Under several learner ranks every rank calls this; rank 0 prints to ``console``, the others to
    ``RUN_DIR/logs/rank{r}.log``. The process keeps the memory it frees for the next step
    (``turngym.train.memory``; ``TURNGYM_KEEP_FREED_MEMORY=0`` turns that off).
    """
    keep_freed_memory()
    console = console or Console()
    if not ctx.is_main:
        console = _rank_console(Path(run_dir or cfg.run.out), ctx.rank)
    from turngym.train.multipolicy import make_trainer

    trainer = make_trainer(cfg, run_dir=run_dir, resume=resume, ctx=ctx)
    t_start = time.monotonic()
    results: dict[str, Any] = {}
    trainer.setup()
    try:
        if trainer.ctx.is_main:
            record_segment(trainer.run_dir, cfg, overrides or [], resumed_at=trainer.step if resume else None)
        if resume and trainer.metrics is not None:  # the stages before the checkpoint were evaluated by the first segment
            results.update(_stage_results(trainer.metrics.read(), bc=cfg.bc.enabled))
        if trainer.cleared_failed_start:
            console.print(f"[yellow]{trainer.run_dir} held a start that failed before its first checkpoint; starting afresh there[/]")
        console.print(f"run [bold]{trainer.run_id}[/] in [bold]{trainer.run_dir}[/] · env {cfg.env.id} · algo {cfg.algo.name} ({cfg.algo.preset})")
        if not trainer.bc_done:
            record: dict[str, Any] = {"step": 0}
            if cfg.eval.before:
                with console.status("evaluating the initial policy"):
                    results["initial"] = trainer.evaluate()
                record.update({f"init_{k}": v for k, v in results["initial"].items()})
            if cfg.bc.enabled:
                record.update(run_behaviour_cloning(trainer, console))
                with console.status("evaluating the behaviour-cloned policy"):
                    results["bc"] = trainer.evaluate()
                record.update(results["bc"])
            trainer.bc_done = True
            trainer.log_metrics(record)
            trainer.save()
        elif cfg.eval.before and trainer.step == 0 and not resume:  # (a resumed run logged its step 0 already)
            results["initial"] = trainer.evaluate()
            trainer.log_metrics({"step": 0, **results["initial"]})
        steps = cfg.run.steps
        metrics: dict[str, Any] = {}
        with _progress(console) as progress:
            bar = progress.add_task(f"RL ({cfg.algo.name})", total=steps, completed=trainer.step, status="")
            while trainer.step < steps:
                metrics = trainer.train_step()
                last = trainer.step == steps
                if trainer.step % cfg.eval.every == 0 or last:
                    metrics.update(trainer.evaluate())
                trainer.log_metrics(metrics)
                if trainer.step % cfg.run.checkpoint_every == 0 or last:
                    trainer.save()
                progress.update(
                    bar,
                    advance=1,
                    status=f"success {metrics['train/success']:.2f} · reward {metrics['train/reward_mean']:.2f}"
                    + (f" · eval {metrics['eval/success']:.2f}" if "eval/success" in metrics else ""),
                )
        final = {k: v for k, v in metrics.items() if k.startswith("eval/")}
        results["final"] = final or trainer.evaluate()
        results["seconds"] = time.monotonic() - t_start
        results["run_dir"] = str(trainer.run_dir)
        results["run_id"] = trainer.run_id
        _print_table(console, cfg, results)
    finally:
        trainer.close()
    return results


def _rank_console(run_dir: Path, rank: int) -> Console:
    logs = run_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    stream = open(logs / f"rank{rank}.log", "a", buffering=1)  # noqa: SIM115 - lives as long as the process
    stream.write(f"--- rank {rank} pid {os.getpid()}\n")
    return Console(file=stream, force_terminal=False, width=120)


def record_segment(run_dir: Any, cfg: TrainConfig, overrides: list[str], *, resumed_at: int | None) -> None:
    """Every segment of a run (the start and each ``--resume``) with its overrides goes into
    ``run.json``; ``config.yaml`` is rewritten with the config now in force, headed by a comment
    that lists the segments, so the file says what the resumed part really ran with."""
    import json
    from pathlib import Path

    import yaml

    run_dir = Path(run_dir)
    info_path = run_dir / "run.json"
    info = json.loads(info_path.read_text()) if info_path.exists() else {}
    segments = info.setdefault("segments", [])
    segments.append({"started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "resumed_at_step": resumed_at, "overrides": list(overrides)})
    info_path.write_text(json.dumps(info, indent=2))
    lines = ["# turngym run config: the settings now in force. Segments of this run:"]
    for i, seg in enumerate(segments):
        start = "start" if seg["resumed_at_step"] is None else f"--resume at step {seg['resumed_at_step']}"
        lines.append(f"#   {i + 1}. {start} ({seg['started_at']}): overrides {' '.join(seg['overrides']) or '(none)'}")
    (run_dir / "config.yaml").write_text("\n".join(lines) + "\n" + yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False))


def _stage_results(rows: list[dict[str, Any]], *, bc: bool) -> dict[str, Any]:
    """The initial and behaviour-cloned evaluations as the first segment logged them at step 0."""
    first = next((r for r in rows if r.get("step") == 0), None)
    if first is None:
        return {}
    out: dict[str, Any] = {}
    initial = {k.removeprefix("init_"): v for k, v in first.items() if k.startswith("init_eval/")}
    current = {k: v for k, v in first.items() if k.startswith("eval/")}
    if bc:
        out.update({"initial": initial} if initial else {})
        out.update({"bc": current} if current else {})
    elif current or initial:
        out["initial"] = current or initial
    return out


def _print_table(console: Console, cfg: TrainConfig, results: dict[str, Any]) -> None:
    table = Table(title=f"held-out success on {cfg.env.id} ({cfg.eval.tasks} {cfg.env.eval_split or ''} tasks)")
    for col in ("policy", "success", "mean reward", "mean turns", "invalid rate"):
        table.add_column(col, justify="right" if col != "policy" else "left")
    names = {"initial": "initial (random init)", "bc": "after behaviour cloning", "final": f"after RL ({cfg.algo.name}, {cfg.run.steps} steps)"}
    for key, label in names.items():
        r = results.get(key)
        if not r:
            continue
        table.add_row(label, f"{r['eval/success']:.3f}", f"{r['eval/reward_mean']:.3f}", f"{r['eval/turns_mean']:.2f}", f"{r['eval/invalid_rate']:.3f}")
    console.print(table)
    console.print(f"finished in {results['seconds']:.0f} s. Open the replay of this run with:")
    # its own line, never wrapped, so it can be copied whole
    console.print(f"turngym replay {results['run_dir']}", soft_wrap=True, highlight=False, markup=False)
