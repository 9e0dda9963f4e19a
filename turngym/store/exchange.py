"""Episode files outside SQLite: JSONL (one ``Episode`` JSON per line) and Parquet.

JSONL is the interchange format anyone can read (``Episode.from_json`` per line). Parquet carries
the header fields as typed columns, so pandas/DuckDB/polars can filter a run without parsing JSON,
plus the whole episode as JSON text in an ``episode`` column, which is what makes the round trip
lossless (turn contents such as prompts and ``info`` are too heterogeneous for a fixed Arrow type).
Files are written to a temporary name and renamed, so an interrupted export leaves no truncated file.
"""

from __future__ import annotations

import contextlib
import gzip
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import ValidationError

from turngym.core.episode import Episode
from turngym.store import codec

#: ``(episode JSON, header fields, num_turns, invalid_rate, created_at)`` rows, in batches, as
#: ``EpisodeStore`` streams them (the JSON equals ``codec.dump_episode``; header: the episode without turns).
DocBatches = Iterable[list[tuple[bytes, dict[str, Any], int, float, float]]]

#: Episodes per Parquet row group / per insert batch on import.
BATCH = 1000

PARQUET_SCHEMA = pa.schema(
    [
        ("episode_id", pa.string()),
        ("run_id", pa.string()),
        ("env_id", pa.string()),
        ("task_id", pa.string()),
        ("group_id", pa.string()),
        ("seed", pa.string()),  # text: seeds may exceed int64
        ("step", pa.int64()),
        ("won", pa.bool_()),
        ("outcome_reward", pa.float64()),
        ("score", pa.float64()),
        ("num_turns", pa.int32()),
        ("invalid_rate", pa.float64()),
        ("truncated", pa.bool_()),
        ("error", pa.string()),
        ("parent_id", pa.string()),
        ("created_at", pa.float64()),
        ("episode", pa.large_string()),
    ],
    metadata={"turngym.format": "episodes", "turngym.version": "1"},
)


def _open_text(path: Path, mode: str, *, gz: bool) -> IO[str]:
    if gz:
        return gzip.open(path, mode + "t", encoding="utf-8")  # type: ignore[return-value]
    return open(path, mode, encoding="utf-8")


