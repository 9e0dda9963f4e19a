"""The episode record: the one data structure every layer after the rollout reads.

An ``Episode`` is one rollout of one task; its ``Turn`` s hold what the env showed, what the policy
saw and produced (text, token ids, logprobs, loss mask), what the env made of it, and the fields
training fills in later (advantage, clip scale, trainer logprobs, ...). Everything downstream
(estimators, losses, the store, the replay viewer) reads only this record, so a field added here is
visible everywhere without touching the envs.

Both rollout layouts share the schema (DESIGN.md §3.2):
- *step rows*: each turn is its own training sample; ``Turn.prompt`` is the prompt of that turn.
- *concatenated*: one growing transcript per episode; ``Turn.prompt`` holds the transcript before
  the turn and the env tokens carry ``loss_mask`` 0. ``Episode.layout`` says which one was used.

Models are pydantic so that they validate on load from the store and serialise to JSON in one call.
"""

from __future__ import annotations

import secrets
import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: What the policy saw: chat messages, a rendered string, or token ids.
Prompt = list[dict[str, Any]] | str | list[int] | None
#: A per-turn scalar or a per-token list (algorithms such as REINFORCE++ need per-token values).
TurnOrTokens = float | list[float] | None


def new_id() -> str:
    """A 32-hex-character random id; uuid4 so that ids from parallel workers never collide."""
    return uuid.uuid4().hex


def new_episode_id() -> str:
    """A 32-hex-character id that sorts by creation time: 48-bit Unix milliseconds, then 80 random bits.

    UUIDv7-style so that the store's id index grows at its right edge (inserts stay local instead of
    touching a random B-tree page each), while 80 random bits keep parallel workers from colliding.
    """
    return f"{time.time_ns() // 1_000_000:012x}{secrets.token_hex(10)}"


class Turn(BaseModel):
    """One agent action and the env's answer to it."""

    model_config = ConfigDict(extra="forbid", validate_assignment=False)

    index: int = Field(ge=0, description="Position of the turn inside the episode (0-based).")
    agent: str | None = Field(default=None, description="Acting agent in multi-agent envs.")
    observation: str = Field(default="", description="Env text shown before the agent acted.")
    anchor: str | None = Field(
        default=None, description="Raw env state text used to group identical states (GiGPO)."
    )
    prompt: Prompt = Field(default=None, description="What the policy saw.")
    prompt_token_ids: list[int] | None = None
    response_text: str = Field(default="", description="Raw policy output for this turn.")
    response_token_ids: list[int] | None = None
    rollout_logprobs: list[float] | None = Field(
        default=None, description="Logprob of each response token under the rollout policy."
    )
    loss_mask: list[int] | None = Field(
        default=None, description="1 on policy-generated tokens, 0 on env/tool tokens."
    )
    action: str = Field(default="", description="Parsed action sent to the env.")
    action_valid: bool = True
    reward: float = 0.0
    terminated: bool = False
    truncated: bool = False
    tool_calls: list[dict[str, Any]] | None = None
    info: dict[str, Any] = Field(default_factory=dict)
    meta: dict[str, Any] = Field(default_factory=dict, description="Timings, finish reason, ...")

    # Filled by training.
    advantage: TurnOrTokens = None
    clip_scale: float | None = None
    trainer_logprobs: list[float] | None = None
    step_reward: float | None = Field(default=None, description="Learned step reward (OPRL).")
    info_gain: float | None = Field(default=None, description="Information gain (A²TGPO).")
    entropy: float | None = Field(default=None, description="Mean token entropy (AEM).")

    @field_validator("loss_mask")
    @classmethod
    def _mask_is_binary(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and any(m not in (0, 1) for m in value):
            raise ValueError("loss_mask holds only 0 and 1")
        return value


class Episode(BaseModel):
    """One rollout of one task, with the G rollouts of a task sharing ``group_id``."""

    model_config = ConfigDict(extra="forbid")

    episode_id: str = Field(default_factory=new_episode_id)
    run_id: str = ""
    env_id: str
    task_id: str | None = None
    group_id: str | None = None
    seed: int | None = None
    layout: Literal["step", "concat"] = "step"
    turns: list[Turn] = Field(default_factory=list)
    final_observation: str | None = Field(
        default=None, description="Env text returned by the last step (what no turn shows)."
    )
    outcome_reward: float = 0.0
    won: bool = False
    score: float | None = None
    terminated: bool = False
    truncated: bool = False
    error: str | None = Field(default=None, description="Why the episode ended abnormally.")
    step: int | None = Field(default=None, description="Training step that produced it.")
    parent_id: str | None = Field(default=None, description="Episode this one branches from.")
    branch_turn: int | None = Field(default=None, description="Turn index where it branched.")
    reset_options: dict[str, Any] = Field(
        default_factory=dict, description="Options passed to reset(); with seed, re-creates it."
    )
    env_kwargs: dict[str, Any] = Field(default_factory=dict, description="Kwargs of make().")
    meta: dict[str, Any] = Field(default_factory=dict)
    # last, so records written before it existed read and re-export as a suffix (',"tag":null')
    tag: str | None = Field(
        default=None,
        description="Why the episode is not training data: 'eval' (held-out evaluation), 'branch' (made in the viewer). None = training data.",
    )

    @property
    def num_turns(self) -> int:
        return len(self.turns)

    @property
    def total_reward(self) -> float:
        return float(sum(t.reward for t in self.turns))

    @property
    def invalid_rate(self) -> float:
        if not self.turns:
            return 0.0
        return sum(not t.action_valid for t in self.turns) / len(self.turns)

    @property
    def actions(self) -> list[str]:
        return [t.action for t in self.turns]

    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_json(cls, text: str | bytes) -> Episode:
        return cls.model_validate_json(text)


def summarize(episodes: list[Episode], prefix: str = "") -> dict[str, float]:
    """Batch statistics every report shows (trainer metrics, rollout summaries), named alike.

    ``prefix`` namespaces the keys (``"train"`` → ``train/success``).
    """
    n = max(len(episodes), 1)
    turns = sum(e.num_turns for e in episodes)
    stats = {
        "episodes": float(len(episodes)),
        "success": sum(e.won for e in episodes) / n,
        "reward_mean": sum(e.outcome_reward for e in episodes) / n,
        "turns": float(turns),
        "turns_mean": turns / n,
        "invalid_rate": sum(not t.action_valid for e in episodes for t in e.turns) / max(turns, 1),
        "errors": float(sum(e.error is not None for e in episodes)),
        "response_tokens": float(sum(len(t.response_token_ids or []) for e in episodes for t in e.turns)),
    }
    return {f"{prefix}/{k}" if prefix else k: v for k, v in stats.items()}
