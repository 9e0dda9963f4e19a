"""The on-disk layout of a run's episode database and the light row types read from it.

Each episode is one compressed payload (``turngym.store.payload``: exact, nothing is dropped); the
fields people filter and sort on are duplicated into typed, indexed columns so the viewer and the
trainer never decode payloads to select. ``PRAGMA user_version`` carries the layout version so a
newer file is refused instead of misread and an older one (``LEGACY_VERSIONS``) is read as it is or
migrated (``turngym.store.legacy``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

#: Bump when the table layout changes; files with a higher version are refused, lower ones migrated.
SCHEMA_VERSION = 3
#: Versions this code reads as they are (readonly) and converts on a writable open.
LEGACY_VERSIONS = (1,)

#: Applied to a new file before any table exists (``page_size`` cannot change afterwards without a
#: VACUUM): 64 KiB pages hold many compressed episode payloads (typically 3-10 KB) each, without
#: overflow chains. Measured on 8k synthetic episodes (~7.6 KB payloads): 64 KiB 1,111 B/turn,
#: 16 KiB 1,391 (partly filled pages and overflow tails), 4 KiB 1,122 and no faster to write.
NEW_FILE_PRAGMAS = ("PRAGMA page_size = 65536", "PRAGMA auto_vacuum = NONE")

# Schema 3. ``episodes`` holds the typed header columns (dense rows, so scans and index lookups read
# no payload bytes); ``payloads`` the compressed episode (``turngym.store.payload``), keyed by the
# same integer id; ``turns`` a small index of turn headers (no texts); ``counts`` the number of
# episodes per (run, env, won, tag), kept by triggers so counts and the run list never scan.
# Indexes exist only for filters and orders the viewer and the trainer use; ``ix_episodes_won``
# serves outcome-filtered pages (``won=`` with the default order) and ``tag`` is indexed with its run.
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
    tag             TEXT
);
CREATE INDEX IF NOT EXISTS ix_episodes_run ON episodes(run_id, created_at);
CREATE INDEX IF NOT EXISTS ix_episodes_created ON episodes(created_at);
CREATE INDEX IF NOT EXISTS ix_episodes_won ON episodes(won, created_at);
CREATE INDEX IF NOT EXISTS ix_episodes_reward ON episodes(outcome_reward);
CREATE INDEX IF NOT EXISTS ix_episodes_task ON episodes(task_id);
CREATE INDEX IF NOT EXISTS ix_episodes_group ON episodes(group_id);
CREATE INDEX IF NOT EXISTS ix_episodes_step ON episodes(step);
CREATE INDEX IF NOT EXISTS ix_episodes_parent ON episodes(parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS ix_episodes_tag ON episodes(run_id, tag) WHERE tag IS NOT NULL;
CREATE TABLE IF NOT EXISTS payloads (
    id      INTEGER PRIMARY KEY,
    data    BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS turns (
    episode_id   TEXT NOT NULL,
    pos          INTEGER NOT NULL,
    turn_index   INTEGER NOT NULL,
    action_valid INTEGER NOT NULL,
    reward       REAL,
    PRIMARY KEY (episode_id, pos)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS counts (
    run_id  TEXT NOT NULL,
    env_id  TEXT NOT NULL,
    won     INTEGER NOT NULL,
    tag     TEXT NOT NULL,  -- '' for untagged
    n       INTEGER NOT NULL,
    PRIMARY KEY (run_id, env_id, won, tag)
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS tr_counts_insert AFTER INSERT ON episodes BEGIN
    INSERT INTO counts (run_id, env_id, won, tag, n) VALUES (new.run_id, new.env_id, new.won, ifnull(new.tag, ''), 1)
    ON CONFLICT DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS tr_counts_delete AFTER DELETE ON episodes BEGIN
    UPDATE counts SET n = n - 1
    WHERE run_id = old.run_id AND env_id = old.env_id AND won = old.won AND tag = ifnull(old.tag, '');
    DELETE FROM counts
    WHERE run_id = old.run_id AND env_id = old.env_id AND won = old.won AND tag = ifnull(old.tag, '') AND n <= 0;
    DELETE FROM payloads WHERE id = old.id;
    DELETE FROM turns WHERE episode_id = old.episode_id;
END;
CREATE TRIGGER IF NOT EXISTS tr_counts_update AFTER UPDATE OF run_id, env_id, won, tag ON episodes BEGIN
    UPDATE counts SET n = n - 1
    WHERE run_id = old.run_id AND env_id = old.env_id AND won = old.won AND tag = ifnull(old.tag, '');
    DELETE FROM counts
    WHERE run_id = old.run_id AND env_id = old.env_id AND won = old.won AND tag = ifnull(old.tag, '') AND n <= 0;
    INSERT INTO counts (run_id, env_id, won, tag, n) VALUES (new.run_id, new.env_id, new.won, ifnull(new.tag, ''), 1)
    ON CONFLICT DO UPDATE SET n = n + 1;
END
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
)
#: What ``EpisodeSummary`` is built from: the header columns and the tag (NULL in schema-1 files).
SUMMARY_COLUMNS = (*HEADER_COLUMNS, "tag")

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
