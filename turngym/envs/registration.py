"""The env registry: ``register``, ``make``, ``list_envs``, plugins by entry point.

Like gymnasium's registry, an ``EnvSpec`` maps a versioned id (``KeyDoor-v0``) to an entry point
and default kwargs. Three things are added:

- plugins: installed packages declare envs in the entry-point group ``turngym.envs``. An entry
  point's *name* is the env id and its value points at a ``TextEnv`` subclass (registered under
  that id) or at a callable that calls ``turngym.register`` itself. They load on first use.
- every spec is mirrored into gymnasium's registry as ``turngym/<id>`` so ``gymnasium.make`` works.
- local envs: ``make("path/to/file.py:Class")`` or ``make("module:Class")`` registers the class under
  that string on first use, in this process and in env workers alike (``turngym rollout --env``).
- errors name the fix: an unknown id lists close matches, an unknown kwarg lists the valid ones.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import importlib.util
import inspect
import logging
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import gymnasium as gym

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "turngym.envs"
GYM_NAMESPACE = "turngym"
_ID_RE = re.compile(r"^[A-Za-z0-9_.:-]+-v\d+$")


class UnknownEnvError(KeyError):
    """No env is registered under this id."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it readable.
        return str(self.args[0])


@dataclass(frozen=True)
class EnvSpec:
    id: str
    entry_point: str | Callable[..., Any]
    kwargs: dict[str, Any] = field(default_factory=dict)
    source: str = "builtin"
    description: str = ""

    def load(self) -> Callable[..., Any]:
        if callable(self.entry_point):
            return self.entry_point
        module, _, attr = self.entry_point.rpartition(":")
        if not module or not attr:
            raise ValueError(f"entry point {self.entry_point!r} of {self.id} must look like 'package.module:ClassName'")
        mod = _import_file(module) if module.endswith(".py") else importlib.import_module(module)
        return getattr(mod, attr)

    def summary(self) -> str:
        if self.description:
            return self.description
        doc = inspect.getdoc(self.load()) or ""
        return doc.splitlines()[0] if doc else ""


registry: dict[str, EnvSpec] = {}
_plugins_loaded = False


def _strip_namespace(env_id: str) -> str:
    prefix = GYM_NAMESPACE + "/"
    return env_id[len(prefix):] if env_id.startswith(prefix) else env_id


def register(env_id: str, entry_point: str | Callable[..., Any], *, source: str = "builtin", description: str = "", **defaults: Any) -> EnvSpec:
    """Register an env under a versioned id such as ``MyGame-v0``.

    ``defaults`` become constructor kwargs that ``make(..., **overrides)`` can replace. Registering
    an existing id replaces it (with a warning), as in gymnasium.
    """
    env_id = _strip_namespace(env_id)
    if not _ID_RE.match(env_id):
        raise ValueError(f"env id {env_id!r} must be a name followed by a version, like 'MyGame-v0'")
    if env_id in registry:
        logger.warning("re-registering env %s (was from %s)", env_id, registry[env_id].source)
    spec = EnvSpec(env_id, entry_point, dict(defaults), source=source, description=description)
    registry[env_id] = spec
    gym_id = f"{GYM_NAMESPACE}/{env_id}"
    if gym_id in gym.registry:
        del gym.registry[gym_id]
    # disable_env_checker: our check_env is stricter and the passive checker warns on text spaces.
    gym.register(id=gym_id, entry_point=_gym_entry_point(env_id), disable_env_checker=True)
    return spec


def _gym_entry_point(env_id: str) -> Callable[..., Any]:
    def create(**kwargs: Any) -> Any:
        return make(env_id, **kwargs)

    create.__name__ = f"make_{env_id.replace('-', '_')}"
    return create


def load_plugins(force: bool = False) -> list[str]:
    """Import envs declared by installed packages; returns the ids that were added."""
    global _plugins_loaded
    if _plugins_loaded and not force:
        return []
    _plugins_loaded = True
    added: list[str] = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        source = f"plugin:{ep.dist.name if ep.dist else ep.module}"
        before = set(registry)
        try:
            target = ep.load()
        except Exception as exc:  # a broken plugin must not take the registry down
            logger.warning("could not load turngym env plugin %s (%s): %s", ep.name, ep.value, exc)
            continue
        if inspect.isclass(target):
            register(ep.name, target, source=source)
        elif callable(target):
            target()
        added.extend(sorted(set(registry) - before) or ([ep.name] if ep.name in registry else []))
    return added


