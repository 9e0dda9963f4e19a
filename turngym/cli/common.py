"""What the CLI commands share: the consoles, the one-paragraph error exit, ``-e KEY=VALUE`` and
``--env``/``--import`` parsing. Errors name the flag or file they are about and exit with code 2
before any work starts; nothing here imports more than typer, rich and yaml."""

from __future__ import annotations

import importlib
from typing import Annotated, Any, NoReturn

import typer
import yaml
from rich.console import Console

console = Console()
err_console = Console(stderr=True)

EnvArgs = Annotated[
    list[str] | None,
    typer.Option("--env-arg", "-e", help="Env constructor argument KEY=VALUE (YAML value), repeatable."),
]
EnvOpt = Annotated[str | None, typer.Option("--env", help="Env id, or a local env: path/to/file.py:ClassName or module:ClassName.")]
ImportOpt = Annotated[list[str] | None, typer.Option("--import", help="Import MODULE first (it may register envs), repeatable.")]


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``error: message`` (markup-free, so brackets in paths and values survive) and exit."""
    err_console.print("[bold red]error:[/] ", end="")
    err_console.print(message, markup=False, highlight=False, soft_wrap=True)  # no line breaks inside paths or values
    raise typer.Exit(code=code)


def parse_kv(pairs: list[str] | None, *, flag: str = "-e") -> dict[str, Any]:
    """``["a=1", "b=x"]`` -> ``{"a": 1, "b": "x"}``; values are parsed as YAML scalars."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            fail(f"{flag} {pair!r}: expected KEY=VALUE")
        try:
            out[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            fail(f"{flag} {pair!r}: the value is not valid YAML ({problem}); quote it to pass a string")
    return out


def import_modules(modules: list[str] | None) -> None:
    """``--import MODULE``: import each module (which registers its envs) or exit naming it."""
    for name in modules or []:
        try:
            importlib.import_module(name)
        except Exception as exc:  # any import-time failure of user code is a bad flag, not a crash
            fail(f"--import {name}: cannot import it ({type(exc).__name__}: {exc})")


def resolve_env_arg(positional: str | None, option: str | None, imports: list[str] | None, *, default: str | None = None) -> str:
    """The env named by ENV_ID or ``--env`` (after ``--import``), registered if it is a local
    ``file.py:Class`` / ``module:Class``; returns the id to pass on (the target string itself works
    with ``turngym.make`` in this process and in env workers)."""
    from turngym.envs.registration import UnknownEnvError, spec

    import_modules(imports)
    if positional and option and positional != option:
        fail(f"give the env once: ENV_ID {positional!r} and --env {option!r} differ")
    env_id = option or positional or default
    if not env_id:
        fail("give an env: ENV_ID (e.g. KeyDoor-v0) or --env path/to/file.py:ClassName")
    try:
        spec(env_id)
    except UnknownEnvError as exc:
        fail(str(exc))
    return env_id


def store_error(exc: BaseException) -> str:
    """A store-opening failure in one line (sqlite and OS errors alike)."""
    text = str(exc) or type(exc).__name__
    return text if isinstance(exc, ValueError) else f"{type(exc).__name__}: {text}"
