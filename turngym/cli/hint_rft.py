"""``turngym hint-rft``: build a START Hint-RFT SFT dataset with a local policy (CPU or GPU)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

console = Console()


def hint_rft_command(
    out: Annotated[Path, typer.Option(help="JSONL file to write the kept traces to (a .summary.json goes beside it).")],
    model: Annotated[Path | None, typer.Option(help="HF model directory (omit with --tiny).")] = None,
    tiny: Annotated[bool, typer.Option(help="Build (or reuse) a tiny random-weight model next to OUT and use it.")] = False,
    env: Annotated[str, typer.Option(help="Env id.")] = "MathTool-v0",
    split: Annotated[str, typer.Option(help="Task split to sample from.")] = "train",
    tasks: Annotated[int, typer.Option(help="Number of tasks (seeds seed..seed+tasks-1).")] = 8,
    task_id: Annotated[list[str] | None, typer.Option("--task-id", help="Explicit task ids instead of seeded tasks (repeatable).")] = None,
    samples: Annotated[int, typer.Option(help="Episodes per task, plain and hinted each.")] = 2,
    seed: Annotated[int, typer.Option(help="First task seed and the sampling seed.")] = 0,
    hint: Annotated[list[str] | None, typer.Option("--hint", help="Hint text (repeatable; START's Python hint by default).")] = None,
    trigger: Annotated[list[str] | None, typer.Option("--trigger", help="Words a hint replaces (repeatable; Wait, Alternatively).")] = None,
    at_length: Annotated[bool, typer.Option(help="Also hint responses cut by the token limit.")] = False,
    max_hints: Annotated[int, typer.Option(help="Hints per response at most.")] = 1,
    max_new_tokens: Annotated[int, typer.Option(help="Tokens per response.")] = 256,
    temperature: Annotated[float, typer.Option(help="Sampling temperature.")] = 1.0,
    env_kwarg: Annotated[list[str] | None, typer.Option("--env-kwarg", help="KEY=VALUE env option, VALUE as YAML (repeatable).")] = None,
    device: Annotated[str, typer.Option(help="torch device.")] = "cpu",
) -> None:
    """Sample each task plainly and with START's hints; keep traces only the hinted run solved (SFT JSONL)."""
    import yaml

    from turngym.agents.backends.base import SamplingParams
    from turngym.agents.backends.hf import HFBackend
    from turngym.agents.hint import DEFAULT_HINTS, DEFAULT_TRIGGERS
    from turngym.agents.hint_rft import hint_rft
    from turngym.agents.rollout import TaskSpec, make_tasks

    if (model is None) == (not tiny):
        console.print("[bold red]error:[/] pass exactly one of --model DIR or --tiny")
        raise typer.Exit(code=2)
    kwargs = {}
    for item in env_kwarg or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            console.print(f"[bold red]error:[/] --env-kwarg takes KEY=VALUE, got {item!r}")
            raise typer.Exit(code=2)
        kwargs[key] = yaml.safe_load(value)
    if tiny:
        from turngym.models.tiny import ensure_model_dir

        model = ensure_model_dir(out.parent / "tiny-model")
    specs = [TaskSpec(seed=seed + i, options={"task_id": t}) for i, t in enumerate(task_id)] if task_id else make_tasks(tasks, seed=seed, split=split)
    try:
        backend = HFBackend.from_pretrained(model, device=device)
        summary = hint_rft(
            env, backend, specs, out, env_kwargs=kwargs, samples=samples, hints=hint or DEFAULT_HINTS, triggers=trigger or DEFAULT_TRIGGERS,
            at_length=at_length, max_hints=max_hints, sampling=SamplingParams(max_new_tokens=max_new_tokens, temperature=temperature, seed=seed),
        )
    except (ValueError, ImportError, OSError) as exc:
        console.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(code=1) from exc
    summary_path = out.with_suffix(".summary.json")
    summary_path.write_text(json.dumps(summary.to_dict(), indent=2) + "\n")
    console.print(
        f"{summary.tasks} tasks x {summary.samples}: plain solved {summary.plain_solved}, hinted solved {summary.hinted_solved} "
        f"({summary.hinted_episodes} hinted episodes); kept {summary.kept} -> [bold]{out}[/] (summary {summary_path})"
    )


def attach(app: typer.Typer) -> None:
    app.command("hint-rft")(hint_rft_command)
