"""Request and response bodies of the replay API (they document it in the OpenAPI spec)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from turngym.core.episode import Episode
from turngym.store import EpisodeSummary


class RunOut(BaseModel):
    run_id: str
    created_at: float | None = None
    num_episodes: int = 0
    config: dict[str, Any] = Field(default_factory=dict)
    meta: dict[str, Any] = Field(default_factory=dict)


class RunsResponse(BaseModel):
    run_dir: str
    runs: list[RunOut]
    env_ids: list[str] = Field(
        description="Env ids present in the store (for the filter menu)."
    )
    num_episodes: int
    checkpoints: list[str] = Field(
        description="Policy checkpoints usable for branching, by name."
    )
    tokenizer: str | None = Field(
        description="Directory whose tokenizer decodes response tokens, if any."
    )
    gamma: float
    gamma_source: str
    readonly: bool


class EpisodePage(BaseModel):
    total: int = Field(description="Episodes matching the filters (all pages).")
    offset: int
    limit: int
    items: list[EpisodeSummary]


class EpisodeRef(BaseModel):
    episode_id: str
    won: bool
    outcome_reward: float
    num_turns: int
    parent_id: str | None = None
    branch_turn: int | None = None


class EpisodeView(BaseModel):
    episode: Episode
    tokens: list[list[str] | None] = Field(
        description="Per turn, the decoded string of each response token (null: no tokenizer or no ids)."
    )
    tokenizer: str | None
    parent: EpisodeRef | None = None
    branches: list[EpisodeSummary] = Field(
        default_factory=list, description="Episodes branched from this one."
    )
    open: bool = Field(
        description="Whether a further action can be appended (branch at turn = num_turns)."
    )
    policy: str | None = Field(
        default=None,
        description="The checkpoint whose weights produced the episode (checkpoints/step_N: after N updates), "
        "when its training step is known; it may no longer be kept (policy_kept).",
    )
    policy_kept: bool = Field(default=False, description="Whether that checkpoint is still in the run directory.")
    advantage_scale: float = Field(
        default=1.0,
        description="Largest |advantage| over the episode's group (the batch its advantages were computed in): "
        "the colour scale, centred on 0, so tiny advantages are not painted as strong ones.",
    )


class AnchorMember(BaseModel):
    episode_id: str
    turn: int
    action: str
    reward: float
    step_return: float
    relative_return: float


class AnchorGroup(BaseModel):
    id: int
    anchor: str
    size: int
    num_episodes: int
    mean_return: float
    members: list[AnchorMember]


class GroupView(BaseModel):
    group_id: str
    episodes: list[Episode] = Field(
        description="The G recorded rollouts of the task (branches excluded)."
    )
    branches: list[EpisodeSummary] = Field(description="Branches of those rollouts.")
    gamma: float
    gamma_source: str
    anchor_groups: list[AnchorGroup]


class MetricsResponse(BaseModel):
    rows: list[dict[str, Any]]
    keys: list[str]
    problems: list[str]


class StepCheckOut(BaseModel):
    turn: int
    action: str
    matches: bool
    mismatches: list[str]
    recorded_observation: str | None = None
    replayed_observation: str | None = None


class ReplayReport(BaseModel):
    episode_id: str
    match: bool = Field(
        description="Every replayed observation, reward, done flag and info equals the record."
    )
    checked_turns: int
    steps: list[StepCheckOut]
    error: str | None = None
    duration_s: float
    final_observation: str | None = None


class BranchRequest(BaseModel):
    """Branch at ``turn`` (0-based turn index) with a typed ``action`` or a ``policy`` checkpoint."""

    model_config = ConfigDict(
        extra="forbid",
        # documents the "exactly one of" rule that _one_source enforces
        json_schema_extra={
            "oneOf": [{"required": ["action"]}, {"required": ["policy"]}]
        },
    )

    turn: int = Field(ge=0, le=1_000_000)
    action: str | None = Field(default=None, max_length=10_000)
    policy: str | None = Field(
        default=None, max_length=1_000, description="Checkpoint name from /api/runs."
    )
    max_turns: int = Field(
        default=20, ge=1, le=200, description="With a policy: new turns at most."
    )

    @model_validator(mode="after")
    def _one_source(self) -> BranchRequest:
        if (self.action is None) == (self.policy is None):
            raise ValueError(
                "give exactly one of 'action' (a typed action) or 'policy' (a checkpoint name)"
            )
        return self


class BranchResponse(BaseModel):
    episode_id: str
    parent_id: str
    branch_turn: int
    num_turns: int
    done: bool
    final_observation: str | None
    summary: EpisodeSummary


class ErrorBody(BaseModel):
    detail: str


class ValidationErrorBody(BaseModel):
    """FastAPI's request-validation error: one entry per problem (``loc``, ``msg``, ``type``)."""

    detail: list[dict[str, Any]]
