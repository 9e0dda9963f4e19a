"""The acceptance check: 10,000 realistic episodes written and read back identical."""

from __future__ import annotations

import pytest

from turngym.store import EpisodeStore
from turngym.store.synthetic import synthetic_episodes


@pytest.mark.parametrize(
    "n",
    [pytest.param(1_000, id="1k"), pytest.param(10_000, id="10k", marks=pytest.mark.slow)],
)
def test_many_episodes_read_back_identical(tmp_path, n):
    episodes = synthetic_episodes(n, seed=42, steps=10)
    assert sum(e.num_turns for e in episodes) > 7 * n  # ~8 turns each, with token ids/logprobs/masks
    with EpisodeStore(tmp_path / "run") as store:
        for start in range(0, n, 2_500):  # a trainer writes in batches
            assert store.write(episodes[start : start + 2_500]) == len(episodes[start : start + 2_500])
        assert store.count() == n
        summaries = store.summaries()
        assert [s.episode_id for s in summaries] == [e.episode_id for e in episodes]
        assert [s.num_turns for s in summaries] == [e.num_turns for e in episodes]
        read = 0
        for original, back in zip(episodes, store.iter_episodes(batch_size=500), strict=True):
            assert back == original
            read += 1
        assert read == n
        page = store.query(order_by="outcome_reward", descending=True, limit=50, offset=100)
        expected = sorted(range(n), key=lambda i: (episodes[i].outcome_reward, i), reverse=True)[100:150]
        assert page == [episodes[i] for i in expected]
