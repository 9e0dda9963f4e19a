"""Schema 3: old files open (readonly in place, writable by migration), exports equal the pydantic path
byte for byte / row for row, counts and tags stay consistent, payloads are exact and compact."""

from __future__ import annotations

import gzip
import random
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from turngym.core.episode import Episode, new_episode_id
from turngym.store import SCHEMA_VERSION, EpisodeStore, codec, exchange, legacy, payload
from turngym.store.filters import where_clause
from turngym.store.synthetic import synthetic_episodes

FIXTURES = Path(__file__).parent / "fixtures"


def _exact(episode: Episode) -> str:
    return codec.encode(episode.model_dump())


def _fixture_episodes() -> list[Episode]:
    with gzip.open(FIXTURES / "v1_store.jsonl.gz", "rt", encoding="utf-8") as f:
        return [Episode.model_validate_json(line) for line in f]


def _parquet_rows(path: Path) -> list[dict]:
    return pq.read_table(path).to_pylist()


def _with_tag(doc: str | bytes) -> str | bytes:
    """A record written before ``Episode.tag`` existed, as today's code exports it: the new last
    field follows the old bytes unchanged."""
    if isinstance(doc, bytes):
        return doc[:-1] + b',"tag":null}'
    return doc[:-1] + ',"tag":null}'


def _fixture_jsonl() -> bytes:
    with gzip.open(FIXTURES / "v1_store.jsonl.gz", "rb") as g:
        return b"".join(_with_tag(line.rstrip(b"\n")) + b"\n" for line in g)


def _fixture_parquet_rows() -> list[dict]:
    return [{**row, "episode": _with_tag(row["episode"])} for row in _parquet_rows(FIXTURES / "v1_store.parquet")]


def _same_rows(a: list[dict], b: list[dict]) -> bool:
    return codec.encode(a) == codec.encode(b)  # NaN-aware, bit-exact floats


@pytest.fixture
def v1_copy(tmp_path) -> Path:
    path = tmp_path / "old" / "episodes.db"
    path.parent.mkdir()
    shutil.copy(FIXTURES / "v1_store.db", path)
    return path


def _user_version(path: Path) -> int:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute("PRAGMA user_version").fetchone()[0]
    finally:
        conn.close()


def test_old_store_reads_in_place_readonly(v1_copy, tmp_path):
    expected = _fixture_episodes()
    with EpisodeStore(v1_copy, readonly=True) as store:
        assert [_exact(e) for e in store.query()] == [_exact(e) for e in expected]
        assert _exact(store.get(expected[2].episode_id)) == _exact(expected[2])
        assert store.count() == len(expected) and store.count(won=True) == sum(e.won for e in expected)
        assert store.count(tag="eval") == 0 and store.count(tagged=False) == len(expected)
        assert [r.run_id for r in store.runs()] == ["old-run", "other-run"]
        assert [s.episode_id for s in store.summaries(run_id="other-run")] == [e.episode_id for e in expected[6:]]
        store.export_jsonl(tmp_path / "x.jsonl.gz")
        store.export_parquet(tmp_path / "x.parquet")
    assert _user_version(v1_copy) == 1  # untouched
    with gzip.open(tmp_path / "x.jsonl.gz", "rb") as f:
        assert f.read() == _fixture_jsonl()
    assert _same_rows(_parquet_rows(tmp_path / "x.parquet"), _fixture_parquet_rows())


