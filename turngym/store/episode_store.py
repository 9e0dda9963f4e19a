"""``EpisodeStore``: one SQLite file per run that the rollout, the trainer and the viewer share.

Why SQLite in WAL mode: one writer (rollout/trainer) and any number of readers (the viewer, a
notebook) in other processes work at once without a server, and every ``write`` is one transaction,
so a writer killed at any instant leaves only whole episodes. ``synchronous=NORMAL`` keeps that
guarantee for process crashes (a power cut may lose the last transactions, never corrupt the file)
at a fraction of the fsync cost.

The store is append-only for episodes: after a write only the trainer's fields change
(``update_training_fields``); a branch is a new episode with ``parent_id``. The one removal,
``delete``, exists for a trainer resuming from a checkpoint, which drops the steps it lost.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from turngym.core.episode import Episode
from turngym.store import codec, exchange
from turngym.store.filters import limit_clause, order_clause, where_clause
from turngym.store.schema import (
    DDL,
    HEADER_COLUMNS,
    MIGRATE_V1,
    READONLY_V1_VIEW,
    SCHEMA_VERSION,
    EpisodeSummary,
    RunInfo,
)

DB_NAME = "episodes.db"
_DB_SUFFIXES = (".db", ".sqlite", ".sqlite3")
_CHUNK = 500  # ids per "IN (...)" query, well under SQLite's variable limit
_INT64 = (-(2**63), 2**63 - 1)
_CREATED_AT = HEADER_COLUMNS.index("created_at")

OnDuplicate = Literal["error", "ignore"]


class DuplicateEpisodeError(ValueError):
    """``write`` got an ``episode_id`` that is already stored (or twice in one call)."""

    def __init__(self, episode_ids: Sequence[str], path: Path) -> None:
        self.episode_ids = list(episode_ids)
        shown = ", ".join(self.episode_ids[:5]) + (" ..." if len(self.episode_ids) > 5 else "")
        super().__init__(
            f"{len(self.episode_ids)} episode id(s) already in {path} or repeated in the batch: {shown}; "
            "nothing was written (pass on_duplicate='ignore' to skip them)"
        )


def resolve_db_path(path: str | os.PathLike[str]) -> Path:
    """A run directory maps to ``RUN_DIR/episodes.db``; a ``*.db`` (or existing file) is used as is."""
    p = Path(path)
    if p.is_dir():
        return p / DB_NAME
    if p.exists() or p.suffix in _DB_SUFFIXES:
        return p
    return p / DB_NAME


class _Rows:
    """An episode encoded for insertion: its header row and its turn rows."""

    __slots__ = ("episode_id", "header", "turns")

    def __init__(self, episode: Episode) -> None:
        try:
            header_json = codec.dump_header(episode)
            turn_jsons = [codec.dump_turn(t) for t in episode.turns]
        except codec.EncodeError as exc:
            raise codec.EncodeError(f"episode {episode.episode_id}: {exc}") from exc
        seed = episode.seed
        if seed is not None and not _INT64[0] <= seed <= _INT64[1]:
            seed = str(seed)  # the exact value is in the record; the column keeps it as text
        self.episode_id = episode.episode_id
        self.header = [
            episode.episode_id,
            episode.run_id,
            episode.env_id,
            episode.task_id,
            episode.group_id,
            seed,
            episode.step,
            int(bool(episode.won)),
            episode.outcome_reward,
            episode.score,
            len(episode.turns),
            episode.invalid_rate,
            int(bool(episode.truncated)),
            episode.error,
            episode.parent_id,
            None,  # created_at, set at insertion
            episode.tag,
            header_json,
        ]
        self.turns = [
            (episode.episode_id, pos, t.index, t.agent, t.action, int(bool(t.action_valid)), t.reward, text)
            for pos, (t, text) in enumerate(zip(episode.turns, turn_jsons, strict=True))
        ]


def _check_on_duplicate(on_duplicate: str) -> None:
    if on_duplicate not in ("error", "ignore"):
        raise ValueError(f"on_duplicate must be 'error' or 'ignore', got {on_duplicate!r}")


def _as_episode_list(episodes: Episode | Iterable[Episode]) -> list[Episode]:
    items = [episodes] if isinstance(episodes, Episode) else list(episodes)
    for item in items:
        if not isinstance(item, Episode):
            raise TypeError(f"expected Episode objects, got {type(item).__name__}")
    return items


def _summary(row: Sequence[Any]) -> EpisodeSummary:
    values = dict(zip(HEADER_COLUMNS, row, strict=True))
    if values["outcome_reward"] is None:  # SQLite stores NaN as NULL
        values["outcome_reward"] = float("nan")
    if isinstance(values["seed"], str):
        values["seed"] = int(values["seed"])
    return EpisodeSummary.model_validate(values)


class EpisodeStore:
    """Episodes of a run in ``RUN_DIR/episodes.db`` (see the module docstring for the guarantees).

    Filters accepted by ``query``/``summaries``/``count``/``iter_episodes``/exports: ``run_id``,
    ``env_id``, ``task_id``, ``group_id``, ``parent_id`` (a string or a collection of strings),
    ``won``, ``truncated``, ``has_parent``, ``error`` (bools; ``error=True`` means "has an error"),
    ``step``, ``min_step``, ``max_step`` (ints), ``min_reward``, ``max_reward`` (on
    ``outcome_reward``), ``min_invalid_rate``, ``max_invalid_rate``, ``tag`` (a string or a
    collection) and ``tagged`` (bool). ``None`` means "no filter".

    Training data is ``tagged=False``: held-out evaluation episodes carry ``tag="eval"`` and
    branches made in the viewer ``tag="branch"``, so ``export_jsonl(path, tagged=False)`` (or
    ``export_training_jsonl``) leaves them out.

    One instance may be shared by threads (calls are serialised); other processes open their own.
    """

    def __init__(self, path: str | os.PathLike[str], *, readonly: bool = False, timeout: float = 30.0) -> None:
        self.path = resolve_db_path(path)
        self.readonly = readonly
        self._lock = threading.RLock()
        if readonly:
            if not self.path.is_file():
                raise FileNotFoundError(f"no episode store at {self.path}")
            uri = f"file:{urllib.parse.quote(str(self.path.resolve()))}?mode=ro"
            conn = sqlite3.connect(uri, uri=True, timeout=timeout, isolation_level=None, check_same_thread=False)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=timeout, isolation_level=None, check_same_thread=False)
        self._conn = conn
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            if not readonly and self._is_new_or_ours():
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
                self._init_schema()
            self._check_schema()
            self._check_integrity()
        except sqlite3.DatabaseError as exc:
            conn.close()
            if type(exc) is sqlite3.DatabaseError:  # "file is not a database"; not a lock timeout
                raise ValueError(f"{self.path} is not an episode store: {exc}") from exc
            raise
        except BaseException:
            conn.close()
            raise

    # ------------------------------------------------------------------ set-up
    def _is_new_or_ours(self) -> bool:
        """False for someone else's database, which must be left untouched (then refused)."""
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            return False
        return version > 0 or not self._conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0]

    def _init_schema(self) -> None:
        with self._transaction():
            version = self._conn.execute("PRAGMA user_version").fetchone()[0]
            if version == SCHEMA_VERSION:
                return
            if version == 1:
                for statement in MIGRATE_V1:
                    self._conn.execute(statement)
                self._conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                return
            for statement in DDL.split(";"):
                if statement.strip():
                    self._conn.execute(statement)
            self._conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _check_schema(self) -> None:
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise ValueError(
                f"{self.path} has store schema version {version}; this turngym reads up to {SCHEMA_VERSION} "
                "(upgrade turngym)"
            )
        if version < 1:
            raise ValueError(f"{self.path} is not an episode store (no turngym schema)")
        if version == 1:  # read-only: see READONLY_V1_VIEW
            self._conn.execute(READONLY_V1_VIEW)

    def _check_integrity(self) -> None:
        """A damaged page anywhere fails here, at open, with this store's message, instead of as a
        bare ``sqlite3.DatabaseError`` from whichever later query first reads it. ``quick_check``
        walks every b-tree page (measured ~50 ms for a 41 MB run store in the page cache)."""
        problem = self._conn.execute("PRAGMA quick_check(1)").fetchone()[0]
        if problem != "ok":
            raise ValueError(
                f"{self.path} is a corrupt episode store ({' '.join(problem.split())}); restore it from a copy, or salvage it "
                f"with `sqlite3 {self.path} .recover | sqlite3 recovered.db`"
            )

    @contextmanager
    def _transaction(self, *, write: bool = True) -> Iterator[sqlite3.Connection]:
        """One SQLite transaction; ``write`` takes the write lock up front so it cannot fail halfway."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield self._conn
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _require_writable(self) -> None:
        if self.readonly:
            raise PermissionError(f"episode store {self.path} was opened readonly")

    # ------------------------------------------------------------------ writing
    def write(self, episodes: Episode | Iterable[Episode], *, on_duplicate: OnDuplicate = "error") -> int:
        """Append whole episodes in one transaction; returns how many were written.

        ``on_duplicate="error"`` raises ``DuplicateEpisodeError`` and writes nothing if any id is
        already stored; ``"ignore"`` skips those (a resumed trainer re-sending a batch).
        """
        self._require_writable()
        _check_on_duplicate(on_duplicate)
        rows = [_Rows(e) for e in _as_episode_list(episodes)]  # encode before taking the write lock
        with self._transaction():
            return self._insert(rows, on_duplicate, time.time())

    def _insert(self, rows: list[_Rows], on_duplicate: str, created_at: float | Sequence[float]) -> int:
        """Insert inside the caller's transaction."""
        if not rows:
            return 0
        stamps = [created_at] * len(rows) if isinstance(created_at, float | int) else list(created_at)
        seen: set[str] = set()
        repeated: list[str] = []
        for r in rows:
            if r.episode_id in seen:
                repeated.append(r.episode_id)
            else:
                seen.add(r.episode_id)
        stored = self._existing_ids(list(seen))
        if on_duplicate == "error" and (stored or repeated):
            raise DuplicateEpisodeError(sorted(stored) + repeated, self.path)
        keep: list[tuple[_Rows, float]] = []
        taken = set(stored)
        for r, stamp in zip(rows, stamps, strict=True):
            if r.episode_id not in taken:
                taken.add(r.episode_id)
                keep.append((r, stamp))
        placeholders = ", ".join("?" * (len(HEADER_COLUMNS) + 1))
        header_sql = f"INSERT INTO episodes ({', '.join(HEADER_COLUMNS)}, record) VALUES ({placeholders})"
        headers = []
        for r, stamp in keep:
            header = list(r.header)
            header[_CREATED_AT] = float(stamp)
            headers.append(header)
        self._conn.executemany(header_sql, headers)
        self._conn.executemany(
            "INSERT INTO turns (episode_id, pos, turn_index, agent, action, action_valid, reward, record) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (t for r, _ in keep for t in r.turns),
        )
        return len(keep)

    def _existing_ids(self, ids: list[str]) -> set[str]:
        found: set[str] = set()
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i : i + _CHUNK]
            sql = f"SELECT episode_id FROM episodes WHERE episode_id IN ({','.join('?' * len(chunk))})"
            found.update(row[0] for row in self._conn.execute(sql, chunk))
        return found

    def update_training_fields(self, episodes: Episode | Iterable[Episode]) -> None:
        """Store the trainer's per-turn fields and the episodes' ``step``/``meta``, atomically.

        Only ``codec.TRAINING_FIELDS`` of each turn change; the rest of the stored record stays as
        written. Raises ``KeyError`` for an unknown episode and ``ValueError`` if the turn count
        differs from the stored one (nothing is changed then).
        """
        self._require_writable()
        items = _as_episode_list(episodes)
        payloads = []
        for e in items:
            fields = [t.model_dump(include=set(codec.TRAINING_FIELDS), warnings=False) for t in e.turns]
            payloads.append((e, fields, codec.encode({"step": e.step, "meta": e.meta})))
        with self._transaction() as conn:
            for e, fields, _ in payloads:
                row = conn.execute(
                    "SELECT num_turns, record FROM episodes WHERE episode_id = ?", (e.episode_id,)
                ).fetchone()
                if row is None:
                    raise KeyError(f"episode {e.episode_id!r} is not in {self.path}")
                if row[0] != len(fields):
                    raise ValueError(
                        f"episode {e.episode_id}: {len(fields)} turns given, {row[0]} stored; "
                        "training fields are updated turn by turn"
                    )
                header = json.loads(row[1])
                header["step"], header["meta"] = e.step, e.meta
                conn.execute(
                    "UPDATE episodes SET step = ?, record = ? WHERE episode_id = ?",
                    (e.step, codec.encode(header), e.episode_id),
                )
                stored = conn.execute(
                    "SELECT pos, record FROM turns WHERE episode_id = ? ORDER BY pos", (e.episode_id,)
                ).fetchall()
                updates = []
                for (pos, text), new in zip(stored, fields, strict=True):
                    turn = json.loads(text)
                    turn.update(new)
                    updates.append((codec.encode(turn), e.episode_id, pos))
                conn.executemany("UPDATE turns SET record = ? WHERE episode_id = ? AND pos = ?", updates)

    def delete(self, **filters: Any) -> int:
        """Remove the matching episodes and their turns atomically; returns how many were removed.

        The one exception to append-only: a trainer resuming from a checkpoint drops the episodes of
        the steps it lost (``delete(run_id=..., min_step=step + 1)``). At least one filter is
        required, so an empty call cannot wipe the run.
        """
        self._require_writable()
        where, params = where_clause(filters)
        if not where:
            raise ValueError("delete() needs at least one filter (refusing to delete every episode)")
        with self._transaction() as conn:
            conn.execute(f"DELETE FROM turns WHERE episode_id IN (SELECT episode_id FROM episodes{where})", params)
            return conn.execute(f"DELETE FROM episodes{where}", params).rowcount

    # ------------------------------------------------------------------ reading
    def get(self, episode_id: str) -> Episode:
        with self._transaction(write=False) as conn:
            rows = conn.execute(
                "SELECT episode_id, record, num_turns FROM episodes WHERE episode_id = ?", (episode_id,)
            ).fetchall()
            if not rows:
                raise KeyError(f"episode {episode_id!r} is not in {self.path}")
            return self._assemble(rows)[0]

    def query(
        self,
        *,
        order_by: str = "created_at",
        descending: bool = False,
        limit: int | None = None,
        offset: int = 0,
        **filters: Any,
    ) -> list[Episode]:
        """Whole episodes matching ``filters``, sorted, one page (``limit``/``offset``)."""
        sql, params = self._select("episode_id, record, num_turns", filters, order_by, descending, limit, offset)
        with self._transaction(write=False) as conn:
            return self._assemble(conn.execute(sql, params).fetchall())

    def summaries(
        self,
        *,
        order_by: str = "created_at",
        descending: bool = False,
        limit: int | None = None,
        offset: int = 0,
        **filters: Any,
    ) -> list[EpisodeSummary]:
        """Episode headers only (no turns are read): what a list of thousands of episodes needs."""
        sql, params = self._select(", ".join(HEADER_COLUMNS), filters, order_by, descending, limit, offset)
        with self._lock:
            return [_summary(row) for row in self._conn.execute(sql, params)]

    def count(self, **filters: Any) -> int:
        where, params = where_clause(filters)
        with self._lock:
            return int(self._conn.execute(f"SELECT COUNT(*) FROM episodes{where}", params).fetchone()[0])

    def iter_episodes(self, batch_size: int = 1000, **filters: Any) -> Iterator[Episode]:
        """All matching episodes in insertion order, ``batch_size`` at a time (bounded memory).

        Episodes appended while iterating are included when they come after the current position.
        """
        for episode, _ in self._iter_with_times(batch_size, filters):
            yield episode

    def _iter_with_times(self, batch_size: int, filters: dict[str, Any]) -> Iterator[tuple[Episode, float]]:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        where, params = where_clause(filters)
        where = f"{where} AND id > ?" if where else " WHERE id > ?"
        sql = f"SELECT id, created_at, episode_id, record, num_turns FROM episodes{where} ORDER BY id LIMIT ?"
        last = 0
        while True:
            with self._transaction(write=False) as conn:
                rows = conn.execute(sql, [*params, last, batch_size]).fetchall()
                if not rows:
                    return
                batch = self._assemble([row[2:] for row in rows])
            last = rows[-1][0]
            yield from zip(batch, (row[1] for row in rows), strict=True)
            if len(rows) < batch_size:
                return

    def group(self, group_id: str) -> list[Episode]:
        """The G rollouts of one task (in write order)."""
        return self.query(group_id=group_id)

    def _select(
        self,
        columns: str,
        filters: dict[str, Any],
        order_by: str,
        descending: bool,
        limit: int | None,
        offset: int,
    ) -> tuple[str, list[Any]]:
        where, params = where_clause(filters)
        order = order_clause(order_by, descending)
        page, page_params = limit_clause(limit, offset)
        return f"SELECT {columns} FROM episodes{where}{order}{page}", [*params, *page_params]

    def _assemble(self, rows: Sequence[Sequence[Any]]) -> list[Episode]:
        """Episodes from ``(episode_id, header record, num_turns)`` rows, turns fetched in chunks."""
        turns: dict[str, list[str]] = {}
        ids = [row[0] for row in rows]
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i : i + _CHUNK]
            sql = (
                f"SELECT episode_id, record FROM turns WHERE episode_id IN ({','.join('?' * len(chunk))}) "
                "ORDER BY episode_id, pos"
            )
            for episode_id, text in self._conn.execute(sql, chunk):
                turns.setdefault(episode_id, []).append(text)
        episodes = []
        for episode_id, header, num_turns in rows:
            texts = turns.get(episode_id, [])
            if len(texts) != num_turns:
                raise ValueError(
                    f"episode {episode_id} in {self.path}: {len(texts)} turns stored, header says {num_turns}"
                )
            episodes.append(codec.load_episode(header, texts))
        return episodes

    # ------------------------------------------------------------------ runs
    def set_run(self, run_id: str, config: dict[str, Any] | None = None, **meta: Any) -> None:
        """Record a run (first call) or update it: ``config`` replaces the stored one, ``meta`` merges."""
        self._require_writable()
        if not isinstance(run_id, str):
            raise TypeError(f"run_id must be a string, got {run_id!r}")
        if config is not None and not isinstance(config, dict):
            raise TypeError(f"config must be a dict, got {type(config).__name__}")
        with self._transaction() as conn:
            row = conn.execute("SELECT config, meta FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO runs (run_id, created_at, config, meta) VALUES (?, ?, ?, ?)",
                    (run_id, time.time(), codec.encode(config or {}), codec.encode(meta)),
                )
            else:
                merged = {**json.loads(row[1]), **meta}
                new_config = codec.encode(config) if config is not None else row[0]
                conn.execute(
                    "UPDATE runs SET config = ?, meta = ? WHERE run_id = ?", (new_config, codec.encode(merged), run_id)
                )

    def runs(self) -> list[RunInfo]:
        """Every run with a ``set_run`` record or at least one episode, oldest first."""
        with self._transaction(write=False) as conn:
            counts = {
                run_id: (n, first)
                for run_id, n, first in conn.execute(
                    "SELECT run_id, COUNT(*), MIN(created_at) FROM episodes GROUP BY run_id"
                )
            }
            infos = {}
            for run_id, created_at, config, meta in conn.execute("SELECT run_id, created_at, config, meta FROM runs"):
                n = counts.get(run_id, (0, None))[0]
                infos[run_id] = RunInfo(
                    run_id=run_id,
                    created_at=created_at,
                    config=json.loads(config),
                    meta=json.loads(meta),
                    num_episodes=n,
                )
        for run_id, (n, first) in counts.items():
            if run_id not in infos:
                infos[run_id] = RunInfo(run_id=run_id, created_at=first, num_episodes=n)
        return sorted(infos.values(), key=lambda r: (r.created_at, r.run_id))

    # ------------------------------------------------------------------ exchange
    def export_jsonl(self, path: str | os.PathLike[str], **filters: Any) -> int:
        """One ``Episode`` JSON per line (``.gz`` suffix: gzip); returns the number of episodes."""
        return exchange.write_jsonl(path, self.iter_episodes(**filters))

    def export_training_jsonl(self, path: str | os.PathLike[str], **filters: Any) -> int:
        """``export_jsonl`` of the training data only: untagged episodes (no eval, no branches)."""
        return self.export_jsonl(path, **{**filters, "tagged": False})

    def export_training_parquet(self, path: str | os.PathLike[str], **filters: Any) -> int:
        """``export_parquet`` of the training data only: untagged episodes (no eval, no branches)."""
        return self.export_parquet(path, **{**filters, "tagged": False})

    def export_parquet(self, path: str | os.PathLike[str], **filters: Any) -> int:
        """Header columns plus the full episode JSON per row; returns the number of episodes."""
        return exchange.write_parquet(path, self._iter_with_times(exchange.BATCH, filters))

    def import_jsonl(self, path: str | os.PathLike[str], *, on_duplicate: OnDuplicate = "error") -> int:
        """Load an ``export_jsonl`` file (or any file of Episode JSON lines), all or nothing."""
        return self._import(((e, None) for e in exchange.read_jsonl(path)), on_duplicate)

    def import_parquet(self, path: str | os.PathLike[str], *, on_duplicate: OnDuplicate = "error") -> int:
        """Load an ``export_parquet`` file, keeping the original write times, all or nothing."""
        return self._import(exchange.read_parquet(path), on_duplicate)

    def _import(self, pairs: Iterable[tuple[Episode, float | None]], on_duplicate: OnDuplicate) -> int:
        self._require_writable()
        _check_on_duplicate(on_duplicate)
        written = 0
        now = time.time()
        batch: list[tuple[Episode, float | None]] = []
        with self._transaction():
            for pair in pairs:
                batch.append(pair)
                if len(batch) >= exchange.BATCH:
                    written += self._insert_pairs(batch, on_duplicate, now)
                    batch = []
            written += self._insert_pairs(batch, on_duplicate, now)
        return written

    def _insert_pairs(self, batch: list[tuple[Episode, float | None]], on_duplicate: str, now: float) -> int:
        rows = [_Rows(e) for e, _ in batch]
        return self._insert(rows, on_duplicate, [now if c is None else c for _, c in batch])

    # ------------------------------------------------------------------ lifetime
    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> EpisodeStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"EpisodeStore({str(self.path)!r}{', readonly=True' if self.readonly else ''})"
