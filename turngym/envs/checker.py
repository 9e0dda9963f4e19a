"""``check_env``: tell an env author whether their multi-turn text env honours DESIGN.md §3.1.

The checks exercise the env the way rollouts, replay and training will: many resets with fixed
seeds, replays of recorded action sequences (replay and branching depend on byte-exact
determinism), garbage model output (an LLM produces empty strings, control characters, huge
outputs and near-miss commands; none of it may crash a rollout worker or corrupt the state), and
the turn limit (a rollout must end). Each check is independent and runs after a failed one, so a
single run lists every problem; an exception raised by the env is reported with the call that
raised it and the last line of its traceback instead of propagating.

Every env call runs under a deadline (``CALL_TIMEOUT_S``, main thread only, through ``SIGALRM``)
so that a catastrophic regex on a 1,000,000-character action is reported rather than hanging.
"""

from __future__ import annotations

import contextlib
import math
import random
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

from turngym.envs.base import INFO_KEY_TYPES

__all__ = ["CHECKS", "CheckReport", "CheckResult", "EnvCheckError", "check_env", "check_env_id", "fuzz_inputs"]

#: Seconds one ``reset``/``step`` call may take before the checker reports it as hanging.
CALL_TIMEOUT_S = 30.0
#: Actions no env should accept (every check that needs "garbage" uses these).
GARBAGE_ACTIONS = (
    "\u27e6turngym-check: this is not an action\u27e7",
    "",
    "#@!? 0xDEADBEEF \x00\x07 \u2603",
)
_FEW = 3  # problems listed per check before "and N more"


# -- report --------------------------------------------------------------------------------------
@dataclass
class CheckResult:
    name: str
    passed: bool
    message: str
    seconds: float
    #: The check did not apply to this env (e.g. no oracle); counted as passed.
    skipped: bool = False


@dataclass
class CheckReport:
    env_id: str
    results: list[CheckResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.passed for r in self.results)

    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if not r.passed]

    def __str__(self) -> str:
        total = sum(r.seconds for r in self.results)
        failed = self.failures()
        head = (
            f"check_env {self.env_id}: all {len(self.results)} checks passed ({total:.2f} s)"
            if not failed
            else f"check_env {self.env_id}: {len(failed)} of {len(self.results)} checks FAILED ({total:.2f} s)"
        )
        width = max((len(r.name) for r in self.results), default=0)
        lines = [head]
        for r in self.results:
            status = "SKIP" if r.skipped else "PASS" if r.passed else "FAIL"
            lines.append(f"  {status}  {r.name:<{width}}  {r.seconds:6.2f} s  {r.message}")
        return "\n".join(lines)


class EnvCheckError(AssertionError):
    """Raised by ``check_env(..., raise_on_error=True)``; ``.report`` holds every result."""

    def __init__(self, report: CheckReport) -> None:
        self.report = report
        failed = report.failures()
        lines = [f"{report.env_id} failed {len(failed)} of {len(report.results)} env checks:"]
        lines += [f"  {r.name}: {r.message}" for r in failed]
        super().__init__("\n".join(lines))


class _Fail(Exception):
    """The check failed; the message says why."""


class _Skip(Exception):
    """The check does not apply to this env."""


class _CallTimeout(BaseException):
    """Raised by the alarm handler; a BaseException so that an env's ``except Exception`` lets it pass."""


# -- formatting helpers ---------------------------------------------------------------------------
def _short(value: Any, limit: int = 60) -> str:
    """A repr that stays readable for 1,000,000-character strings."""
    if isinstance(value, str) and len(value) > limit:
        return f"<{len(value):,}-char string {value[: limit // 2]!r}...>"
    text = repr(value)
    return text if len(text) <= limit + 10 else text[:limit] + "...'"