def test_old_store_migrates_on_writable_open(v1_copy, tmp_path):
    expected = _fixture_episodes()
    with EpisodeStore(v1_copy, readonly=True) as old:
        old_summaries = old.summaries()
        old_runs = old.runs()
    with EpisodeStore(v1_copy) as store:
        assert _user_version(v1_copy) == SCHEMA_VERSION
        assert [_exact(e) for e in store.query()] == [_exact(e) for e in expected]
        assert store.summaries() == old_summaries  # ids, order and write times kept
        assert store.runs() == old_runs
        store.export_jsonl(tmp_path / "x.jsonl.gz")
        store.export_parquet(tmp_path / "x.parquet")
        new = synthetic_episodes(3, seed=99, run_id="old-run")
        store.write(new)
        assert store.count(run_id="old-run") == 9
    with gzip.open(tmp_path / "x.jsonl.gz", "rb") as f:
        assert f.read() == _fixture_jsonl()
    assert _same_rows(_parquet_rows(tmp_path / "x.parquet"), _fixture_parquet_rows())
    conn = sqlite3.connect(v1_copy)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    journal = conn.execute("PRAGMA journal_mode").fetchone()[0]
    conn.close()
    assert not {t for t in tables if t.startswith("v1_")}
    assert (page_size, journal) == (65536, "wal")  # rewritten with the new page size, back in WAL mode


def test_migration_of_a_larger_old_store(tmp_path):
    episodes = synthetic_episodes(120, seed=4, steps=3, unusual_every=9)
    path = tmp_path / "episodes.db"
    legacy.write_v1(path, [episodes[:50], episodes[50:]])
    with EpisodeStore(path) as store:
        assert [_exact(e) for e in store.iter_episodes(batch_size=7)] == [_exact(e) for e in episodes]
        assert store.count(won=True, run_id="run-0") == sum(e.won for e in episodes)
        assert store.delete(max_step=0) == sum(e.step == 0 for e in episodes)
        assert store.count() == sum(e.step > 0 for e in episodes)


def test_exports_equal_the_pydantic_path(tmp_path):
    episodes = synthetic_episodes(40, seed=8, steps=2, unusual_every=5)
    with EpisodeStore(tmp_path / "run") as store:
        store.write(episodes)
        store.export_jsonl(tmp_path / "new.jsonl")
        store.export_parquet(tmp_path / "new.parquet")
        stamps = [s.created_at for s in store.summaries()]
    exchange.write_jsonl(tmp_path / "old.jsonl", episodes)
    exchange.write_parquet(tmp_path / "old.parquet", zip(episodes, stamps, strict=True))
    assert (tmp_path / "new.jsonl").read_bytes() == (tmp_path / "old.jsonl").read_bytes()
    assert _same_rows(_parquet_rows(tmp_path / "new.parquet"), _parquet_rows(tmp_path / "old.parquet"))
    new_meta = pq.ParquetFile(tmp_path / "new.parquet").metadata
    assert new_meta.num_row_groups == pq.ParquetFile(tmp_path / "old.parquet").metadata.num_row_groups


def test_tags_filter_and_count(tmp_path):
    plain = synthetic_episodes(30, seed=1)
    evals = synthetic_episodes(12, seed=2, run_id="run-0")
    branches = synthetic_episodes(5, seed=3, run_id="run-1", env_id="Other-v0")
    with EpisodeStore(tmp_path / "run") as store:
        store.write(plain)
        store.write(evals, tag="eval")
        store.write(branches, tag="branch")
        with pytest.raises(ValueError, match="tag must be"):
            store.write(synthetic_episodes(1, seed=9), tag="")
        assert [e.episode_id for e in store.query(tag="eval")] == [e.episode_id for e in evals]
        assert store.count(tagged=False) == 30 and store.count(tag=["eval", "branch"]) == 17
        assert store.count(run_id="run-0", tagged=True) == 12
        store.export_jsonl(tmp_path / "train.jsonl", tagged=False)
        assert len((tmp_path / "train.jsonl").read_text().splitlines()) == 30
        assert store.delete(tag="eval", won=True) == sum(e.won for e in evals)
        _check_counts(store)
        assert sum(r.num_episodes for r in store.runs()) == 30 + 5 + sum(not e.won for e in evals)


def _check_counts(store: EpisodeStore) -> None:
    """The counts table agrees with a scan for every filter combination it answers."""
    for run_id in (None, "run-0", "run-1", "nope"):
        for won in (None, True, False):
            for tagged in (None, True, False):
                filters = {"run_id": run_id, "won": won, "tagged": tagged, "env_id": None}
                where, params = where_clause(filters)
                scan = store._conn.execute(f"SELECT COUNT(*) FROM episodes{where}", params).fetchone()[0]
                assert store.count(**filters) == scan
    assert sum(r.num_episodes for r in store.runs()) == store.count()


