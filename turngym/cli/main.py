"""The ``turngym`` command. Each area adds its sub-commands from its own module in this package.

Sub-command modules (``turngym/cli/<name>.py`` exposing ``app: typer.Typer``) are attached when
they exist; they must keep module-level imports light (import torch & co. inside the commands) so
that ``turngym --help`` stays fast.
"""

from __future__ import annotations

import importlib
import importlib.util

import typer

from turngym.cli import envs as envs_cli

app = typer.Typer(
    name="turngym",
    help="Multi-turn RL for LLM agents: envs, rollouts, turn-level credit assignment, replay.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
envs_cli.attach(app)

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
    app()


if __name__ == "__main__":
    main()
