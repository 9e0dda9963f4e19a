"""``turngym model``: build tiny local policies (offline, seconds) and inspect model directories."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(help="Tiny local models: build a Qwen2 policy with random weights and a corpus tokenizer.", no_args_is_help=True)
console = Console()


@app.command("init")
def init(
    out: Annotated[Path, typer.Option(help="Directory to write the model to (created if missing).")],
    size: Annotated[str, typer.Option(help="tiny (~0.3M params) or small (~26M params).")] = "tiny",
    seed: Annotated[int, typer.Option(help="Seed of the random weights.")] = 0,
    dtype: Annotated[str, typer.Option(help="Stored weight dtype: float32 or bfloat16.")] = "float32",
) -> None:
    """Write a Qwen2 causal LM with random weights and a ChatML BPE tokenizer to OUT."""
    from turngym.models.tiny import SIZES, build_model_dir

    if size not in SIZES:
        console.print(f"[bold red]error:[/] unknown size {size!r}; choose one of {', '.join(SIZES)}")
        raise typer.Exit(code=2)
    if dtype not in ("float32", "bfloat16"):
        console.print(f"[bold red]error:[/] dtype must be float32 or bfloat16, got {dtype!r}")
        raise typer.Exit(code=2)
    if out.exists() and not out.is_dir():
        console.print(f"[bold red]error:[/] --out {out} is a file; give a directory (created if missing)", markup=True, highlight=False)
        raise typer.Exit(code=2)
    t0 = time.monotonic()
    try:
        path = build_model_dir(out, size, seed=seed, dtype=dtype)
    except OSError as exc:
        console.print(f"[bold red]error:[/] --out {out}: cannot write the model there ({exc.strerror or exc})", highlight=False)
        raise typer.Exit(code=2) from None
    import json

    info = json.loads((path / "turngym_model.json").read_text())
    console.print(
        f"wrote {size} model ({info['parameters']:,} parameters, vocab {info['vocab_size']}) "
        f"to [bold]{path}[/] in {time.monotonic() - t0:.1f}s"
    )