def test_counts_follow_random_writes_and_deletes(tmp_path):
    rng = random.Random(0)
    with EpisodeStore(tmp_path / "run") as store:
        for i in range(6):
            batch = synthetic_episodes(rng.randint(1, 15), seed=i, run_id=f"run-{i % 3}", steps=4)
            store.write(batch, tag=rng.choice([None, "eval"]))
            if i % 2:
                store.delete(run_id=f"run-{rng.randrange(3)}", min_step=rng.randrange(4))
        _check_counts(store)
        assert store.runs() and all(r.num_episodes == store.count(run_id=r.run_id) for r in store.runs())


def test_payload_shares_prompt_prefixes_and_stays_exact():
    rng = np.random.default_rng(0)
    base = synthetic_episodes(1, seed=3)[0]
    transcript: list[int] = []
    text = ""
    chat: list[dict] = []
    for turn in base.turns:  # concatenated layout: each prompt extends the previous one
        transcript = transcript + rng.integers(0, 150_000, 40).tolist()
        turn.prompt = list(transcript)
        turn.prompt_token_ids = list(transcript)
    concat = base.model_copy(deep=True)
    for turn in base.turns:
        text += turn.observation + "\n"
        turn.prompt = text
    as_text = base.model_copy(deep=True)
    for turn in base.turns:
        chat = [*chat, {"role": "user", "content": turn.observation}]
        turn.prompt = list(chat)
    as_chat = base.model_copy(deep=True)
    for episode in (concat, as_text, as_chat):
        data = payload.encode_episode(episode)
        assert payload.episode_json(data).decode() == codec.dump_episode(episode)
        assert payload.decode_episode(data) == episode
    only_new = concat.model_copy(deep=True)  # the same episode if each prompt held only its new tokens
    for i, turn in enumerate(only_new.turns):
        turn.prompt = turn.prompt_token_ids = concat.turns[i].prompt[40 * i :]
    assert len(payload.encode_episode(concat)) < 1.1 * len(payload.encode_episode(only_new))


def test_payload_unusual_values():
    episode = synthetic_episodes(1, seed=5, unusual_every=1)[0]
    episode.turns[0].prompt = [2**70, -1, 3]  # past int64: kept as JSON
    episode.turns[1].prompt_token_ids = []
    episode.turns[1].trainer_logprobs = np.array([-0.5, float("nan")], dtype=np.float32)  # unvalidated assignment
    episode.turns[2].advantage = np.float32(0.25)
    episode.turns[2].loss_mask = [np.int64(1), np.int64(0)]
    data = payload.encode_episode(episode)
    assert payload.episode_json(data).decode() == codec.dump_episode(episode)
    back = payload.decode_episode(data)
    assert _exact(back) == _exact(Episode.model_validate_json(codec.dump_episode(episode)))
    assert back.turns[1].prompt_token_ids == [] and back.turns[0].prompt == [2**70, -1, 3]


def test_payload_sentinel_in_user_data_is_stored_unpacked():
    episode = synthetic_episodes(1, seed=6)[0]
    episode.turns[0].info = {"x": payload.SENTINEL}
    data = payload.encode_episode(episode)
    assert payload.episode_json(data).decode() == codec.dump_episode(episode)
    assert payload.decode_episode(data) == episode


def test_payload_dtypes_cover_ranges():
    for values in ([0, 255], [-1, 127], [0, 65535], [-40000, 3], [0, 2**32 - 1], [-(2**31), 5], [-(2**63), 2**63 - 1]):
        episode = synthetic_episodes(1, seed=1)[0]
        episode.turns[0].response_token_ids = values
        assert payload.decode_episode(payload.encode_episode(episode)).turns[0].response_token_ids == values


def test_episode_ids_sort_by_creation_time():
    ids = [new_episode_id() for _ in range(200)]
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids) and len(set(ids)) == 200
    assert [i[:12] for i in ids] == sorted(i[:12] for i in ids)