def _diff(a: Any, b: Any, context: int = 24) -> str:
    """``a != b`` shown around the first differing character, so long observations stay readable."""
    if not (isinstance(a, str) and isinstance(b, str)):
        return f"{a!r} != {b!r}"
    i = next((k for k, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    start = max(0, i - context)

    def window(s: str) -> str:
        piece = s[start : i + context]
        return ("..." if start else "") + repr(piece) + ("..." if i + context < len(s) else "")

    return f"{window(a)} != {window(b)}"


def _exc_line(exc: BaseException) -> str:
    """The traceback's last line, plus where in the env it was raised."""
    line = traceback.format_exception_only(type(exc), exc)[-1].strip()
    frames = traceback.extract_tb(exc.__traceback__)
    if frames:
        last = frames[-1]
        line += f" (at {last.filename.rsplit('/', 1)[-1]}:{last.lineno} in {last.name})"
    return line


def _same(a: Any, b: Any) -> bool:
    try:
        if type(a) is type(b) and bool(a == b):
            return True
    except Exception:  # e.g. arrays: fall back to the text form
        pass
    return type(a) is type(b) and repr(a) == repr(b)


def _type_name(value: Any) -> str:
    t = type(value)
    return t.__name__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__name__}"


def _is_bool(value: Any) -> bool:
    return isinstance(value, (bool, np.bool_))


def _reward_problem(reward: Any) -> str | None:
    if _is_bool(reward) or not isinstance(reward, (int, float, np.integer, np.floating)):
        return f"reward has type {_type_name(reward)}, expected a float (int, float or numpy floating)"
    if not math.isfinite(float(reward)):
        return f"reward is {float(reward)}, expected a finite number"
    return None


def _utf8_problem(text: str) -> str | None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"is not valid UTF-8 text ({text[exc.start]!r} at position {exc.start}): sanitise echoed actions"
    return None


# -- calling the env ------------------------------------------------------------------------------
@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Raise ``_CallTimeout`` after ``seconds``; nests under an outer ``SIGALRM`` timer (pytest-timeout)."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return
    outer_remaining, outer_interval = signal.getitimer(signal.ITIMER_REAL)
    if outer_remaining and outer_remaining <= seconds:  # the outer deadline comes first: let it fire
        yield
        return

    def on_alarm(signum: int, frame: Any) -> None:
        raise _CallTimeout()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    started = time.monotonic()
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_remaining:
            left = max(outer_remaining - (time.monotonic() - started), 1e-3)
            signal.setitimer(signal.ITIMER_REAL, left, outer_interval)


def _env_attr(env: Any, name: str, default: Any = None) -> Any:
    """An attribute of the env or of the env under its gymnasium wrappers."""
    for obj in (env, getattr(env, "unwrapped", env)):
        if hasattr(obj, name):
            return getattr(obj, name)
    return default


class _Driver:
    """Calls ``reset``/``step`` and turns exceptions, hangs and malformed returns into ``_Fail``."""

    def __init__(self, env: Any, label: str = "") -> None:
        self.env = env
        self.label = label  # e.g. " on a fresh instance"
        self.t = 0  # steps since the last reset
        self.seed: int | None = None

    def _call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            with _time_limit(CALL_TIMEOUT_S):
                return fn(*args, **kwargs)
        except _CallTimeout:
            raise _Fail(f"{what}{self.label} did not return within {CALL_TIMEOUT_S:g} s") from None
        except Exception as exc:
            raise _Fail(f"{what}{self.label} raised {_exc_line(exc)}") from exc

    def reset(self, seed: int | None) -> tuple[Any, dict[str, Any]]:
        what = f"reset(seed={seed})"
        out = self._call(what, self.env.reset, seed=seed)
        if not (isinstance(out, tuple) and len(out) == 2):
            raise _Fail(f"{what} returned {_short(out)}, expected a tuple (observation, info)")
        if not isinstance(out[1], dict):
            raise _Fail(f"{what} returned info of type {_type_name(out[1])}, expected dict")
        self.t = 0
        self.seed = seed
        return out

    def step(self, action: str) -> tuple[Any, Any, Any, Any, dict[str, Any]]:
        self.t += 1
        what = f"step {self.t} ({_short(action)}) after reset(seed={self.seed})"
        out = self._call(what, self.env.step, action)
        if not (isinstance(out, tuple) and len(out) == 5):
            raise _Fail(f"{what} returned {_short(out)}, expected a 5-tuple (obs, reward, terminated, truncated, info)")
        if not isinstance(out[4], dict):
            raise _Fail(f"{what} returned info of type {_type_name(out[4])}, expected dict")
        return out

    def where(self) -> str:
        return f"step {self.t} after reset(seed={self.seed}){self.label}"


def _admissible(info: dict[str, Any]) -> list[str]:
    acts = info.get("admissible_actions")
    return [a for a in acts if isinstance(a, str)] if isinstance(acts, list) else []


def _expert(info: dict[str, Any]) -> str | None:
    act = info.get("expert_action")
    return act if isinstance(act, str) else None


def _pick(rng: random.Random, info: dict[str, Any], garbage: float = 0.0) -> str:
    """A seeded mix of garbage, expert and admissible actions (random text when there are none)."""
    r = rng.random()
    if r < garbage:
        return rng.choice(GARBAGE_ACTIONS)
    admissible, expert = _admissible(info), _expert(info)
    if expert is not None and (r < garbage + 0.35 or not admissible):
        return expert
    if admissible:
        return rng.choice(admissible)
    return "".join(chr(rng.randrange(32, 127)) for _ in range(rng.randrange(1, 16)))


def _done(step_out: tuple[Any, ...]) -> bool:
    return bool(step_out[2]) or bool(step_out[3])


# -- fuzz inputs ----------------------------------------------------------------------------------
_SPECIALS: tuple[str, ...] = (  # most telling first, for small n_fuzz
    "", "\udcff", "a" * 1_000_000, "\x00", "\x1b[2J", "{0}", "%s", " ", "   \t\n\r  ", "9" * 5000,
    "\ud800", "abc\udcffdef\ud83d", "\n", "\x00" * 64, "\x1b[31mred\x1b[0m\x1b]0;title\x07",
    "\x07\x08\x7f\x0b\x0c", "\u202egnirts desrever", "\ufeff\u200b\u200d", "{}", "{action}", "{0.__class__}",
    "%d%n%x", "${HOME}", "\\", "[", "]", "[]", "[[[[", "]]]]", "((((", "'; DROP TABLE episodes; --",
    "<script>alert(1)</script>", "../../etc/passwd", "None", "null", "nan", "inf", "-1e999", "1e999",
    "0x" + "f" * 64, "\U0001f642" * 16, "\r\n" * 1000, "-" + "9" * 400,
)
_FORMATS = ("{0}", "{}", "%s", "%(x)s", "{0!r:>{1}}", "%%", "{{}}", "%n", "{.__dict__}")


def _long_number(rng: random.Random) -> str:
    digits = "".join(rng.choice("0123456789") for _ in range(rng.choice((40, 400, 4400))))
    return rng.choice(("", "-", "+")) + digits + rng.choice(("", ".5", "e308", "e-999"))


def _near_miss(rng: random.Random, action: str) -> str:
    """An almost-valid action: the kind of slip a model makes."""
    kind = rng.randrange(9)
    if kind == 0 and action:  # one character changed
        i = rng.randrange(len(action))
        return action[:i] + chr(rng.randrange(33, 127)) + action[i + 1 :]
    if kind == 1:
        return rng.choice((action.upper(), action.title(), action.swapcase()))
    if kind == 2:
        return "  " + action.replace(" ", "   ") + " \t\n"
    if kind == 3:  # unbalanced brackets
        return rng.choice((action + "]", "[" + action, action.replace("]", ""), action.replace("[", "[[")))
    if kind == 4 and "[" in action:  # same verb, hostile argument
        verb = action.split("[", 1)[0]
        arg = rng.choice((_long_number(rng), rng.choice(_FORMATS), "", "\x00", "]" * 5, "1/0", "(" * 120 + "1" + ")" * 120))
        return f"{verb}[{arg}]"
    if kind == 5:
        return action[: rng.randrange(len(action) + 1)]  # truncated
    if kind == 6:
        return action + rng.choice((".", "!", " please", " " + action, "\x00", " " * 1_000_000))
    if kind == 7:
        return action + " " + rng.choice(_FORMATS)
    return f"Action: {action}\n" + rng.choice(("", "I think this is right.", "<|im_end|>"))


def _random_unicode(rng: random.Random) -> str:
    n = rng.randrange(1, 64)
    return "".join(chr(rng.randrange(0x110000)) for _ in range(n))  # surrogates and unassigned included


def _control_mix(rng: random.Random) -> str:
    pool = [chr(c) for c in range(32)] + ["\x7f", "\x85", "\u2028", "a", "b", " "]
    return "".join(rng.choice(pool) for _ in range(rng.randrange(1, 48)))


def fuzz_inputs(seed: int, n: int, admissible: Callable[[], list[str]] = lambda: []) -> Iterator[str]:
    """``n`` hostile actions: the fixed specials first, then seeded random ones.

    ``admissible`` returns the actions valid right now, from which near-misses are made; it is called
    lazily because the state changes as the fuzz runs.
    """
    rng = random.Random(seed)
    for i in range(n):
        if i < len(_SPECIALS):
            yield _SPECIALS[i]
            continue
        kind = rng.randrange(6)
        actions = admissible()
        if kind <= 1 and actions:
            yield _near_miss(rng, rng.choice(actions))
        elif kind == 2:
            yield _random_unicode(rng)
        elif kind == 3:
            yield _control_mix(rng)
        elif kind == 4:
            yield rng.choice((_long_number(rng), rng.choice(_FORMATS) * rng.randrange(1, 20)))
        else:
            yield "".join(chr(rng.randrange(32, 127)) for _ in range(rng.randrange(0, 80)))


# -- the checks -----------------------------------------------------------------------------------
@dataclass
class _Ctx:
    env: Any
    seed: int
    n_fuzz: int
    max_steps: int
    make_fresh: Callable[..., Any] | None

    @property
    def max_turns(self) -> int | None:
        value = _env_attr(self.env, "max_turns")
        return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None

    def new_env(self, **overrides: Any) -> Any:
        assert self.make_fresh is not None
        try:
            return self.make_fresh(**overrides)
        except Exception as exc:
            args = ", ".join(f"{k}={v!r}" for k, v in overrides.items())
            raise _Fail(f"make_fresh({args}) raised {_exc_line(exc)}") from exc


def _close(env: Any) -> None:
    with contextlib.suppress(Exception):
        env.close()


def _check_api(ctx: _Ctx) -> str:
    env, problems = ctx.env, []
    if not isinstance(env, gym.Env):
        problems.append(f"env is a {_type_name(env)}, not a gymnasium.Env")
    for name in ("observation_space", "action_space"):
        space = _env_attr(env, name)
        try:
            accepts = space is not None and bool(space.contains("abc"))
        except Exception as exc:
            problems.append(f"{name}.contains('abc') raised {_exc_line(exc)}")
            continue
        if not accepts:
            problems.append(f"{name} ({space!r}) does not contain the string 'abc'; use turngym.envs.TextSpace")
    obs_space = _env_attr(env, "observation_space")

    def check_obs(obs: Any, where: str) -> None:
        if not isinstance(obs, str):
            problems.append(f"{where} returned an observation of type {_type_name(obs)}, expected str")
        elif obs_space is not None and not _safe_contains(obs_space, obs):
            problems.append(f"{where} returned an observation outside observation_space: {_short(obs)}")

    d = _Driver(env)
    rng = random.Random(ctx.seed)
    obs, info = d.reset(ctx.seed)
    check_obs(obs, f"reset(seed={ctx.seed})")
    d.reset(None)  # unseeded resets must work too
    obs, info = d.reset(ctx.seed)
    steps = 0
    for k in range(8):
        action = GARBAGE_ACTIONS[0] if k == 2 else _pick(rng, info)
        out = d.step(action)
        steps += 1
        obs, reward, terminated, truncated, info = out
        check_obs(obs, d.where())
        if (p := _reward_problem(reward)) is not None:
            problems.append(f"{d.where()}: {p}")
        for flag, value in (("terminated", terminated), ("truncated", truncated)):
            if not _is_bool(value):
                problems.append(f"{d.where()}: {flag} has type {_type_name(value)}, expected bool")
        if problems or _done(out):
            break
    if problems:
        raise _Fail("; ".join(problems[:_FEW]) + (f" (and {len(problems) - _FEW} more)" if len(problems) > _FEW else ""))
    return f"gymnasium.Env with string spaces; reset -> (str, dict); {steps} steps -> (str, float, bool, bool, dict)"


def _safe_contains(space: Any, x: Any) -> bool:
    try:
        return bool(space.contains(x))
    except Exception:
        return False


def _info_problems(info: dict[str, Any], where: str, *, after_step: bool) -> list[str]:
    problems = []
    for key, types in INFO_KEY_TYPES.items():
        if key in info and not isinstance(info[key], types):
            expected = types.__name__ if isinstance(types, type) else " or ".join(t.__name__ for t in types)
            problems.append(f"info[{key!r}] {where} has type {_type_name(info[key])}, expected {expected}")
    if after_step and "action_valid" not in info:
        problems.append(f"info has no 'action_valid' {where}")
    admissible = info.get("admissible_actions")
    if isinstance(admissible, list):
        bad = [a for a in admissible if not isinstance(a, str)]
        if bad:
            problems.append(f"info['admissible_actions'] {where} holds non-strings: {_short(bad)}")
        expert = info.get("expert_action")
        if isinstance(expert, str) and expert not in admissible:
            problems.append(f"info['expert_action'] {where} = {expert!r} is not in admissible_actions {_short(admissible)}")
    if "score" in info and _is_bool(info["score"]):
        problems.append(f"info['score'] {where} is a bool, expected a number")
    return problems


def _check_info(ctx: _Ctx) -> str:
    d, rng, problems, n = _Driver(ctx.env), random.Random(ctx.seed + 1), [], 0
    for s in (ctx.seed, ctx.seed + 1):
        obs, info = d.reset(s)
        problems += _info_problems(info, f"after reset(seed={s})", after_step=False)
        n += 1
        for _ in range(ctx.max_steps):
            out = d.step(_pick(rng, info, garbage=0.2))
            info = out[4]
            problems += _info_problems(info, f"after {d.where()}", after_step=True)
            n += 1
            if _done(out):
                out = d.step(_pick(rng, info))  # stepping a finished episode is answered the same way
                problems += _info_problems(out[4], f"after {d.where()} (episode already over)", after_step=True)
                n += 1
                break
    if problems:
        more = f" (and {len(problems) - _FEW} more)" if len(problems) > _FEW else ""
        raise _Fail("; ".join(problems[:_FEW]) + more)
    return f"{n} info dicts have the fixed keys with the right types"


def _record(d: _Driver, seed: int, rng: random.Random, max_steps: int) -> tuple[Any, list[str], list[tuple[Any, ...]]]:
    obs, info = d.reset(seed)
    actions, trace = [], []
    for _ in range(max_steps):
        action = _pick(rng, info, garbage=0.15)
        out = d.step(action)
        actions.append(action)
        trace.append((out[0], out[1], out[2], out[3], out[4].get("action_valid")))
        info = out[4]
        if _done(out):
            break
    return obs, actions, trace


_FIELDS = ("observation", "reward", "terminated", "truncated", "action_valid")


def _replay(d: _Driver, seed: int, first_obs: Any, actions: list[str], trace: list[tuple[Any, ...]]) -> None:
    obs, _ = d.reset(seed)
    if not _same(obs, first_obs):
        raise _Fail(f"first observation after reset(seed={seed}){d.label} differs on replay: {_diff(first_obs, obs)}")
    for t, (action, expected) in enumerate(zip(actions, trace), start=1):
        out = d.step(action)
        got = (out[0], out[1], out[2], out[3], out[4].get("action_valid"))
        for name, a, b in zip(_FIELDS, expected, got):
            if not _same(a, b):
                raise _Fail(
                    f"{name} after step {t} differs on replay{d.label}: {_diff(a, b)} "
                    f"(reset(seed={seed}), action {_short(action)})"
                )


def _check_determinism(ctx: _Ctx) -> str:
    d = _Driver(ctx.env)
    fresh: list[Any] = []
    try:
        obs_a, info_a = d.reset(ctx.seed)
        obs_b, info_b = d.reset(ctx.seed)
        if not _same(obs_a, obs_b):
            raise _Fail(f"two resets with seed={ctx.seed} give different first observations: {_diff(obs_a, obs_b)}")
        if not _same(info_a.get("task_id"), info_b.get("task_id")):
            raise _Fail(f"two resets with seed={ctx.seed} give different task_id: {_diff(info_a.get('task_id'), info_b.get('task_id'))}")
        fds: list[_Driver] = []
        if ctx.make_fresh is not None:
            for i in range(2):  # two fresh instances: one may be made before, one after any global state moved
                fresh.append(ctx.new_env())
                fds.append(_Driver(fresh[-1], label=f" on fresh instance {i + 1}"))
                obs_c, info_c = fds[-1].reset(ctx.seed)
                if not _same(obs_a, obs_c):
                    raise _Fail(f"reset(seed={ctx.seed}) on fresh instance {i + 1} gives a different first observation: {_diff(obs_a, obs_c)}")
                if not _same(info_a.get("task_id"), info_c.get("task_id")):
                    raise _Fail(f"reset(seed={ctx.seed}) on fresh instance {i + 1} gives a different task_id: {_diff(info_a.get('task_id'), info_c.get('task_id'))}")
        steps = episodes = 0
        while episodes < 2 or (steps < ctx.max_steps and episodes < 8):  # short episodes: record a few more
            s = ctx.seed + episodes
            first, actions, trace = _record(d, s, random.Random(ctx.seed * 7919 + s), ctx.max_steps)
            _replay(d, s, first, actions, trace)
            if fds:
                _replay(fds[episodes % len(fds)], s, first, actions, trace)
            steps += len(actions)
            episodes += 1
    finally:
        for env in fresh:
            _close(env)
    where = "the same instance and on fresh ones" if fresh else "the same instance (no make_fresh given)"
    return f"same seed -> same first observation and task; {steps} recorded steps ({episodes} episodes) replayed byte for byte on {where}"


def _check_invalid(ctx: _Ctx) -> str:
    env, made = _oracle_env_for_free_text(ctx)
    try:
        return _invalid_trials(ctx, env, notes={"free-text actions without an admissible set: driven by the oracle"} if made else set())
    finally:
        if made is not None:
            _close(made)


def _oracle_env_for_free_text(ctx: _Ctx) -> tuple[Any, Any]:
    """An env without an admissible set accepts only well-formed text, which random text is not:
    the valid actions around the garbage come from its oracle (a fresh ``expert=True`` instance)."""
    _, info = _Driver(ctx.env).reset(ctx.seed)
    if "admissible_actions" in info or _expert(info) is not None or ctx.make_fresh is None:
        return ctx.env, None
    try:
        made = ctx.make_fresh(expert=True)
    except Exception:
        return ctx.env, None
    return made, made


def _invalid_trials(ctx: _Ctx, env: Any, notes: set[str]) -> str:
    d, rng = _Driver(env), random.Random(ctx.seed + 2)
    trials = 0
    for k in range(len(GARBAGE_ACTIONS) * 2):
        s = ctx.seed + 10 + k
        obs, info = d.reset(s)
        prefix: list[str] = []
        for _ in range(k % 3):  # look at the first state and at later ones
            action = _pick(rng, info)
            out = d.step(action)
            if _done(out):
                break
            prefix.append(action)
            obs, info = out[0], out[4]
        if len(prefix) != k % 3:
            continue  # the prefix ended the episode; try the next seed
        garbage = GARBAGE_ACTIONS[k % len(GARBAGE_ACTIONS)]
        before = _admissible(info) if "admissible_actions" in info else None
        if before is not None and garbage in before:
            continue
        g_obs, _, g_term, g_trunc, g_info = d.step(garbage)
        ctxt = f"garbage action {_short(garbage)} at {d.where()}"
        if "action_valid" not in g_info:
            notes.add("the env does not report action_valid")
        elif g_info["action_valid"] is not False:
            raise _Fail(f"{ctxt} returned action_valid={g_info['action_valid']!r}, expected False")
        if g_term:
            raise _Fail(f"{ctxt} ended the episode (terminated=True); an invalid action must leave the state as it was")
        if before is not None and "admissible_actions" in g_info and not _same(info["admissible_actions"], g_info["admissible_actions"]):
            raise _Fail(f"admissible_actions changed after {ctxt}: {_short(info['admissible_actions'], 120)} -> {_short(g_info['admissible_actions'], 120)}")
        if "anchor" in info and "anchor" in g_info and not _same(info["anchor"], g_info["anchor"]):
            if _same(g_info["anchor"], g_obs):
                notes.add("the anchor is the observation, so the state was compared through the next valid action")
            else:
                raise _Fail(f"anchor changed after {ctxt}: {_diff(info['anchor'], g_info['anchor'])}")
        if "expert_action" in info and "expert_action" in g_info and not _same(info["expert_action"], g_info["expert_action"]):
            raise _Fail(f"expert_action changed after {ctxt}: {_diff(info['expert_action'], g_info['expert_action'])}")
        if g_trunc:
            trials += 1
            continue  # the turn limit ended it; nothing follows
        follow = _pick(rng, info)
        f_out = d.step(follow)
        if f_out[4].get("action_valid", True) is not True:
            raise _Fail(f"valid action {follow!r} right after {ctxt} was rejected (action_valid={f_out[4].get('action_valid')!r}): {_short(f_out[0])}")
        _compare_counterfactual(d, s, prefix, obs, follow, f_out, ctxt, notes)
        trials += 1
    if trials == 0:
        raise _Skip("every probe episode ended before a garbage action could be tried")
    tail = f" ({'; '.join(sorted(notes))})" if notes else ""
    return f"{trials} garbage actions rejected without raising; state unchanged and the next valid action works{tail}"


def _compare_counterfactual(d: _Driver, seed: int, prefix: list[str], obs_before: Any, follow: str, f_out: tuple[Any, ...], ctxt: str, notes: set[str]) -> None:
    """Replay the prefix without the garbage action: the valid action must land in the same state."""
    obs, _ = d.reset(seed)
    for action in prefix:
        obs = d.step(action)[0]
    if not _same(obs, obs_before):
        notes.add("replay differs (see determinism), so the garbage action's effect was not compared")
        return
    ref = d.step(follow)
    ref_info, got_info = ref[4], f_out[4]
    pairs = [("reward", ref[1], f_out[1]), ("terminated", ref[2], f_out[2])]
    if "anchor" in ref_info or "anchor" in got_info:
        pairs.insert(0, ("anchor", ref_info.get("anchor"), got_info.get("anchor")))
    else:
        pairs.insert(0, ("observation", ref[0], f_out[0]))
    for key in ("admissible_actions", "expert_action"):
        pairs.append((key, ref_info.get(key), got_info.get(key)))
    for name, want, got in pairs:
        if not _same(want, got):
            raise _Fail(
                f"{ctxt} changed the env's state: after it, {follow!r} gives {name} {_diff(got, want)} "
                f"(the second is {follow!r} without the garbage action before it)"
            )


def _check_fuzz(ctx: _Ctx) -> str:
    d = _Driver(ctx.env)
    episode = 0
    obs, info = d.reset(ctx.seed + 100)
    current = {"info": info}
    failures: list[str] = []
    failing_steps = 0
    slowest = (0.0, "")
    n = 0
    for action in fuzz_inputs(ctx.seed, ctx.n_fuzz, lambda: _admissible(current["info"])):
        n += 1
        started = time.perf_counter()
        try:
            out = d.step(action)
        except _Fail as exc:
            failing_steps += 1
            failures.append(str(exc))
            out = None
        elapsed = time.perf_counter() - started
        if elapsed > slowest[0]:
            slowest = (elapsed, _short(action, 30))
        if out is not None:
            for what, text in (("observation", out[0]), ("info['anchor']", out[4].get("anchor"))):
                if isinstance(text, str) and (p := _utf8_problem(text)) is not None:
                    failing_steps += 1
                    failures.append(f"{what} at {d.where()} {p}")
            current["info"] = out[4]
        if out is None or _done(out):
            episode += 1
            obs, info = d.reset(ctx.seed + 100 + episode)  # a reset that raises ends the check
            current["info"] = info
    if failures:
        unique = list(dict.fromkeys(failures))
        more = f" (and {len(unique) - _FEW} more)" if len(unique) > _FEW else ""
        raise _Fail(f"{failing_steps} of {n} fuzz inputs failed: " + "; ".join(unique[:_FEW]) + more)
    return f"{n} hostile inputs over {episode + 1} episodes, no exception; slowest {slowest[1]} {slowest[0] * 1000:.1f} ms"


def _check_termination(ctx: _Ctx) -> str:
    d, rng = _Driver(ctx.env), random.Random(ctx.seed + 3)
    max_turns = ctx.max_turns
    limit = max_turns or ctx.max_steps
    lengths = []
    for kind, garbage in (("admissible", 0.0), ("garbage", 1.0)):
        obs, info = d.reset(ctx.seed + 200 + int(garbage))
        out = None
        for _ in range(limit):
            out = d.step(_pick(rng, info, garbage=garbage))
            info = out[4]
            if _done(out):
                break
        if out is None or not _done(out):
            if max_turns:
                raise _Fail(
                    f"an episode of {kind} actions did not end within max_turns={max_turns} steps "
                    f"(terminated and truncated both False after step {d.t}, reset(seed={d.seed}))"
                )
            raise _Fail(
                f"an episode of {kind} actions did not end within {limit} steps and the env has no max_turns "
                f"attribute; add a turn limit that ends episodes with truncated=True"
            )
        lengths.append(d.t)
        for _ in range(2):
            d.step(_pick(rng, info))  # stepping a finished episode must be answered, not raise
    bound = f"max_turns={max_turns}" if max_turns else f"max_steps={ctx.max_steps} (no max_turns attribute)"
    return f"episodes ended after {' and '.join(map(str, lengths))} steps (within {bound}); stepping after the end does not raise"


def _check_expert(ctx: _Ctx) -> str:
    env, made = ctx.env, None
    if _env_attr(env, "expert") is not True:
        if ctx.make_fresh is None:
            raise _Skip("env was not made with expert=True and no make_fresh was given to make one")
        try:
            made = env = ctx.make_fresh(expert=True)
        except TypeError as exc:
            raise _Skip(f"cannot make an expert env: {_exc_line(exc)}") from None
        except Exception as exc:
            raise _Fail(f"make_fresh(expert=True) raised {_exc_line(exc)}") from exc
    try:
        d = _Driver(env, label="" if made is None else " (expert env)")
        limit = _env_attr(env, "max_turns") or ctx.max_steps
        seeds = [ctx.seed + 300 + i for i in range(3)]
        lengths = []
        for i, s in enumerate(seeds):
            obs, info = d.reset(s)
            if problems := _info_problems(info, f"after reset(seed={s}){d.label}", after_step=False):
                raise _Fail(problems[0])
            if _expert(info) is None:
                if i == 0:
                    raise _Skip("the env exposes no info['expert_action'] (no oracle)")
                raise _Fail(f"info has no 'expert_action' after reset(seed={s}) although it had one for seed {seeds[0]}")
            out = None
            for _ in range(limit):
                action = _expert(info)
                if action is None:
                    raise _Fail(f"info has no 'expert_action' at {d.where()} (episode not over)")
                out = d.step(action)
                info = out[4]
                if problems := _info_problems(info, f"after {d.where()}", after_step=True):
                    raise _Fail(problems[0])
                if info.get("action_valid", True) is not True:
                    raise _Fail(f"expert action {action!r} at {d.where()} was rejected: {_short(out[0])}")
                if _done(out):
                    break
            if out is None or not (_is_bool(info.get("won")) and bool(info["won"])):  # its type is info_keys' job
                state = "did not end" if out is None or not _done(out) else f"ended (terminated={out[2]}, truncated={out[3]})"
                raise _Fail(
                    f"following info['expert_action'] from reset(seed={s}) did not win within {limit} turns: "
                    f"episode {state} after {d.t} steps with won={info.get('won')!r}; last observation {_short(out[0] if out else obs)}"
                )
            lengths.append(d.t)
    finally:
        if made is not None:
            _close(made)
    return f"the oracle won {len(seeds)} of {len(seeds)} seeded episodes in {', '.join(map(str, lengths))} steps"


#: The checks in the order they run: (name, function).
CHECKS: tuple[tuple[str, Callable[[_Ctx], str]], ...] = (
    ("api", _check_api),
    ("info_keys", _check_info),
    ("determinism", _check_determinism),
    ("invalid_action", _check_invalid),
    ("fuzz", _check_fuzz),
    ("termination", _check_termination),
    ("expert", _check_expert),
)


def _run(name: str, fn: Callable[[_Ctx], str], ctx: _Ctx) -> CheckResult:
    started = time.perf_counter()
    try:
        message, passed, skipped = fn(ctx), True, False
    except _Fail as exc:
        message, passed, skipped = str(exc), False, False
    except _Skip as exc:
        message, passed, skipped = f"skipped: {exc}", True, True
    except Exception as exc:  # the env returned something so odd that the checker itself tripped
        message, passed, skipped = f"could not run the check: {_exc_line(exc)}", False, False
    return CheckResult(name, passed, message, time.perf_counter() - started, skipped)


def _env_id(env: Any) -> str:
    spec_id = _env_attr(env, "spec_id")
    if isinstance(spec_id, str):
        return spec_id
    gym_spec = getattr(env, "spec", None)
    if getattr(gym_spec, "id", None):
        return gym_spec.id
    return type(_env_attr(env, "unwrapped", env)).__name__


def _default_make_fresh(env: Any) -> Callable[..., Any] | None:
    """Envs made by ``turngym.make`` remember their id and kwargs; that is enough to make another."""
    spec_id, kwargs = _env_attr(env, "spec_id"), _env_attr(env, "make_kwargs") or {}
    if not isinstance(spec_id, str):
        return None
    from turngym.envs.registration import make

    return lambda **overrides: make(spec_id, **{**kwargs, **overrides})


def check_env(
    env: Any,
    *,
    seed: int = 0,
    n_fuzz: int = 300,
    max_steps: int = 60,
    raise_on_error: bool = True,
    make_fresh: Callable[..., Any] | None = None,
) -> CheckReport:
    """Run every check on ``env`` and return the report; raise ``EnvCheckError`` on a failure.

    ``make_fresh`` creates another instance of the same env (called with no arguments for the
    cross-instance determinism check, and with ``expert=True`` for the oracle check when ``env``
    has no oracle enabled; a factory that does not take ``expert`` just skips that). Envs made by
    ``turngym.make`` get one by default. The env is reset many times; its state afterwards is
    unspecified.
    """
    if max_steps < 1 or n_fuzz < 0:
        raise ValueError(f"need max_steps >= 1 and n_fuzz >= 0, got max_steps={max_steps}, n_fuzz={n_fuzz}")
    ctx = _Ctx(env, seed, n_fuzz, max_steps, make_fresh if make_fresh is not None else _default_make_fresh(env))
    report = CheckReport(_env_id(env), [_run(name, fn, ctx) for name, fn in CHECKS])
    if raise_on_error and not report.ok:
        raise EnvCheckError(report)
    return report


def check_env_id(env_id: str, *, seed: int = 0, n_fuzz: int = 300, raise_on_error: bool = True, **env_kwargs: Any) -> CheckReport:
    """``check_env`` on ``turngym.make(env_id, **env_kwargs)``, with fresh instances made the same way."""
    from turngym.envs.registration import make

    env = make(env_id, **env_kwargs)
    try:
        return check_env(
            env,
            seed=seed,
            n_fuzz=n_fuzz,
            raise_on_error=raise_on_error,
            make_fresh=lambda **overrides: make(env_id, **{**env_kwargs, **overrides}),
        )
    finally:
        _close(env)
