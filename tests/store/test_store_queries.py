"""Filters, ordering, pagination, summaries and iteration, checked against a plain-Python oracle."""

from __future__ import annotations

import math

import pytest

from turngym.core.episode import Episode
from turngym.store import FILTER_NAMES, ORDER_COLUMNS, EpisodeStore, EpisodeSummary
from turngym.store.synthetic import synthetic_episodes


@pytest.fixture(scope="module")
def populated(tmp_path_factory):
    """Two runs, two envs, several steps, branches and errors; written in several calls."""
    a = synthetic_episodes(120, seed=11, run_id="run-a", steps=4)
    b = synthetic_episodes(40, seed=12, run_id="run-b", env_id="ToolCalc-v0", group_size=4, steps=2)
    for i, e in enumerate(b):
        if i % 5 == 0:
            e.parent_id, e.branch_turn = a[i].episode_id, 1
        if i % 7 == 0:
            e.error = "timeout"
        e.outcome_reward = (i % 9) / 8  # a spread of rewards for range queries
    episodes = a + b
    store = EpisodeStore(tmp_path_factory.mktemp("q") / "run")
    for start in range(0, len(episodes), 25):
        store.write(episodes[start : start + 25])
    yield store, episodes
    store.close()


def _ids(items: list[Episode] | list[EpisodeSummary]) -> list[str]:
    return [e.episode_id for e in items]


CASES = [
    ({}, lambda e: True),
    ({"run_id": "run-b"}, lambda e: e.run_id == "run-b"),
    ({"env_id": "ToolCalc-v0"}, lambda e: e.env_id == "ToolCalc-v0"),
    ({"task_id": "task-3"}, lambda e: e.task_id == "task-3"),
    ({"group_id": "run-a-g2"}, lambda e: e.group_id == "run-a-g2"),
    ({"run_id": ["run-a", "run-b"], "won": True}, lambda e: e.won),
    ({"won": False, "truncated": True}, lambda e: not e.won and e.truncated),
    ({"min_reward": 0.25, "max_reward": 0.75}, lambda e: 0.25 <= e.outcome_reward <= 0.75),
    ({"step": 2}, lambda e: e.step == 2),
    ({"min_step": 1, "max_step": 2, "run_id": "run-a"}, lambda e: e.run_id == "run-a" and 1 <= e.step <= 2),
    ({"max_invalid_rate": 0.0}, lambda e: e.invalid_rate == 0.0),
    ({"min_invalid_rate": 0.2}, lambda e: e.invalid_rate >= 0.2),
    ({"has_parent": True}, lambda e: e.parent_id is not None),
    ({"error": True}, lambda e: e.error is not None),
    ({"error": False, "env_id": "ToolCalc-v0"}, lambda e: e.error is None and e.env_id == "ToolCalc-v0"),
    ({"task_id": None, "won": None}, lambda e: True),  # None = no filter
    ({"run_id": []}, lambda e: False),
]


@pytest.mark.parametrize(("filters", "predicate"), CASES, ids=[str(c[0]) for c in CASES])
def test_filters_match_python_oracle(populated, filters, predicate):
    store, episodes = populated
    expected = [e for e in episodes if predicate(e)]
    assert expected or filters == {"run_id": []}
    assert store.count(**filters) == len(expected)
    assert _ids(store.summaries(**filters)) == _ids(expected)
    assert store.query(**filters) == expected
    assert list(store.iter_episodes(batch_size=7, **filters)) == expected


def test_parent_filter(populated):
    store, episodes = populated
    parent = episodes[5]
    children = [e for e in episodes if e.parent_id == parent.episode_id]
    assert children and store.query(parent_id=parent.episode_id) == children


@pytest.mark.parametrize("order_by", ORDER_COLUMNS)
@pytest.mark.parametrize("descending", [False, True])
def test_ordering_and_pagination(populated, order_by, descending):
    store, episodes = populated
    position = {e.episode_id: i for i, e in enumerate(episodes)}

    def key(e: Episode):
        # created_at: written in order, so insertion order (the tie-breaker) decides
        derived = {"created_at": 0, "num_turns": e.num_turns, "invalid_rate": e.invalid_rate}
        value = derived[order_by] if order_by in derived else getattr(e, order_by)
        return (value, position[e.episode_id])

    expected = sorted(episodes, key=key, reverse=descending)
    got = _ids(store.summaries(order_by=order_by, descending=descending))
    assert got == _ids(expected)
    pages = [
        _ids(store.summaries(order_by=order_by, descending=descending, limit=30, offset=o)) for o in range(0, 200, 30)
    ]
    assert sum(pages, []) == _ids(expected)
    assert store.query(order_by=order_by, descending=descending, limit=10, offset=20) == expected[20:30]


def test_offset_without_limit(populated):
    store, episodes = populated
    assert _ids(store.summaries(offset=150)) == _ids(episodes[150:])
    assert store.summaries(limit=0) == []


def test_summaries_carry_the_header(populated):
    store, episodes = populated
    by_id = {s.episode_id: s for s in store.summaries()}
    for e in episodes:
        s = by_id[e.episode_id]
        assert (s.run_id, s.env_id, s.task_id, s.group_id, s.seed, s.step) == (
            e.run_id,
            e.env_id,
            e.task_id,
            e.group_id,
            e.seed,
            e.step,
        )
        assert (s.won, s.outcome_reward, s.score, s.truncated, s.error, s.parent_id) == (
            e.won,
            e.outcome_reward,
            e.score,
            e.truncated,
            e.error,
            e.parent_id,
        )
        assert s.num_turns == e.num_turns and math.isclose(s.invalid_rate, e.invalid_rate)
        assert s.created_at > 1.7e9


def test_group(populated):
    store, episodes = populated
    group = store.group("run-b-g3")
    assert group == [e for e in episodes if e.group_id == "run-b-g3"] and len(group) == 4


def test_bad_arguments_name_the_valid_options(populated):
    store, _ = populated
    with pytest.raises(ValueError, match="allowed: created_at, outcome_reward"):
        store.query(order_by="reward")
    with pytest.raises(TypeError, match="valid filters") as exc:
        store.count(sucess=True)
    assert all(name in str(exc.value) for name in FILTER_NAMES)
    with pytest.raises(TypeError, match="won takes a bool"):
        store.count(won="yes")
    with pytest.raises(TypeError, match="step takes an int"):
        store.count(step=1.5)
    with pytest.raises(TypeError, match="min_reward takes a number"):
        store.count(min_reward="0.5")
    with pytest.raises(ValueError, match="limit"):
        store.query(limit=-1)
    with pytest.raises(ValueError, match="offset"):
        store.summaries(offset=-3)
    with pytest.raises(ValueError, match="64 bits"):
        store.count(min_step=2**64)
    with pytest.raises(ValueError, match="offset"):
        store.summaries(offset=2**70)
    with pytest.raises(ValueError, match="batch_size"):
        next(store.iter_episodes(batch_size=0))


def test_iteration_sees_episodes_appended_meanwhile(tmp_path):
    with EpisodeStore(tmp_path / "run") as store:
        first = synthetic_episodes(10, seed=1)
        later = synthetic_episodes(5, seed=2)
        store.write(first)
        it = store.iter_episodes(batch_size=4)
        seen = [next(it) for _ in range(4)]
        store.write(later)
        seen += list(it)
        assert seen == first + later