@contextlib.contextmanager
def _atomic_target(path: Path) -> Iterator[Path]:
    """A temporary file beside ``path`` to write; renamed onto ``path`` only if the block finishes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_jsonl(path: str | os.PathLike[str], episodes: Iterable[Episode]) -> int:
    """One Episode JSON per line (gzip when the name ends in ``.gz``)."""
    path = Path(path)
    n = 0
    with _atomic_target(path) as tmp:
        with _open_text(tmp, "w", gz=path.suffix == ".gz") as f:
            for episode in episodes:
                f.write(codec.dump_episode(episode))
                f.write("\n")
                n += 1
    return n


def write_jsonl_docs(path: str | os.PathLike[str], batches: DocBatches) -> int:
    """``write_jsonl`` from stored documents: the same lines, without building an ``Episode`` each."""
    path = Path(path)
    n = 0
    with _atomic_target(path) as tmp:
        with gzip.open(tmp, "wb") if path.suffix == ".gz" else open(tmp, "wb") as f:
            for batch in batches:
                f.write(b"".join(row[0] + b"\n" for row in batch))
                n += len(batch)
    return n


def read_jsonl(path: str | os.PathLike[str]) -> Iterator[Episode]:
    """Episodes of a JSONL file; a bad line raises ``ValueError`` naming the file and line."""
    path = Path(path)
    with _open_text(path, "r", gz=path.suffix == ".gz") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield Episode.model_validate_json(line)
            except ValidationError as exc:
                raise ValueError(f"{path}:{lineno}: not an episode: {exc}") from exc


def _table(rows: list[tuple[Episode, float]]) -> pa.Table:
    columns: dict[str, list] = {name: [] for name in PARQUET_SCHEMA.names}
    for e, created_at in rows:
        columns["episode_id"].append(e.episode_id)
        columns["run_id"].append(e.run_id)
        columns["env_id"].append(e.env_id)
        columns["task_id"].append(e.task_id)
        columns["group_id"].append(e.group_id)
        columns["seed"].append(None if e.seed is None else str(e.seed))
        columns["step"].append(e.step)
        columns["won"].append(e.won)
        columns["outcome_reward"].append(e.outcome_reward)
        columns["score"].append(e.score)
        columns["num_turns"].append(e.num_turns)
        columns["invalid_rate"].append(e.invalid_rate)
        columns["truncated"].append(e.truncated)
        columns["error"].append(e.error)
        columns["parent_id"].append(e.parent_id)
        columns["created_at"].append(created_at)
        columns["episode"].append(codec.dump_episode(e))
    return pa.table(columns, schema=PARQUET_SCHEMA)


def write_parquet(path: str | os.PathLike[str], rows: Iterable[tuple[Episode, float]]) -> int:
    """Write ``(episode, created_at)`` pairs; one row group per ``BATCH`` episodes."""
    path = Path(path)
    n = 0
    with _atomic_target(path) as tmp:
        with pq.ParquetWriter(tmp, PARQUET_SCHEMA, compression="zstd") as writer:
            batch: list[tuple[Episode, float]] = []
            for row in rows:
                batch.append(row)
                if len(batch) >= BATCH:
                    writer.write_table(_table(batch))
                    n += len(batch)
                    batch = []
            if batch or n == 0:
                writer.write_table(_table(batch))
                n += len(batch)
    return n


def _doc_batch(batch: list[tuple[bytes, dict[str, Any], int, float, float]]) -> pa.RecordBatch:
    """The rows ``_table`` builds, from stored JSON and header fields (no model per episode)."""
    columns: dict[str, list] = {name: [] for name in PARQUET_SCHEMA.names}
    simple = ("episode_id", "run_id", "env_id", "task_id", "group_id", "step", "won", "outcome_reward", "score",
              "truncated", "error", "parent_id")  # fmt: skip
    for _, header, num_turns, invalid_rate, created_at in batch:
        for name in simple:
            columns[name].append(header[name])
        seed = header["seed"]
        columns["seed"].append(None if seed is None else str(seed))
        columns["num_turns"].append(num_turns)
        columns["invalid_rate"].append(invalid_rate)
        columns["created_at"].append(created_at)
    texts = [row[0] for row in batch]
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum([len(t) for t in texts], out=offsets[1:])
    arrays = [pa.array(columns[f.name], type=f.type) for f in PARQUET_SCHEMA if f.name != "episode"]
    # the JSON texts as one buffer + offsets: no per-episode str object (they are valid UTF-8 by construction)
    episode = pa.LargeStringArray.from_buffers(len(texts), pa.py_buffer(offsets), pa.py_buffer(b"".join(texts)))
    return pa.RecordBatch.from_arrays([*arrays, episode], schema=PARQUET_SCHEMA)


def write_parquet_docs(path: str | os.PathLike[str], batches: DocBatches) -> int:
    """``write_parquet`` from stored documents in record batches (one row group each, bounded memory)."""
    path = Path(path)
    n = 0
    with _atomic_target(path) as tmp:
        with pq.ParquetWriter(tmp, PARQUET_SCHEMA, compression="zstd") as writer:
            for batch in batches:
                for start in range(0, len(batch), BATCH):
                    part = batch[start : start + BATCH]
                    writer.write_batch(_doc_batch(part))
                    n += len(part)
            if n == 0:
                writer.write_table(_table([]))
    return n


def read_parquet(path: str | os.PathLike[str]) -> Iterator[tuple[Episode, float | None]]:
    """``(episode, created_at or None)`` from a Parquet file with an ``episode`` JSON column."""
    path = Path(path)
    pf = pq.ParquetFile(path)
    names = pf.schema_arrow.names
    if "episode" not in names:
        raise ValueError(f"{path}: no 'episode' column (columns: {names}); not a turngym episode export")
    columns = ["episode"] + (["created_at"] if "created_at" in names else [])
    row = 0
    for batch in pf.iter_batches(batch_size=BATCH, columns=columns):
        texts = batch.column("episode").to_pylist()
        stamps = batch.column("created_at").to_pylist() if "created_at" in columns else [None] * len(texts)
        for text, stamp in zip(texts, stamps, strict=True):
            row += 1
            try:
                episode = Episode.model_validate_json(text)
            except (ValidationError, TypeError) as exc:
                raise ValueError(f"{path}: row {row}: not an episode: {exc}") from exc
            yield episode, stamp
