"""The episode store: one SQLite (WAL) file per run, shared by rollout, trainer and replay viewer.

``EpisodeStore(run_dir)`` appends whole episodes atomically, queries them by header fields, lets the
trainer fill in per-turn training fields, and exports/imports JSONL and Parquet losslessly.
"""

from turngym.store.codec import TRAINING_FIELDS, EncodeError
from turngym.store.episode_store import DB_NAME, DuplicateEpisodeError, EpisodeStore, resolve_db_path
from turngym.store.filters import FILTER_NAMES
from turngym.store.schema import ORDER_COLUMNS, SCHEMA_VERSION, EpisodeSummary, RunInfo

__all__ = [
    "DB_NAME",
    "FILTER_NAMES",
    "ORDER_COLUMNS",
    "SCHEMA_VERSION",
    "TRAINING_FIELDS",
    "DuplicateEpisodeError",
    "EncodeError",
    "EpisodeStore",
    "EpisodeSummary",
    "RunInfo",
    "resolve_db_path",
]
