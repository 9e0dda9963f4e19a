"""The ``turngym`` command. Each area adds its sub-commands from its own module in this package.

Sub-command modules (``turngym/cli/<name>.py`` exposing ``app: typer.Typer``) are attached when
they exist; they must keep module-level imports light (import torch & co. inside the commands) so
that ``turngym --help`` stays fast.
"""

from __future__ import annotations

import importlib
import importlib.util
import os

import typer

# Library progress bars (HF "Loading weights", "Writing model shards") would interleave with our
# own progress display; turngym reports loading and saving itself.
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

from turngym.cli import envs as envs_cli

app = typer.Typer(
    name="turngym",
    help="Multi-turn RL for LLM agents: envs, rollouts, turn-level credit assignment, replay.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
envs_cli.attach(app)


def _version(value: bool) -> None:
    if value:
        from turngym import __version__

        typer.echo(f"turngym {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the turngym version and exit."),
) -> None:
    """Multi-turn RL for LLM agents: envs, rollouts, turn-level credit assignment, replay."""

#: name -> module holding ``app`` (a typer sub-app) or ``attach(app)`` (top-level commands).
_SUBCOMMANDS = {
    "sandbox": "turngym.cli.sandbox",
    "alfworld": "turngym.cli.alfworld",
    "webshop": "turngym.cli.webshop",
    "model": "turngym.cli.model",
    "train": "turngym.cli.train",
    "replay": "turngym.cli.replay",
    "search": "turngym.cli.search",
    "hint-rft": "turngym.cli.hint_rft",
}

for _name, _module in _SUBCOMMANDS.items():
    if importlib.util.find_spec(_module) is None:
        continue
    _mod = importlib.import_module(_module)
    if hasattr(_mod, "attach"):
        _mod.attach(app)
    else:
        app.add_typer(_mod.app, name=_name)


def main() -> None:
    """The console script. Every expected bad input exits with its own message; anything that
    still escapes a command is a turngym bug, reported in one paragraph (the traceback only with
    ``TURNGYM_TRACEBACK=1``) rather than as a wall of frames."""
    import os
    import sys

    try:
        app()
    except Exception as exc:
        if os.environ.get("TURNGYM_TRACEBACK"):
            raise
        command = " ".join(sys.argv[1:3])
        print(
            f"error: turngym {command} failed with {type(exc).__name__}: {exc}. This is not a message turngym meant to give: "
            "please report it (rerun with TURNGYM_TRACEBACK=1 for the traceback).",
            file=sys.stderr,
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
