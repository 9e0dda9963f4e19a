"""Re-running recorded episodes in a fresh env (determinism check) and branching them.

Why this works at all: envs are deterministic given (env id, make kwargs, seed, reset options) and
the action sequence (DESIGN.md §3.1), and the rollout engine records all of those on the Episode.
What the record lets us compare, turn by turn: ``Turn.observation`` is the text shown *before* the
action, ``Turn.reward``/``terminated``/``truncated``/``info`` are what the step returned. So the
observation returned by step k is checked against turn k+1's observation, and the last step is
checked through its ``info`` (which carries the next state's ``anchor``) and, when a recorder put it
there, ``episode.final_observation``.

Branches never touch the parent: a branch is a new Episode (``parent_id``, ``branch_turn``) whose
first k turns are copies of the parent's (after checking that they replay identically).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from typing import Any

from turngym.agents.base import AgentAction, AgentInput
from turngym.agents.rollout import apply_hindsight, apply_step, turn_from_action
from turngym.core.episode import Episode, new_id

#: info keys that legitimately differ between runs (timings) and are not compared.
_VOLATILE_INFO_KEYS = frozenset({"elapsed_s", "duration_s", "wall_s", "time_s"})


class ReplayError(Exception):
    """The episode cannot be re-run at all (env cannot be made, reset fails): a 422 for the API."""


class BranchConflict(Exception):
    """The recorded prefix does not replay identically, so a branch would start from a wrong state."""


@dataclass
class StepCheck:
    turn: int
    action: str
    matches: bool
    mismatches: list[str] = field(default_factory=list)
    recorded_observation: str | None = None  # only when it differs
    replayed_observation: str | None = None


@dataclass
class ReplayResult:
    episode_id: str
    match: bool
    steps: list[StepCheck]
    checked_turns: int
    error: str | None
    duration_s: float
    final_observation: str | None = None


def _normalise(value: Any) -> Any:
    """A JSON-comparable form: the store round-trips through JSON, so tuples become lists, etc."""

    def fix(v: Any) -> Any:
        if isinstance(v, float) and math.isnan(v):
            return "NaN"
        if isinstance(v, dict):
            return {str(k): fix(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [fix(x) for x in v]
        tolist = getattr(v, "tolist", None)
        if callable(tolist):
            return fix(tolist())
        return v

    return json.loads(json.dumps(fix(value), default=str))


def _info_diff(recorded: dict[str, Any], replayed: dict[str, Any]) -> list[str]:
    rec = {
        k: v for k, v in _normalise(recorded).items() if k not in _VOLATILE_INFO_KEYS
    }
    rep = {
        k: v for k, v in _normalise(replayed).items() if k not in _VOLATILE_INFO_KEYS
    }
    out = []
    for key in sorted(set(rec) | set(rep)):
        if rec.get(key, "<absent>") != rep.get(key, "<absent>"):
            out.append(
                f"info[{key!r}]: recorded {_short(rec.get(key, '<absent>'))}, replayed {_short(rep.get(key, '<absent>'))}"
            )
    return out


def _short(value: Any, n: int = 120) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return repr(text if len(text) <= n else text[:n] + "…")


def make_env(episode: Episode) -> Any:
    import turngym

    try:
        return turngym.make(episode.env_id, **episode.env_kwargs)
    except Exception as exc:
        raise ReplayError(
            f"cannot make env {episode.env_id!r} with {episode.env_kwargs}: {type(exc).__name__}: {exc}"
        ) from exc


def _reset(env: Any, episode: Episode) -> tuple[str, dict[str, Any]]:
    try:
        return env.reset(seed=episode.seed, options=episode.reset_options or None)
    except Exception as exc:
        raise ReplayError(
            f"reset(seed={episode.seed}, options={episode.reset_options}) failed for {episode.env_id}: "
            f"{type(exc).__name__}: {exc}"
        ) from exc


def replay(
    episode: Episode, *, upto: int | None = None, env: Any = None
) -> tuple[ReplayResult, Any, str, dict[str, Any]]:
    """Re-run ``episode``'s first ``upto`` actions (all by default) in a fresh env and compare.

    Returns the report plus the env left in the state after those actions, with its current
    observation and info, so that a branch can continue from there. The caller closes the env.
    """
    t0 = time.monotonic()
    turns = episode.turns if upto is None else episode.turns[:upto]
    own_env = env is None
    env = make_env(episode) if env is None else env
    try:
        obs, info = _reset(env, episode)
        steps: list[StepCheck] = []
        error: str | None = None
        for k, turn in enumerate(turns):
            check = StepCheck(turn=turn.index, action=turn.action, matches=True)
            if obs != turn.observation:
                check.mismatches.append("observation before the action differs")
                check.recorded_observation, check.replayed_observation = (
                    turn.observation,
                    obs,
                )
            if (
                turn.anchor is not None
                and info.get("anchor") is not None
                and info.get("anchor") != turn.anchor
            ):
                check.mismatches.append(
                    f"anchor: recorded {_short(turn.anchor)}, replayed {_short(info.get('anchor'))}"
                )
            try:
                obs, reward, terminated, truncated, info = env.step(turn.action)
            except Exception as exc:  # noqa: BLE001  (envs must not raise on step; report one that does)
                check.mismatches.append(f"step raised {type(exc).__name__}: {exc}")
                check.matches = False
                steps.append(check)
                error = (
                    f"env.step raised at turn {turn.index}: {type(exc).__name__}: {exc}"
                )
                break
            recorded_reward = turn.meta.get("env_reward", turn.reward)  # before any hindsight credit
            if not _same_float(reward, recorded_reward):
                check.mismatches.append(
                    f"reward: recorded {recorded_reward!r}, replayed {reward!r}"
                )
            if (bool(terminated), bool(truncated)) != (turn.terminated, turn.truncated):
                check.mismatches.append(
                    f"done: recorded terminated={turn.terminated} truncated={turn.truncated}, "
                    f"replayed terminated={terminated} truncated={truncated}"
                )
            if turn.info or k < len(episode.turns) - 1 or not episode.error:
                check.mismatches.extend(_info_diff(turn.info, info))
            recorded_next = _recorded_next_observation(episode, k)
            if (
                recorded_next is not None
                and recorded_next != obs
                and k == len(episode.turns) - 1
            ):
                check.mismatches.append("final observation differs")
                check.recorded_observation, check.replayed_observation = (
                    recorded_next,
                    obs,
                )
            check.matches = not check.mismatches
            steps.append(check)
        result = ReplayResult(
            episode_id=episode.episode_id,
            match=error is None and all(s.matches for s in steps),
            steps=steps,
            checked_turns=len(steps),
            error=error,
            duration_s=round(time.monotonic() - t0, 6),
            final_observation=obs,
        )
        return result, env, obs, info
    except BaseException:
        if own_env:
            _close(env)
        raise


def _recorded_next_observation(episode: Episode, k: int) -> str | None:
    if k + 1 < len(episode.turns):
        return episode.turns[k + 1].observation
    return episode.final_observation


def _same_float(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def _close(env: Any) -> None:
    try:
        env.close()
    except Exception:  # noqa: BLE001, S110  (a failing close must not hide the replay result)
        pass


def replay_episode(episode: Episode) -> ReplayResult:
    """Determinism check of a whole episode (the env is closed afterwards)."""
    result, env, _, _ = replay(episode)
    _close(env)
    return result


# ---------------------------------------------------------------------------------------- branch
def is_open(episode: Episode) -> bool:
    """Whether the env would accept another action after the last recorded turn."""
    if episode.error or episode.terminated or episode.truncated:
        return False
    return not (
        episode.turns and (episode.turns[-1].terminated or episode.turns[-1].truncated)
    )


def check_branch_turn(episode: Episode, turn: int) -> str | None:
    """None if branching at ``turn`` is possible, else the reason (a 422 message)."""
    n = len(episode.turns)
    if turn < 0:
        return f"turn must be >= 0, got {turn}"
    if turn < n:
        return None
    if turn == n and is_open(episode):
        return None
    hint = (
        f"0..{n}"
        if is_open(episode)
        else f"0..{n - 1}"
        if n
        else "none (the episode has no turns and is finished)"
    )
    return f"turn {turn} is out of range for episode {episode.episode_id} with {n} turns; valid turns: {hint}"


def branch(
    parent: Episode,
    turn: int,
    *,
    action: str | None = None,
    agent: Any = None,
    max_turns: int = 50,
    source: dict[str, Any] | None = None,
) -> Episode:
    """A new episode: the parent's turns before ``turn``, then ``action`` (one typed turn) or, with
    ``agent``, turns chosen by that agent until the env ends the episode or ``max_turns`` new turns.

    Raises ``ValueError`` for a bad turn, ``BranchConflict`` if the prefix does not replay
    identically, ``ReplayError`` if the env cannot be re-created.
    """
    reason = check_branch_turn(parent, turn)
    if reason:
        raise ValueError(reason)
    if (action is None) == (agent is None):
        raise ValueError("give exactly one of action= or agent=")
    result, env, obs, info = replay(parent, upto=turn)
    try:
        if not result.match:
            bad = next((s for s in result.steps if not s.matches), None)
            detail = "; ".join(bad.mismatches) if bad else (result.error or "")
            raise BranchConflict(
                f"the first {turn} turns of {parent.episode_id} do not replay identically "
                f"(turn {bad.turn if bad else '?'}: {detail}); a branch would not start from the recorded state"
            )
        child = Episode(
            episode_id=new_id(),
            run_id=parent.run_id,
            env_id=parent.env_id,
            task_id=parent.task_id,
            group_id=parent.group_id,
            seed=parent.seed,
            layout=parent.layout,
            turns=[t.model_copy(deep=True) for t in parent.turns[:turn]],
            step=parent.step,
            parent_id=parent.episode_id,
            branch_turn=turn,
            tag="branch",  # made in the viewer: not training data (exports with tagged=False skip it)
            reset_options=dict(parent.reset_options),
            env_kwargs=dict(parent.env_kwargs),
            meta={"branch": {"source": source or {}, "created_at": time.time()}},
        )
        done = False
        if action is not None:
            new = turn_from_action(turn, obs, info, AgentAction(action=action))
            step = env.step(action)
            apply_step(new, *step[1:])
            child.turns.append(new)
            obs, info, done = step[0], step[4], bool(step[2] or step[3])
        else:
            done, obs = _agent_turns(child, env, agent, obs, info, max_turns)
        last = child.turns[-1] if child.turns else None
        child.terminated = bool(last and last.terminated)
        child.truncated = bool(last and last.truncated)
        child.won = bool(last and last.info.get("won", False))
        if last is not None and "score" in last.info:
            try:
                child.score = float(last.info["score"])
            except (TypeError, ValueError):
                child.score = None
        if done and last is not None:  # per-turn credit an env assigns at the end (Discussion-v0)
            apply_hindsight(child, last.info)
        outcome = child.meta.pop("_outcome_reward", None)
        child.outcome_reward = child.total_reward if outcome is None else outcome
        child.final_observation = obs
        child.meta["branch"]["open"] = not done
        return child
    finally:
        _close(env)


def _agent_turns(
    child: Episode, env: Any, agent: Any, obs: str, info: dict[str, Any], max_turns: int
) -> tuple[bool, str]:
    """Let ``agent`` (the rollout Agent protocol) play on from the branch point; returns whether
    the episode ended and the last observation."""

    for _ in range(max_turns):
        (act,) = agent.act([AgentInput(child, obs, info)])
        if act.stop:
            child.error = act.stop
            return True, obs
        new = turn_from_action(len(child.turns), obs, info, act)
        step = env.step(act.action)
        apply_step(new, *step[1:])
        child.turns.append(new)
        obs, info = step[0], step[4]
        if step[2] or step[3]:
            return True, obs
    return False, obs
