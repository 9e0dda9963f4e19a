"""The on-disk layout of a run's episode database and the light row types read from it.

Whole records live as JSON text (one row per turn, one header row per episode) so nothing is lost;
the fields people filter and sort on are duplicated into typed, indexed columns so the viewer and
the trainer never parse JSON to select. ``PRAGMA user_version`` carries the layout version so a
newer file is refused instead of misread.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

#: Bump when the table layout changes; files with a higher version are refused. Version 2 added
#: the ``tag`` column (eval and viewer-branch episodes; NULL = training data); a version-1 file is
#: upgraded in place when opened for writing and read through a view (tag NULL) when read-only.
SCHEMA_VERSION = 2

DDL = """
CREATE TABLE IF NOT EXISTS runs (
    run_id      TEXT PRIMARY KEY,
    created_at  REAL NOT NULL,
    config      TEXT NOT NULL DEFAULT '{}',
    meta        TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS episodes (
    id              INTEGER PRIMARY KEY,
    episode_id      TEXT NOT NULL UNIQUE,
    run_id          TEXT NOT NULL,
    env_id          TEXT NOT NULL,
    task_id         TEXT,
    group_id        TEXT,
    seed,           -- no type: huge seeds (numpy SeedSequence) stay exact as text
    step            INTEGER,
    won             INTEGER NOT NULL,
    outcome_reward  REAL,
    score           REAL,
    num_turns       INTEGER NOT NULL,
    invalid_rate    REAL NOT NULL,
    truncated       INTEGER NOT NULL,
    error           TEXT,
    parent_id       TEXT,
    created_at      REAL NOT NULL,
    record          TEXT NOT NULL,
    tag             TEXT
);
CREATE INDEX IF NOT EXISTS ix_episodes_run ON episodes(run_id, created_at);
CREATE INDEX IF NOT EXISTS ix_episodes_env ON episodes(env_id);
CREATE INDEX IF NOT EXISTS ix_episodes_task ON episodes(task_id);
CREATE INDEX IF NOT EXISTS ix_episodes_group ON episodes(group_id);
CREATE INDEX IF NOT EXISTS ix_episodes_step ON episodes(step);
CREATE INDEX IF NOT EXISTS ix_episodes_reward ON episodes(outcome_reward);
CREATE INDEX IF NOT EXISTS ix_episodes_created ON episodes(created_at);
CREATE INDEX IF NOT EXISTS ix_episodes_parent ON episodes(parent_id);
CREATE INDEX IF NOT EXISTS ix_episodes_tag ON episodes(tag);
CREATE TABLE IF NOT EXISTS turns (
    id           INTEGER PRIMARY KEY,
    episode_id   TEXT NOT NULL,
    pos          INTEGER NOT NULL,
    turn_index   INTEGER NOT NULL,
    agent        TEXT,
    action       TEXT NOT NULL,
    action_valid INTEGER NOT NULL,
    reward       REAL,
    record       TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS ix_turns_episode ON turns(episode_id, pos);
"""

#: Typed header columns of ``episodes``, in the order ``EpisodeSummary`` is built from.
HEADER_COLUMNS = (
    "episode_id",
    "run_id",
    "env_id",
    "task_id",
    "group_id",
    "seed",
    "step",
    "won",
    "outcome_reward",
    "score",
    "num_turns",
    "invalid_rate",
    "truncated",
    "error",
    "parent_id",
    "created_at",
    "tag",
)

#: Columns ``order_by`` accepts; a whitelist because the name is spliced into SQL.
ORDER_COLUMNS = ("created_at", "outcome_reward", "num_turns", "step", "invalid_rate", "task_id")


class EpisodeSummary(BaseModel):
    """An episode's header without its turns: what a list view needs, at a fraction of the cost."""

    model_config = ConfigDict(frozen=True)

    episode_id: str
    run_id: str
    env_id: str
    task_id: str | None = None
    group_id: str | None = None
    seed: int | None = None
    step: int | None = None
    won: bool = False
    outcome_reward: float = 0.0
    score: float | None = None
    num_turns: int = 0
    invalid_rate: float = 0.0
    truncated: bool = False
    error: str | None = None
    parent_id: str | None = None
    created_at: float = Field(description="Unix time (s) at which the store wrote the episode.")
    tag: str | None = Field(default=None, description="'eval', 'branch', ...; None = training data.")


class RunInfo(BaseModel):
    """One run of the store: its config and how many episodes it holds so far."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    created_at: float
    config: dict[str, Any] = Field(default_factory=dict)
    meta: dict[str, Any] = Field(default_factory=dict)
    num_episodes: int = 0


#: Upgrade of a version-1 file (the one change since: the ``tag`` column).
MIGRATE_V1 = (
    "ALTER TABLE episodes ADD COLUMN tag TEXT",
    "CREATE INDEX IF NOT EXISTS ix_episodes_tag ON episodes(tag)",
)
#: A version-1 file opened read-only cannot be altered: a temporary view (temp names shadow main
#: ones) shows it with ``tag`` NULL, so every query runs unchanged.
READONLY_V1_VIEW = "CREATE TEMP VIEW episodes AS SELECT *, NULL AS tag FROM main.episodes"
