"""ALFWorld's TextWorld path, one engine per env instance.

ALFWorld plays a game as ``textworld.envs.PddlEnv`` (fast-downward state + grammar) wrapped by its
``AlfredDemangler`` (THOR ids → "mug 2"). Its own entry point goes through ``textworld.gym``, which
shares wrapper instances across batch slots and re-translates the PDDL problem on every ``load`` and
``reset``. Here each env owns one ``PddlEnv`` (with its own copy of ``libdownward.so``, which is how
fast-downward isolates state) and the translation is memoized on (domain, problem) text.

Everything that imports alfworld/textworld lives behind :func:`require_alfworld`, so importing
turngym never needs the extra.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import re
import sys
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, ClassVar

INSTALL_HINT = (
    "ALFWorld-v0 needs the `alfworld` extra (alfworld==0.4.2, textworld[pddl]==1.7.0, built from source). "
    "Install it with `bash scripts/install_alfworld.sh` (or `pip install 'turngym[alfworld]'`)."
)

#: The task-type names ALFWorld uses (``traj_data.json["task_type"]``), in ALFWorld's id order.
TASK_TYPES = (
    "pick_and_place_simple",
    "look_at_obj_in_light",
    "pick_clean_then_place_in_recep",
    "pick_heat_then_place_in_recep",
    "pick_cool_then_place_in_recep",
    "pick_two_obj_and_place",
)

_TASK_LINE = re.compile(r'"Your task is to: (.*?)\.?"\s*$', re.MULTILINE)


def require_alfworld() -> None:
    """Import the engine or fail with the install command (the extra is optional)."""
    try:
        import alfworld  # noqa: F401
        import fast_downward  # noqa: F401
        import textworld  # noqa: F401
        from textworld.envs.pddl import PddlEnv  # noqa: F401
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ImportError(f"{INSTALL_HINT} (import failed: {exc})") from exc


def alfworld_version() -> str:
    require_alfworld()
    import alfworld.info

    return str(alfworld.info.__version__)


@functools.lru_cache(maxsize=1)
def domain_text() -> str:
    """The PDDL domain shipped in the installed alfworld wheel."""
    require_alfworld()
    from alfworld.info import ALFRED_PDDL_PATH

    with open(ALFRED_PDDL_PATH, encoding="utf-8") as f:
        return f.read()


@functools.lru_cache(maxsize=1)
def grammar_text() -> str:
    """The text grammar shipped in the installed wheel, with the ``UNKNOWN GOAL`` placeholder."""
    require_alfworld()
    from alfworld.info import ALFRED_TWL2_PATH

    with open(ALFRED_TWL2_PATH, encoding="utf-8") as f:
        return f.read()


def task_text_from_grammar(grammar: str) -> str | None:
    """The task sentence baked into a released game's grammar (``"Your task is to: X."`` → X)."""
    match = _TASK_LINE.search(grammar)
    if match is None or "UNKNOWN GOAL" in match.group(1):
        return None
    return match.group(1)


def build_game(pddl_problem: str, task_desc: str, *, walkthrough: list[str] | None = None) -> dict[str, Any]:
    """A ``game.tw-pddl`` payload on the installed domain and grammar, as alfworld-generate writes it."""
    task_desc = task_desc.strip().rstrip(".")
    grammar = grammar_text().replace("UNKNOWN GOAL", task_desc)
    game: dict[str, Any] = {"pddl_domain": domain_text(), "grammar": grammar, "pddl_problem": pddl_problem, "solvable": True}
    if walkthrough is not None:
        game["walkthrough"] = list(walkthrough)
    return game


# -- memoized PDDL → SAS translation -----------------------------------------------------------
_SAS_CACHE: OrderedDict[tuple[str, str], tuple[Any, str]] = OrderedDict()
_SAS_CACHE_SIZE = 64
_SAS_LOCK = threading.RLock()


def _memo_pddl2sas(original: Any) -> Any:
    """Wrap ``fast_downward.pddl2sas``: pure in (domain, problem), but costs ~0.5 s a call.

    It also overwrites ``sys.argv`` (a hack for fast-downward's option parser); we restore it.
    """

    def pddl2sas(domain: str, problem: str, verbose: bool = False, optimize: bool = False) -> tuple[Any, str]:
        # ``PddlState`` also translates an optimized copy, used only by its planner (``replan``:
        # policy commands / walkthroughs), which our engine never requests. The unoptimized task
        # is a valid (slower to plan) SAS for it, and sharing it halves a first load.
        key = (domain, problem)
        with _SAS_LOCK:
            hit = _SAS_CACHE.get(key)
            if hit is not None:
                _SAS_CACHE.move_to_end(key)
                return hit
        argv = list(sys.argv)
        try:
            result = original(domain, problem, verbose=verbose, optimize=False)
        finally:
            sys.argv[:] = argv
        with _SAS_LOCK:
            _SAS_CACHE[key] = result
            while len(_SAS_CACHE) > _SAS_CACHE_SIZE:
                _SAS_CACHE.popitem(last=False)
        return result

    return pddl2sas


_PARSE_CACHE: dict[tuple[Any, ...], Any] = {}
_PARSE_CACHE_SIZE = 4096


