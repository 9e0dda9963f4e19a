"""Export to JSONL/Parquet and import back: lossless, filtered, atomic, with clear errors."""

from __future__ import annotations

import json
import random

import pyarrow.parquet as pq
import pytest

from turngym.core.episode import Episode
from turngym.store import DuplicateEpisodeError, EpisodeStore, codec, exchange
from turngym.store.synthetic import synthetic_episode, synthetic_episodes


@pytest.fixture
def source(tmp_path):
    episodes = synthetic_episodes(50, seed=21, steps=3)
    branch = synthetic_episode(random.Random(1), num_turns=2)
    branch.parent_id = episodes[0].episode_id
    with EpisodeStore(tmp_path / "src") as store:
        store.write(episodes[:30])
        store.write(episodes[30:] + [branch])
        yield store, episodes + [branch]


@pytest.mark.parametrize("name", ["episodes.jsonl", "episodes.jsonl.gz", "episodes.parquet"])
def test_round_trip_is_lossless(source, tmp_path, name):
    store, episodes = source
    path = tmp_path / "out" / name
    export = store.export_parquet if name.endswith(".parquet") else store.export_jsonl
    assert export(path) == len(episodes)
    with EpisodeStore(tmp_path / "dst") as dst:
        load = dst.import_parquet if name.endswith(".parquet") else dst.import_jsonl
        assert load(path) == len(episodes)
        assert dst.query() == episodes
        assert dst.query(has_parent=True) == [episodes[-1]]
        if name.endswith(".parquet"):  # the original write times travel with Parquet
            assert [s.created_at for s in dst.summaries()] == [s.created_at for s in store.summaries()]


def test_unusual_values_round_trip(tmp_path):
    episodes = synthetic_episodes(6, seed=5, unusual_every=2)
    with EpisodeStore(tmp_path / "a") as a, EpisodeStore(tmp_path / "b") as b, EpisodeStore(tmp_path / "c") as c:
        a.write(episodes)
        a.export_jsonl(tmp_path / "x.jsonl")
        a.export_parquet(tmp_path / "x.parquet")
        b.import_jsonl(tmp_path / "x.jsonl")
        c.import_parquet(tmp_path / "x.parquet")
        want = [codec.encode(e.model_dump()) for e in episodes]
        assert [codec.encode(e.model_dump()) for e in b.query()] == want
        assert [codec.encode(e.model_dump()) for e in c.query()] == want


def test_jsonl_lines_are_episodes(source, tmp_path):
    store, episodes = source
    store.export_jsonl(tmp_path / "x.jsonl", step=1)
    lines = (tmp_path / "x.jsonl").read_text().splitlines()
    expected = [e for e in episodes if e.step == 1]
    assert [Episode.from_json(line) for line in lines] == expected
    assert json.loads(lines[0])["episode_id"] == expected[0].episode_id


def test_parquet_has_typed_header_columns(source, tmp_path):
    store, episodes = source
    assert store.export_parquet(tmp_path / "x.parquet", won=True) == sum(e.won for e in episodes)
    table = pq.read_table(tmp_path / "x.parquet")
    assert table.column("won").to_pylist() == [True] * table.num_rows
    assert table.column("num_turns").to_pylist() == [e.num_turns for e in episodes if e.won]
    assert table.column("outcome_reward").type == "double"


def test_empty_export(source, tmp_path):
    store, _ = source
    assert store.export_parquet(tmp_path / "none.parquet", run_id="nope") == 0
    assert store.export_jsonl(tmp_path / "none.jsonl", run_id="nope") == 0
    with EpisodeStore(tmp_path / "dst") as dst:
        assert dst.import_parquet(tmp_path / "none.parquet") == 0
        assert dst.import_jsonl(tmp_path / "none.jsonl") == 0


def test_import_duplicates(source, tmp_path):
    store, episodes = source
    store.export_jsonl(tmp_path / "x.jsonl")
    with pytest.raises(DuplicateEpisodeError):
        store.import_jsonl(tmp_path / "x.jsonl")
    assert store.import_jsonl(tmp_path / "x.jsonl", on_duplicate="ignore") == 0
    assert store.count() == len(episodes)


def test_import_is_all_or_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(exchange, "BATCH", 10)  # so the bad line comes after batches were inserted
    episodes = synthetic_episodes(35, seed=3)
    lines = [e.to_json() for e in episodes]
    lines[32] = '{"env_id": 5}'
    (tmp_path / "bad.jsonl").write_text("\n".join(lines) + "\n")
    with EpisodeStore(tmp_path / "dst") as dst:
        with pytest.raises(ValueError, match=r"bad.jsonl:33: not an episode"):
            dst.import_jsonl(tmp_path / "bad.jsonl")
        assert dst.count() == 0


def test_import_rejects_foreign_parquet(tmp_path):
    import pyarrow as pa

    pq.write_table(pa.table({"x": [1, 2]}), tmp_path / "foreign.parquet")
    with EpisodeStore(tmp_path / "dst") as dst, pytest.raises(ValueError, match="no 'episode' column"):
        dst.import_parquet(tmp_path / "foreign.parquet")


def test_failed_export_leaves_no_file(source, tmp_path):
    store, _ = source
    target = tmp_path / "x.jsonl"
    with pytest.raises(TypeError):
        store.export_jsonl(target, won="bad")
    assert not target.exists() and not list(tmp_path.glob(".x.jsonl*"))
