"""Schema 1 (one JSON text row per turn plus a header row per episode): read as it is, and migrated.

A readonly open of a schema-1 file reads it in place through ``assemble``; a writable open converts it
to the current schema in one transaction (``migrate``), keeping every episode's id, insertion order
and write time, then reclaims the space. ``write_v1`` writes a schema-1 file the way the old code did;
it exists for the migration tests and as the same-run baseline of ``benchmarks/scale.py``.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from turngym.core.episode import Episode
from turngym.store import codec

_CHUNK = 500
_INT64 = (-(2**63), 2**63 - 1)

V1_DDL = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, created_at REAL NOT NULL,
    config TEXT NOT NULL DEFAULT '{}', meta TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS episodes (
    id INTEGER PRIMARY KEY, episode_id TEXT NOT NULL UNIQUE, run_id TEXT NOT NULL, env_id TEXT NOT NULL,
    task_id TEXT, group_id TEXT, seed, step INTEGER, won INTEGER NOT NULL, outcome_reward REAL, score REAL,
    num_turns INTEGER NOT NULL, invalid_rate REAL NOT NULL, truncated INTEGER NOT NULL, error TEXT,
    parent_id TEXT, created_at REAL NOT NULL, record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_episodes_run ON episodes(run_id, created_at);
CREATE INDEX IF NOT EXISTS ix_episodes_env ON episodes(env_id);
CREATE INDEX IF NOT EXISTS ix_episodes_task ON episodes(task_id);
CREATE INDEX IF NOT EXISTS ix_episodes_group ON episodes(group_id);
CREATE INDEX IF NOT EXISTS ix_episodes_step ON episodes(step);
CREATE INDEX IF NOT EXISTS ix_episodes_reward ON episodes(outcome_reward);
CREATE INDEX IF NOT EXISTS ix_episodes_created ON episodes(created_at);
CREATE INDEX IF NOT EXISTS ix_episodes_parent ON episodes(parent_id);
CREATE TABLE IF NOT EXISTS turns (
    id INTEGER PRIMARY KEY, episode_id TEXT NOT NULL, pos INTEGER NOT NULL, turn_index INTEGER NOT NULL,
    agent TEXT, action TEXT NOT NULL, action_valid INTEGER NOT NULL, reward REAL, record TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS ix_turns_episode ON turns(episode_id, pos);
"""

V1_HEADER = (
    "episode_id", "run_id", "env_id", "task_id", "group_id", "seed", "step", "won", "outcome_reward", "score",
    "num_turns", "invalid_rate", "truncated", "error", "parent_id", "created_at",
)  # fmt: skip


def header_values(episode: Episode) -> list[Any]:
    """The typed header columns shared by schemas 1 and 3 (``created_at`` left as None)."""
    seed = episode.seed
    if seed is not None and not _INT64[0] <= seed <= _INT64[1]:
        seed = str(seed)  # the exact value is in the record; the column keeps it as text
    return [
        episode.episode_id, episode.run_id, episode.env_id, episode.task_id, episode.group_id, seed, episode.step,
        int(bool(episode.won)), episode.outcome_reward, episode.score, len(episode.turns), episode.invalid_rate,
        int(bool(episode.truncated)), episode.error, episode.parent_id, None,
    ]  # fmt: skip


def assemble(
    conn: sqlite3.Connection, rows: Sequence[Sequence[Any]], path: Path, turns_table: str = "turns"
) -> list[Episode]:
    """Validated episodes from schema-1 ``(episode_id, header record, num_turns)`` rows."""
    turns: dict[str, list[str]] = {}
    ids = [row[0] for row in rows]
    for i in range(0, len(ids), _CHUNK):
        chunk = ids[i : i + _CHUNK]
        sql = (
            f"SELECT episode_id, record FROM {turns_table} WHERE episode_id IN ({','.join('?' * len(chunk))}) "
            "ORDER BY episode_id, pos"
        )
        for episode_id, text in conn.execute(sql, chunk):
            turns.setdefault(episode_id, []).append(text)
    episodes = []
    for episode_id, header, num_turns in rows:
        texts = turns.get(episode_id, [])
        if len(texts) != num_turns:
            raise ValueError(f"episode {episode_id} in {path}: {len(texts)} turns stored, header says {num_turns}")
        episodes.append(codec.load_episode(header, texts))
    return episodes


def migrate(
    conn: sqlite3.Connection,
    path: Path,
    create_schema: Callable[[], None],
    insert: Callable[[list[tuple[int, Episode, float]]], None],
    batch: int = 1000,
) -> int:
    """Convert a schema-1 file in the caller's transaction; returns the number of episodes moved.

    The old tables are renamed aside (their indexes dropped: the new ones reuse the names), the
    current schema is created, every episode re-validated and re-encoded in id order (``insert``
    gets ``(id, episode, created_at)``), then the old tables are dropped. ``runs`` is unchanged.
    """
    for (index,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND sql NOT NULL").fetchall():
        conn.execute(f'DROP INDEX "{index}"')
    conn.execute("ALTER TABLE episodes RENAME TO v1_episodes")
    conn.execute("ALTER TABLE turns RENAME TO v1_turns")
    conn.execute("CREATE INDEX v1_ix_turns ON v1_turns(episode_id, pos)")
    create_schema()
    moved, last = 0, 0
    while True:
        rows = conn.execute(
            "SELECT id, created_at, episode_id, record, num_turns FROM v1_episodes WHERE id > ? ORDER BY id LIMIT ?",
            (last, batch),
        ).fetchall()
        if not rows:
            break
        episodes = assemble(conn, [r[2:] for r in rows], path, turns_table="v1_turns")
        insert([(r[0], e, r[1]) for r, e in zip(rows, episodes, strict=True)])
        last = rows[-1][0]
        moved += len(rows)
    conn.execute("DROP TABLE v1_turns")
    conn.execute("DROP TABLE v1_episodes")
    return moved


class V1Writer:
    """Writes episodes in the schema-1 layout exactly as the schema-1 store did (one transaction per
    ``write``, the same duplicate check, rows and indexes), for migration tests and the benchmark."""

    def __init__(self, path: str | Path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = NORMAL")
        self.conn.executescript(V1_DDL)
        self.conn.execute("PRAGMA user_version = 1")

    def write(self, episodes: Sequence[Episode], created_at: float | None = None) -> None:
        headers, turns = [], []
        stamp = time.time() if created_at is None else created_at
        for e in episodes:
            header = header_values(e)
            header[-1] = stamp
            headers.append([*header, codec.dump_header(e)])
            turns.extend(
                (e.episode_id, pos, t.index, t.agent, t.action, int(bool(t.action_valid)), t.reward, codec.dump_turn(t))
                for pos, t in enumerate(e.turns)
            )
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        ids = [h[0] for h in headers]
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i : i + _CHUNK]
            conn.execute(f"SELECT episode_id FROM episodes WHERE episode_id IN ({','.join('?' * len(chunk))})", chunk)
        placeholders = ", ".join("?" * (len(V1_HEADER) + 1))
        conn.executemany(f"INSERT INTO episodes ({', '.join(V1_HEADER)}, record) VALUES ({placeholders})", headers)
        conn.executemany(
            "INSERT INTO turns (episode_id, pos, turn_index, agent, action, action_valid, reward, record) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            turns,
        )
        conn.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()


def write_v1(path: str | Path, batches: Iterable[Sequence[Episode]], created_at: float | None = None) -> None:
    """A schema-1 file of ``batches`` (one transaction each)."""
    writer = V1Writer(path)
    try:
        for batch in batches:
            writer.write(batch, created_at)
    finally:
        writer.close()