def _memo_parse(original: Any) -> Any:
    """Wrap textgen's ``_parse_and_convert``: the grammar derives every admissible command's text
    each step and re-parses the same few rule strings with tatsu each time (~40% of a step).
    The parse is pure; callers mutate the returned symbols (they attach contexts), so each call
    gets a deep copy of the cached tree, which is what a fresh parse would give.
    """

    def parse(*args: Any, **kwargs: Any) -> Any:
        key = (args, tuple(sorted(kwargs.items())))
        try:
            cached = _PARSE_CACHE.get(key)
        except TypeError:  # unhashable arguments: do not cache
            return original(*args, **kwargs)
        if cached is None:
            cached = original(*args, **kwargs)
            if len(_PARSE_CACHE) >= _PARSE_CACHE_SIZE:
                _PARSE_CACHE.clear()
            _PARSE_CACHE[key] = cached
        return copy.deepcopy(cached)

    return parse


def _fast_copy_context(context: dict[str, Any]) -> dict[str, Any]:
    """textgen's ``copy_context`` deep-copies the variables and the mapping for every symbol
    (~30% of a step); derivation only adds keys to these dicts and never mutates the entity infos
    or variables they hold, so fresh dicts over the same values derive the same text (checked by
    tests against the unpatched engine)."""
    return {
        "state": context["state"],
        "facts": context["facts"],
        "variables": dict(context["variables"]),
        "mapping": dict(context["mapping"]),
        "entity_infos": context["entity_infos"],
    }


class _MemoRule:
    """Stands in for ``textworld.logic.Rule`` inside textgen, which only calls
    ``Rule.parse_conjunctive_query`` (a tatsu parse of the same few grammar conditions, ~60% of a
    step once the rest is cached). Rules are only read by ``State.all_assignments``."""

    _cache: ClassVar[dict[str, Any]] = {}
    _original: Any = None

    @classmethod
    def parse_conjunctive_query(cls, expr: str) -> Any:
        rule = cls._cache.get(expr)
        if rule is None:
            rule = cls._original.parse_conjunctive_query(expr)
            cls._cache[expr] = rule
        return rule


class _EngineSpeedups:
    """Scope the speed-ups to our own engine calls.

    ``PddlState`` looks ``fast_downward.pddl2sas`` up at call time and the grammar looks up
    ``_parse_and_convert``/``copy_context`` in its module, so we swap memoized/cheaper versions in
    only while our engine loads/resets/steps: plain textworld users in the same process (e.g. the
    benchmark baseline) keep the original behaviour.
    """

    _lock = threading.RLock()
    _depth = 0

    def __enter__(self) -> None:
        import fast_downward
        from textworld.envs.pddl import textgen

        self._lock.acquire()
        cls = type(self)
        if cls._depth == 0:
            cls._saved = (fast_downward.pddl2sas, textgen._parse_and_convert, textgen.copy_context, textgen.Rule)
            fast_downward.pddl2sas = _memo_pddl2sas(cls._saved[0])
            textgen._parse_and_convert = _memo_parse(cls._saved[1])
            textgen.copy_context = _fast_copy_context
            _MemoRule._original = cls._saved[3]
            textgen.Rule = _MemoRule
        cls._depth += 1

    def __exit__(self, *exc: object) -> None:
        import fast_downward
        from textworld.envs.pddl import textgen

        cls = type(self)
        cls._depth -= 1
        if cls._depth == 0:
            fast_downward.pddl2sas, textgen._parse_and_convert, textgen.copy_context, textgen.Rule = cls._saved
        self._lock.release()


@dataclass
class EngineState:
    """What one engine step yields: the text and the predicates the expert and the env read."""

    feedback: str
    admissible_commands: list[str]
    won: bool
    game_state: Any  # textworld GameState (facts, admissible commands) for the handcoded expert


class AlfredEngine:
    """One PDDL game engine + ALFWorld demangler, owned by one env."""

    def __init__(self) -> None:
        require_alfworld()
        import textworld
        from alfworld.agents.environment.alfred_tw_env import AlfredDemangler
        from textworld.envs.pddl import PddlEnv

        infos = textworld.EnvInfos(won=True, admissible_commands=True, facts=True)
        self._pddl = PddlEnv(infos)
        self._env = AlfredDemangler(shuffle=False)(self._pddl)
        self._loaded_key: tuple[str, str, str] | None = None

    def load(self, game: dict[str, Any]) -> None:
        """Load a game payload; re-loading the same game is free (only ``reset`` re-runs)."""
        key = (game["pddl_domain"], game["grammar"], game["pddl_problem"])
        if key == self._loaded_key:
            return
        with _EngineSpeedups():
            self._env.load(game)
        self._loaded_key = key

    def reset(self) -> EngineState:
        if self._loaded_key is None:
            raise RuntimeError("AlfredEngine.reset() before load()")
        with _EngineSpeedups():
            state = self._env.reset()
        return self._wrap(state)

    def is_admissible(self, command: str) -> bool:
        return command in self._pddl.state["admissible_commands"]

    def step(self, command: str) -> EngineState:
        with _EngineSpeedups():
            state, _, _ = self._env.step(command)
        return self._wrap(state)

    @staticmethod
    def _wrap(state: Any) -> EngineState:
        return EngineState(
            feedback=str(state["feedback"]),
            admissible_commands=list(state["admissible_commands"]),
            won=bool(state["won"]),
            game_state=state,
        )

    def close(self) -> None:
        with contextlib.suppress(Exception):  # closing a never-loaded engine is harmless
            self._env.close()