def _import_file(path: str) -> Any:
    """Import a ``.py`` file as a module (once per process; env workers re-import it by path)."""
    resolved = Path(path).resolve()
    name = "turngym_local_" + re.sub(r"\W", "_", resolved.stem) + "_" + hashlib.blake2b(str(resolved).encode(), digest_size=4).hexdigest()
    if name in sys.modules:
        return sys.modules[name]
    if not resolved.is_file():
        raise FileNotFoundError(f"env file {path} does not exist")
    module_spec = importlib.util.spec_from_file_location(name, resolved)
    if module_spec is None or module_spec.loader is None:
        raise ImportError(f"cannot import {path} as a Python module")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    try:
        module_spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def is_local_target(env_id: str) -> bool:
    """``path/to/file.py:Class`` or ``package.module:Class`` rather than a registered id."""
    head, sep, attr = env_id.rpartition(":")
    return bool(sep and head and attr.isidentifier() and not _ID_RE.match(env_id))


def register_target(target: str) -> str:
    """Register the env class named by ``file.py:Class`` or ``module:Class`` under the target
    string itself (so ``make(target)`` works in any process, env workers included) and return it.

    The class is loaded now, so a wrong path or name fails here with a message that says which.
    """
    if target in registry:
        return target
    head, _, attr = target.rpartition(":")
    entry = f"{Path(head).resolve()}:{attr}" if head.endswith(".py") else target
    probe = EnvSpec(target, entry)
    try:
        cls = probe.load()
    except FileNotFoundError as exc:
        raise UnknownEnvError(f"{exc} (from {target!r})") from None
    except AttributeError:
        raise UnknownEnvError(f"{head} has no class {attr!r} (from {target!r})") from None
    except Exception as exc:
        raise UnknownEnvError(f"cannot import {head} for {target!r}: {type(exc).__name__}: {exc}") from None
    if not callable(cls):
        raise UnknownEnvError(f"{target!r} is not a class or factory")
    spec_ = EnvSpec(target, entry, source=f"local:{head}")
    registry[target] = spec_
    return target


def _builtin() -> None:
    import turngym.envs.builtin  # noqa: F401  (registers the built-in envs on import)


def spec(env_id: str) -> EnvSpec:
    _builtin()
    env_id = _strip_namespace(env_id)
    if env_id not in registry and is_local_target(env_id):
        register_target(env_id)
    if env_id not in registry:
        load_plugins()
    if env_id not in registry:
        close = difflib.get_close_matches(env_id, list(registry), n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise UnknownEnvError(
            f"No env registered as {env_id!r}.{hint} Registered: {', '.join(sorted(registry)) or 'none'}."
        )
    return registry[env_id]


def mirror_into_gymnasium() -> None:
    """Make ``gymnasium.make("turngym/ID")`` work right after ``import turngym``, for built-ins and
    installed plugins alike, without importing any plugin: a plugin's entry-point name is its id,
    so its gymnasium entry is registered now and loads the plugin on first use."""
    _builtin()
    try:
        names = [ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)]
    except Exception:  # broken package metadata must not break ``import turngym``
        return
    for name in names:
        gym_id = f"{GYM_NAMESPACE}/{name}"
        if _ID_RE.match(name) and gym_id not in gym.registry:
            gym.register(id=gym_id, entry_point=_gym_entry_point(name), disable_env_checker=True)


def list_envs() -> list[EnvSpec]:
    """All registered envs, built-in and plugins, sorted by id."""
    _builtin()
    load_plugins()
    return [registry[k] for k in sorted(registry)]


def _check_kwargs(env_spec: EnvSpec, factory: Callable[..., Any], kwargs: dict[str, Any]) -> None:
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):
        return
    params = sig.parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    valid = [n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and n != "self"]
    unknown = [k for k in kwargs if k not in valid]
    if unknown:
        parts = []
        for k in unknown:
            close = difflib.get_close_matches(k, valid, n=1)
            parts.append(f"{k!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise TypeError(
            f"{env_spec.id} got unknown argument(s) {', '.join(parts)}. Valid arguments: {', '.join(valid)}."
        )


def make(env_id: str, **overrides: Any) -> Any:
    """Create an env: the spec's defaults updated by ``overrides``.

    ``env_id`` may carry the gymnasium namespace (``turngym/KeyDoor-v0``).
    """
    return instantiate(spec(env_id), **overrides)


def instantiate(env_spec: EnvSpec, **overrides: Any) -> Any:
    """Build an env from a spec; worker processes use this with a spec shipped from the parent."""
    factory = env_spec.load()
    kwargs = {**env_spec.kwargs, **overrides}
    _check_kwargs(env_spec, factory, kwargs)
    env = factory(**kwargs)
    env.spec_id = env_spec.id  # lets a worker or the replay viewer re-create the same env
    env.make_kwargs = dict(overrides)
    return env
