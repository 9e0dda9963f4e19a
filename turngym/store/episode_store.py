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
from turngym.store import codec, exchange, legacy, payload
from turngym.store.filters import counts_answerable, limit_clause, order_clause, where_clause
from turngym.store.schema import (
    DDL,
    HEADER_COLUMNS,
    LEGACY_VERSIONS,
    NEW_FILE_PRAGMAS,
    SCHEMA_VERSION,
    SUMMARY_COLUMNS,
    EpisodeSummary,
    RunInfo,
)

DB_NAME = "episodes.db"
_DB_SUFFIXES = (".db", ".sqlite", ".sqlite3")
_CHUNK = 500  # ids per "IN (...)" query, well under SQLite's variable limit
_CREATED_AT = HEADER_COLUMNS.index("created_at")
_INSERT_EPISODE = (
    f"INSERT INTO episodes (id, {', '.join(HEADER_COLUMNS)}, tag) VALUES ({', '.join('?' * (len(HEADER_COLUMNS) + 2))})"
)
_PAYLOAD_OF = "(SELECT data FROM payloads WHERE payloads.id = episodes.id)"

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
    """An episode encoded for insertion: its header row, its payload and its turn-index rows."""

    __slots__ = ("episode_id", "header", "payload", "tag", "turns")

    def __init__(self, episode: Episode) -> None:
        try:
            self.payload = payload.encode_episode(episode)
        except codec.EncodeError as exc:
            raise codec.EncodeError(f"episode {episode.episode_id}: {exc}") from exc
        self.episode_id = episode.episode_id
        self.header = legacy.header_values(episode)
        self.tag = episode.tag
        self.turns = [
            (episode.episode_id, pos, t.index, int(bool(t.action_valid)), t.reward) for pos, t in enumerate(episode.turns)
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
    values = dict(zip(SUMMARY_COLUMNS, row, strict=True))
    if values["outcome_reward"] is None:  # SQLite stores NaN as NULL
        values["outcome_reward"] = float("nan")
    if isinstance(values["seed"], str):
        values["seed"] = int(values["seed"])
    return EpisodeSummary.model_validate(values)


class EpisodeStore:
    """Episodes of a run in ``RUN_DIR/episodes.db`` (see the module docstring for the guarantees).

    Filters accepted by ``query``/``summaries``/``count``/``iter_episodes``/exports: ``run_id``,
    ``env_id``, ``task_id``, ``group_id``, ``parent_id``, ``tag`` (a string or a collection of
    strings), ``won``, ``truncated``, ``has_parent``, ``error``, ``tagged`` (bools; ``error=True``
    means "has an error", ``tagged=False`` "written without a tag"), ``step``, ``min_step``,
    ``max_step`` (ints), ``min_reward``, ``max_reward`` (on ``outcome_reward``),
    ``min_invalid_rate``, ``max_invalid_rate``. ``None`` means "no filter".

    A file of an older schema (``LEGACY_VERSIONS``) is read as it is when opened readonly and
    converted to the current schema when opened writable.

    Training data is ``tagged=False``: held-out evaluation episodes carry ``tag="eval"`` and
    branches made in the viewer ``tag="branch"`` (``Episode.tag``, or ``write(..., tag=)``), so
    ``export_jsonl(path, tagged=False)`` (or ``export_training_jsonl``) leaves them out.

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
            conn.execute("PRAGMA cache_size = -32768")  # 32 MiB: the hot index pages of a long run stay cached
            if not readonly and self._is_new_or_ours():
                if not conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0]:
                    for pragma in NEW_FILE_PRAGMAS:
                        conn.execute(pragma)
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
                self._init_schema()
            self._version = self._check_schema()
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

    def _create_schema(self) -> None:
        statement = ""
        for line in DDL.splitlines(keepends=True):  # triggers hold ';' inside BEGIN ... END
            statement += line
            if sqlite3.complete_statement(statement):
                self._conn.execute(statement)
                statement = ""
        if statement.strip():
            self._conn.execute(statement)

    def _init_schema(self) -> None:
        migrated = False
        with self._transaction():
            version = self._conn.execute("PRAGMA user_version").fetchone()[0]
            if version == SCHEMA_VERSION:
                return
            if version in LEGACY_VERSIONS:
                legacy.migrate(self._conn, self.path, self._create_schema, self._insert_migrated)
                migrated = True
            else:
                self._create_schema()
            self._conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        if migrated:
            self._compact()

    def _compact(self) -> None:
        """After a migration: rewrite the file with the new page size, giving the old layout's pages back.

        The page size can only change outside WAL mode; if another process holds the file open the
        journal mode cannot switch and the file keeps its page size (it is still compacted).
        """
        try:
            self._conn.execute("PRAGMA journal_mode = DELETE")
            for pragma in NEW_FILE_PRAGMAS:
                self._conn.execute(pragma)
            self._conn.execute("VACUUM")
        except sqlite3.OperationalError:
            self._conn.execute("VACUUM")
        finally:
            self._conn.execute("PRAGMA journal_mode = WAL")

    def _insert_migrated(self, items: list[tuple[int, Episode, float]]) -> None:
        rows = [_Rows(e) for _, e, _ in items]
        self._insert_rows([(r, stamp, row_id) for r, (row_id, _, stamp) in zip(rows, items, strict=True)], None)

    def _check_schema(self) -> int:
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise ValueError(
                f"{self.path} has store schema version {version}; this turngym reads up to {SCHEMA_VERSION} "
                "(upgrade turngym)"
            )
        if version < 1:
            raise ValueError(f"{self.path} is not an episode store (no turngym schema)")
        if version != SCHEMA_VERSION and version not in LEGACY_VERSIONS:
            raise ValueError(f"{self.path} has store schema version {version}, which this turngym cannot read")
        return version

    @property
    def _legacy(self) -> bool:
        return self._version != SCHEMA_VERSION

    def _where(self, filters: dict[str, Any]) -> tuple[str, list[Any]]:
        return where_clause(filters, has_tag=not self._legacy)

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
    def write(
        self, episodes: Episode | Iterable[Episode], *, on_duplicate: OnDuplicate = "error", tag: str | None = None
    ) -> int:
        """Append whole episodes in one transaction; returns how many were written.

        ``on_duplicate="error"`` raises ``DuplicateEpisodeError`` and writes nothing if any id is
        already stored; ``"ignore"`` skips those (a resumed trainer re-sending a batch). ``tag``
        (e.g. ``"eval"``, ``"branch"``) marks the episodes for the ``tag=``/``tagged=`` filters.
        """
        self._require_writable()
        _check_on_duplicate(on_duplicate)
        if tag is not None and (not isinstance(tag, str) or not tag):
            raise ValueError(f"tag must be a non-empty string or None, got {tag!r}")
        items = _as_episode_list(episodes)
        if tag is not None:  # the record says what the column says
            items = [e if e.tag == tag else e.model_copy(update={"tag": tag}) for e in items]
        rows = [_Rows(e) for e in items]  # encode before taking the write lock
        with self._transaction():
            return self._insert(rows, on_duplicate, time.time(), tag)

    def _insert(
        self, rows: list[_Rows], on_duplicate: str, created_at: float | Sequence[float], tag: str | None = None
    ) -> int:
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
        keep: list[tuple[_Rows, float, int | None]] = []
        taken = set(stored)
        for r, stamp in zip(rows, stamps, strict=True):
            if r.episode_id not in taken:
                taken.add(r.episode_id)
                keep.append((r, stamp, None))
        self._insert_rows(keep, tag)
        return len(keep)

    def _insert_rows(self, keep: list[tuple[_Rows, float, int | None]], tag: str | None) -> None:
        """Episode rows (ids given or next in order), their payloads under the same id, turn index rows."""
        if not keep:
            return
        next_id = self._conn.execute("SELECT ifnull(max(id), 0) + 1 FROM episodes").fetchone()[0]
        headers, payloads = [], []
        for r, stamp, row_id in keep:
            if row_id is None:
                row_id, next_id = next_id, next_id + 1
            header = list(r.header)
            header[_CREATED_AT] = float(stamp)
            headers.append([row_id, *header, tag if tag is not None else r.tag])
            payloads.append((row_id, r.payload))
        self._conn.executemany(_INSERT_EPISODE, headers)
        self._conn.executemany("INSERT INTO payloads (id, data) VALUES (?, ?)", payloads)
        self._conn.executemany(
            "INSERT INTO turns (episode_id, pos, turn_index, action_valid, reward) VALUES (?, ?, ?, ?, ?)",
            (t for r, _, _ in keep for t in r.turns),
        )

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
            codec.encode({"step": e.step, "meta": e.meta, "turns": fields})  # unstorable values fail before writing
            payloads.append((e, fields))
        with self._transaction() as conn:
            for e, fields in payloads:
                row = conn.execute(
                    f"SELECT id, num_turns, {_PAYLOAD_OF} FROM episodes WHERE episode_id = ?", (e.episode_id,)
                ).fetchone()
                if row is None:
                    raise KeyError(f"episode {e.episode_id!r} is not in {self.path}")
                if row[1] != len(fields):
                    raise ValueError(
                        f"episode {e.episode_id}: {len(fields)} turns given, {row[1]} stored; "
                        "training fields are updated turn by turn"
                    )
                stored = payload.decode_episode(row[2])
                stored.step, stored.meta = e.step, e.meta
                for turn, new in zip(stored.turns, fields, strict=True):
                    for name, value in new.items():
                        setattr(turn, name, value)
                conn.execute("UPDATE episodes SET step = ? WHERE id = ?", (e.step, row[0]))
                conn.execute("UPDATE payloads SET data = ? WHERE id = ?", (payload.encode_episode(stored), row[0]))

    def delete(self, **filters: Any) -> int:
        """Remove the matching episodes and their turns atomically; returns how many were removed.

        The one exception to append-only: a trainer resuming from a checkpoint drops the episodes of
        the steps it lost (``delete(run_id=..., min_step=step + 1)``). At least one filter is
        required, so an empty call cannot wipe the run.
        """
        self._require_writable()
        where, params = self._where(filters)
        if not where:
            raise ValueError("delete() needs at least one filter (refusing to delete every episode)")
        with self._transaction() as conn:  # payloads, turn index and counts follow by trigger
            return conn.execute(f"DELETE FROM episodes{where}", params).rowcount

    # ------------------------------------------------------------------ reading
    def _episode_columns(self) -> str:
        return "episode_id, record, num_turns" if self._legacy else f"episode_id, {_PAYLOAD_OF}, num_turns"

    def get(self, episode_id: str) -> Episode:
        with self._transaction(write=False) as conn:
            rows = conn.execute(
                f"SELECT {self._episode_columns()} FROM episodes WHERE episode_id = ?", (episode_id,)
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
        sql, params = self._select(self._episode_columns(), filters, order_by, descending, limit, offset)
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
        columns = ", ".join(HEADER_COLUMNS) + (", NULL AS tag" if self._legacy else ", tag")
        sql, params = self._select(columns, filters, order_by, descending, limit, offset)
        with self._lock:
            return [_summary(row) for row in self._conn.execute(sql, params)]

    def count(self, **filters: Any) -> int:
        """Matching episodes; by run/env/outcome/tag alone from the ``counts`` table (no scan)."""
        if not self._legacy and counts_answerable(filters):
            where, params = where_clause(filters, counts=True)
            sql = f"SELECT ifnull(SUM(n), 0) FROM counts{where}"
        else:
            where, params = self._where(filters)
            sql = f"SELECT COUNT(*) FROM episodes{where}"
        with self._lock:
            return int(self._conn.execute(sql, params).fetchone()[0])

    def iter_episodes(self, batch_size: int = 1000, **filters: Any) -> Iterator[Episode]:
        """All matching episodes in insertion order, ``batch_size`` at a time (bounded memory).

        Episodes appended while iterating are included when they come after the current position.
        """
        for rows in self._iter_rows(batch_size, filters, self._episode_columns()):
            with self._lock:
                batch = self._assemble(rows)
            yield from batch

    def _iter_rows(self, batch_size: int, filters: dict[str, Any], columns: str) -> Iterator[list[Sequence[Any]]]:
        """Matching rows (``columns``) in id order, one read transaction per batch."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        where, params = self._where(filters)
        where = f"{where} AND id > ?" if where else " WHERE id > ?"
        sql = f"SELECT id, {columns} FROM episodes{where} ORDER BY id LIMIT ?"
        last = 0
        while True:
            with self._lock:
                rows = self._conn.execute(sql, [*params, last, batch_size]).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            yield [row[1:] for row in rows]
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
        where, params = self._where(filters)
        order = order_clause(order_by, descending)
        page, page_params = limit_clause(limit, offset)
        return f"SELECT {columns} FROM episodes{where}{order}{page}", [*params, *page_params]

    def _assemble(self, rows: Sequence[Sequence[Any]]) -> list[Episode]:
        """Episodes from ``(episode_id, payload or schema-1 header record, num_turns)`` rows."""
        if self._legacy:
            return legacy.assemble(self._conn, rows, self.path)
        episodes = []
        for episode_id, data, num_turns in rows:
            if data is None:
                raise ValueError(f"episode {episode_id} in {self.path} has no stored payload")
            episode = payload.decode_episode(data)
            if episode.num_turns != num_turns:
                raise ValueError(
                    f"episode {episode_id} in {self.path}: {episode.num_turns} turns stored, header says {num_turns}"
                )
            episodes.append(episode)
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
        """Every run with a ``set_run`` record or at least one episode, oldest first.

        Counts come from the ``counts`` table and a run's first write time from the run index, so the
        cost does not grow with the number of episodes.
        """
        with self._transaction(write=False) as conn:
            if self._legacy:
                grouped = conn.execute("SELECT run_id, COUNT(*) FROM episodes GROUP BY run_id").fetchall()
            else:
                grouped = conn.execute("SELECT run_id, SUM(n) FROM counts GROUP BY run_id HAVING SUM(n) > 0").fetchall()
            counts = dict(grouped)
            infos = {}
            for run_id, created_at, config, meta in conn.execute("SELECT run_id, created_at, config, meta FROM runs"):
                infos[run_id] = RunInfo(
                    run_id=run_id,
                    created_at=created_at,
                    config=json.loads(config),
                    meta=json.loads(meta),
                    num_episodes=counts.get(run_id, 0),
                )
            for run_id, n in counts.items():
                if run_id not in infos:
                    (first,) = conn.execute("SELECT MIN(created_at) FROM episodes WHERE run_id = ?", (run_id,)).fetchone()
                    infos[run_id] = RunInfo(run_id=run_id, created_at=first, num_episodes=n)
        return sorted(infos.values(), key=lambda r: (r.created_at, r.run_id))

    # ------------------------------------------------------------------ exchange
    def export_jsonl(self, path: str | os.PathLike[str], **filters: Any) -> int:
        """One ``Episode`` JSON per line (``.gz`` suffix: gzip); returns the number of episodes.

        Streams stored documents to the file without building models (the lines equal
        ``Episode.model_dump_json`` of each episode, NaN/inf kept as constants).
        """
        return exchange.write_jsonl_docs(path, self._iter_docs(filters))

    def export_training_jsonl(self, path: str | os.PathLike[str], **filters: Any) -> int:
        """``export_jsonl`` of the training data only: untagged episodes (no eval, no branches)."""
        return self.export_jsonl(path, **{**filters, "tagged": False})

    def export_training_parquet(self, path: str | os.PathLike[str], **filters: Any) -> int:
        """``export_parquet`` of the training data only: untagged episodes (no eval, no branches)."""
        return self.export_parquet(path, **{**filters, "tagged": False})

    def export_parquet(self, path: str | os.PathLike[str], **filters: Any) -> int:
        """Header columns plus the full episode JSON per row; returns the number of episodes."""
        return exchange.write_parquet_docs(path, self._iter_docs(filters))

    def _iter_docs(self, filters: dict[str, Any]) -> Iterator[list[tuple[bytes, dict[str, Any], int, float, float]]]:
        """Export rows (``exchange.DocBatches``) in insertion order, one batch of stored rows at a time."""
        self._where(filters)  # bad filters fail before the export file is created
        if self._legacy:
            columns = "episode_id, record, num_turns, invalid_rate, created_at"
            for rows in self._iter_rows(exchange.BATCH, filters, columns):
                with self._lock:
                    episodes = legacy.assemble(self._conn, [r[:3] for r in rows], self.path)
                yield [
                    (codec.dump_episode(e).encode(), e.model_dump(exclude={"turns"}), r[2], r[3], r[4])
                    for e, r in zip(episodes, rows, strict=True)
                ]
            return
        columns = f"{_PAYLOAD_OF}, num_turns, invalid_rate, created_at"
        for rows in self._iter_rows(exchange.BATCH, filters, columns):
            yield [(*payload.export_parts(data), *rest) for data, *rest in rows]

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
