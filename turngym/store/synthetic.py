"""Synthetic but realistically shaped episodes for store tests, benchmarks and viewer demos.

Shape follows a step-rows rollout on a small text env: ~8 turns, a prompt of a few hundred token
ids, a response of tens of tokens with logprobs and a loss mask, groups of G rollouts per task,
some invalid actions and truncations. ``unusual=True`` adds the values that break naive
serialisation (NaN/±inf, non-ASCII text, 128-bit seeds, per-token advantages, nested ``info``),
so round-trip tests exercise them.
"""

from __future__ import annotations

import random

import numpy as np

from turngym.core.episode import Episode, Turn

_WORDS = tuple("north south east west key door room take open go look the a of in you see".split())  # noqa: SIM905


def synthetic_turn(rng: random.Random, index: int, *, unusual: bool = False) -> Turn:
    n_prompt = rng.randint(120, 320)
    n_resp = rng.randint(8, 48)
    valid = rng.random() > 0.15
    tokens = np.random.default_rng(rng.getrandbits(64))  # numpy: bulk token lists are 50x cheaper
    logprobs = (-3 * tokens.random(n_resp)).tolist()
    turn = Turn(
        index=index,
        observation=" ".join(rng.choices(_WORDS, k=rng.randint(10, 40))),
        anchor=f"room-{rng.randint(0, 8)}:key={rng.random() < 0.5}",
        prompt=tokens.integers(0, 50_000, n_prompt).tolist(),
        response_text=" ".join(rng.choices(_WORDS, k=max(1, n_resp // 2))),
        response_token_ids=tokens.integers(0, 50_000, n_resp).tolist(),
        rollout_logprobs=logprobs,
        loss_mask=[1] * n_resp,
        action=f"go {rng.choice(['north', 'south', 'east', 'west'])}",
        action_valid=valid,
        reward=0.0 if valid else -0.05,
        info={"admissible_actions": ["look", "go north", "go south"], "action_valid": valid},
        meta={"gen_time_s": rng.random() / 10, "finish_reason": "stop"},
    )
    if unusual:
        turn.observation = "Ünïcødé 🗝️ \u0000 ctrl \x1b[31m and \\ quotes \" ' \n newline"
        turn.prompt = [{"role": "system", "content": "be brief"}, {"role": "user", "content": turn.observation}]
        turn.rollout_logprobs = [float("-inf"), -0.0, 5e-324, 1.7976931348623157e308, *logprobs]
        turn.response_token_ids = [1, 2, 3, 4, *turn.response_token_ids]  # type: ignore[misc]
        turn.loss_mask = [0, 1, 0, 1, *turn.loss_mask]  # type: ignore[misc]
        turn.advantage = [rng.random() - 0.5 for _ in range(len(turn.loss_mask))]
        turn.tool_calls = [{"name": "calc", "arguments": {"expr": "1/3", "nested": [1, [2, {"x": None}]]}}]
        turn.info = {"nan": float("nan"), "inf": float("inf"), "big": 2**80, "unicode": "日本語"}
        turn.agent = "solver"
    return turn


def synthetic_episode(
    rng: random.Random,
    *,
    run_id: str = "run-0",
    env_id: str = "KeyDoor-v0",
    task_id: str | None = None,
    group_id: str | None = None,
    step: int | None = None,
    num_turns: int | None = None,
    unusual: bool = False,
) -> Episode:
    n = rng.randint(4, 12) if num_turns is None else num_turns
    turns = [synthetic_turn(rng, i, unusual=unusual and i == 0) for i in range(n)]
    won = rng.random() < 0.4
    truncated = not won and rng.random() < 0.5
    episode = Episode(
        run_id=run_id,
        env_id=env_id,
        task_id=task_id if task_id is not None else f"task-{rng.randrange(500)}",
        group_id=group_id,
        seed=rng.randrange(2**31),
        turns=turns,
        outcome_reward=1.0 if won else 0.0,
        won=won,
        score=float(won),
        terminated=won,
        truncated=truncated,
        step=step,
        meta={"policy_version": step, "rollout_time_s": rng.random()},
    )
    if turns:
        turns[-1].reward += episode.outcome_reward
        turns[-1].terminated, turns[-1].truncated = won, truncated
    if unusual:
        episode.seed = 2**127 + 12345
        episode.meta = {"nan": float("nan"), "note": "ünïcødé", "nested": {"a": [1, 2.5, None]}}
        episode.reset_options = {"task_id": episode.task_id, "split": "test"}
        episode.env_kwargs = {"size": 3, "hint": False}
        episode.score = None
        episode.error = "worker crashed: SIGKILL"
    return episode


def synthetic_episodes(
    n: int,
    *,
    seed: int = 0,
    group_size: int = 8,
    run_id: str = "run-0",
    env_id: str = "KeyDoor-v0",
    steps: int = 1,
    unusual_every: int = 0,
) -> list[Episode]:
    """``n`` episodes in groups of ``group_size`` (one task per group) spread over ``steps`` steps."""
    rng = random.Random(seed)
    episodes = []
    for i in range(n):
        g = i // group_size
        episodes.append(
            synthetic_episode(
                rng,
                run_id=run_id,
                env_id=env_id,
                task_id=f"task-{g % 97}",
                group_id=f"{run_id}-g{g}",
                step=(i * steps) // max(n, 1),
                unusual=bool(unusual_every) and i % unusual_every == 0,
            )
        )
    return episodes
