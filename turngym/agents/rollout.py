"""The rollout engine: play B tasks × G rollouts with one agent and record ``Episode`` s.

Episodes run in the slots of a ``VectorTextEnv``; a slot that finishes takes the next queued
episode at once, so a long episode never holds up the short ones. The agent is called on a batch of
all episodes waiting for an action, as soon as enough of them are waiting (``min_batch_fraction``
of the active ones, or all when no env result is outstanding), which overlaps generation with the
env steps of the other slots.

Failures are recorded, not raised: an env worker crash or an agent exception ends only the affected
episodes, with ``error`` set and ``truncated=True``; the rest of the batch goes on. Finished episodes
are written to the store in small atomic batches, so what finished before a crash is kept.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from turngym.agents.base import Agent, AgentAction, AgentInput
from turngym.core.episode import Episode, Turn, new_id
from turngym.envs.vector import EnvResult, VectorTextEnv


@dataclass
class TaskSpec:
    """One task, fixed by a seed and/or reset options (e.g. ``{"task_id": ...}``)."""

    seed: int | None = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Live:
    episode: Episode
    observation: str = ""
    info: dict[str, Any] = field(default_factory=dict)
    turn_start: float = 0.0


class RolloutEngine:
    """Runs episodes of one env id with one agent. Reuse it across training steps."""

    def __init__(
        self,
        env_id: str,
        agent: Agent,
        *,
        env_kwargs: dict[str, Any] | None = None,
        num_envs: int = 16,
        num_workers: int | None = 0,
        timeout: float = 60.0,
        min_batch_fraction: float = 0.5,
    ) -> None:
        if not 0.0 < min_batch_fraction <= 1.0:
            raise ValueError(f"min_batch_fraction must be in (0, 1], got {min_batch_fraction}")
        self.agent = agent
        self.env_kwargs = {**dict(env_kwargs or {}), **getattr(agent, "env_requirements", {})}
        self.venv = VectorTextEnv(env_id, num_envs, env_kwargs=self.env_kwargs, num_workers=num_workers, timeout=timeout)
        self.env_id = self.venv.env_id
        self.min_batch_fraction = min_batch_fraction

    def close(self) -> None:
        self.venv.close()

    def __enter__(self) -> RolloutEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- running --------------------------------------------------------------------------------
    def run(
        self,
        tasks: Sequence[TaskSpec],
        *,
        group_size: int = 1,
        run_id: str = "",
        step: int | None = None,
        store: Any = None,
        write_every: int = 32,
        on_episode: Callable[[Episode], None] | None = None,
    ) -> list[Episode]:
        """Play every task ``group_size`` times; returns episodes in (task, member) order."""
        if group_size < 1:
            raise ValueError(f"group_size must be >= 1, got {group_size}")
        queue: deque[Episode] = deque()
        layout = getattr(self.agent, "layout", "step")  # LLM agents record which history layout they use
        for task_index, task in enumerate(tasks):
            group_id = new_id()
            for member in range(group_size):
                queue.append(
                    Episode(
                        run_id=run_id,
                        env_id=self.env_id,
                        group_id=group_id,
                        seed=task.seed,
                        layout=layout,
                        reset_options=dict(task.options),
                        env_kwargs=dict(self.env_kwargs),
                        step=step,
                        # stable identity inside the run, e.g. for per-episode sampling seeds
                        # group_size marks the group complete or not: a run killed mid-group leaves fewer
                        # stored members, and TurnTable.from_episodes skips such a group
                        meta={"task_index": task_index, "member": member, "group_size": group_size},
                    )
                )
        ordered = list(queue)
        live: dict[int, _Live] = {}
        waiting: list[int] = []  # slots whose episode awaits an action
        unwritten: list[Episode] = []
        free = list(range(self.venv.num_envs))

        def finish(slot: int, error: str | None = None) -> None:
            state = live.pop(slot)
            ep = state.episode
            ep.error = error or ep.error
            if error:
                ep.truncated = True
            outcome = ep.meta.pop("_outcome_reward", None)
            ep.outcome_reward = ep.total_reward if outcome is None else outcome
            ep.meta["wall_s"] = round(time.monotonic() - ep.meta.pop("_t0", time.monotonic()), 6)
            free.append(slot)
            unwritten.append(ep)
            if on_episode is not None:
                on_episode(ep)
            if store is not None and len(unwritten) >= write_every:
                store.write(unwritten)
                unwritten.clear()

        def start_free_slots() -> None:
            while free and queue:
                slot = free.pop()
                ep = queue.popleft()
                ep.meta["_t0"] = time.monotonic()
                live[slot] = _Live(ep)
                self.venv.send_reset(slot, ep.seed, ep.reset_options or None)

        while live or queue:
            start_free_slots()
            for slot, result in self.venv.recv():
                self._on_result(slot, result, live, waiting, finish)
            start_free_slots()
            active = len(live)
            if waiting and (self.venv.in_flight == 0 or len(waiting) >= self.min_batch_fraction * active):
                batch, waiting[:] = list(waiting), []
                self._act(batch, live, finish)
        if store is not None and unwritten:
            store.write(unwritten)
        return ordered

    def _on_result(self, slot: int, result: EnvResult, live: dict[int, _Live], waiting: list[int], finish: Callable[..., None]) -> None:
        state = live[slot]
        ep = state.episode
        if result.error:
            if ep.turns and ep.turns[-1].meta.pop("pending", False):
                ep.turns[-1].meta.pop("_sent", None)
                ep.turns[-1].action_valid = False
                ep.turns[-1].info = result.info
            finish(slot, result.error)
            return
        if ep.turns and ep.turns[-1].meta.pop("pending", False):
            turn = ep.turns[-1]
            apply_step(turn, result.reward, result.terminated, result.truncated, result.info)
            turn.meta["env_s"] = round(time.monotonic() - turn.meta.pop("_sent"), 6)
            if result.done:
                ep.final_observation = result.observation
                ep.terminated, ep.truncated = result.terminated, result.truncated
                ep.won = bool(result.info.get("won", False))
                apply_hindsight(ep, result.info)
                if "score" in result.info:
                    ep.score = float(result.info["score"])
                finish(slot)
                return
        else:  # reset result
            ep.task_id = result.info.get("task_id") or None
        state.observation, state.info = result.observation, result.info
        state.turn_start = time.monotonic()
        waiting.append(slot)

    def _act(self, slots: list[int], live: dict[int, _Live], finish: Callable[..., None]) -> None:
        inputs = [AgentInput(live[s].episode, live[s].observation, live[s].info) for s in slots]
        t0 = time.monotonic()
        try:
            actions = self.agent.act(inputs)
            if len(actions) != len(inputs):
                raise RuntimeError(f"agent returned {len(actions)} actions for {len(inputs)} inputs")
        except Exception as exc:  # a failing backend ends these episodes, not the rollout
            for s in slots:
                finish(s, f"agent failed: {type(exc).__name__}: {exc}")
            return
        agent_s = (time.monotonic() - t0) / max(len(slots), 1)
        for slot, act in zip(slots, actions):
            state = live[slot]
            ep = state.episode
            if act.stop:
                finish(slot, act.stop)
                continue
            ep.turns.append(turn_from_action(len(ep.turns), state.observation, state.info, act, pending=True, agent_s=round(agent_s, 6)))
            ep.turns[-1].meta["_sent"] = time.monotonic()
            self.venv.send_step(slot, act.action)


def turn_from_action(index: int, observation: str, info: dict[str, Any], act: AgentAction, **meta: Any) -> Turn:
    """The ``Turn`` recording an agent's action on ``observation`` (before the env's answer), with
    the actions that were admissible then; the rollout engine and replay branches share it."""
    return Turn(
        index=index,
        agent=info.get("agent"),
        observation=observation,
        anchor=info.get("anchor"),
        prompt=act.prompt,
        prompt_token_ids=act.prompt_token_ids,
        response_text=act.action if act.response_text is None else act.response_text,
        response_token_ids=act.response_token_ids,
        rollout_logprobs=act.rollout_logprobs,
        loss_mask=act.loss_mask,
        action=act.action,
        action_valid=act.parsed,
        entropy=act.entropy,
        meta={
            **act.meta,
            **meta,
            **({"admissible_actions": info["admissible_actions"]} if "admissible_actions" in info else {}),
        },
    )


def apply_step(turn: Turn, reward: float, terminated: bool, truncated: bool, info: dict[str, Any]) -> None:
    """Record the env's answer to a turn's action on the turn (validity: parsed *and* accepted)."""
    turn.reward = float(reward)
    turn.terminated, turn.truncated = bool(terminated), bool(truncated)
    turn.action_valid = turn.action_valid and bool(info.get("action_valid", True))
    turn.tool_calls = info.get("tool_calls")
    turn.info = info


def apply_hindsight(ep: Episode, info: dict[str, Any]) -> bool:
    """Rewards an env can only assign once the episode is over (a multi-agent discussion's
    per-(turn, agent) credit): ``info["turn_rewards"]`` on the final step, one float per turn,
    replaces the turns' rewards, and ``info["outcome_reward"]`` (optional) becomes the episode's
    outcome instead of the sum of turn rewards. Each turn keeps its step reward in
    ``meta["env_reward"]`` (a re-run of the episode reproduces that one). A list of the wrong length or with a non-number is
    ignored (recorded in ``meta["hindsight_error"]``), never raised. Returns whether it applied."""
    rewards = info.get("turn_rewards")
    if rewards is None:
        return False
    try:
        values = [float(r) for r in rewards]
        if len(values) != len(ep.turns) or not all(math.isfinite(v) for v in values):
            raise ValueError(f"{len(values)} finite rewards for {len(ep.turns)} turns expected")
        outcome = info.get("outcome_reward")
        outcome = None if outcome is None else float(outcome)
    except (TypeError, ValueError) as exc:
        ep.meta["hindsight_error"] = str(exc)
        return False
    for turn, value in zip(ep.turns, values):
        turn.meta["env_reward"] = turn.reward  # what step() returned: replay checks re-runs against it
        turn.reward = value
    if outcome is not None:
        ep.meta["_outcome_reward"] = outcome
    return True


def make_tasks(n: int, *, seed: int = 0, split: str | None = None) -> list[TaskSpec]:
    """``n`` tasks with consecutive seeds from ``seed`` (and a split option when given)."""
    options = {"split": split} if split else {}
    return [TaskSpec(seed=seed + i, options=dict(options)) for i in range(n)]
