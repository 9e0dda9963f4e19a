"""Writing whole episodes and reading them back exactly; duplicates, atomicity, training updates, runs."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

import turngym
from turngym.core.episode import Episode, Turn
from turngym.store import DuplicateEpisodeError, EncodeError, EpisodeStore, RunInfo, codec
from turngym.store.synthetic import synthetic_episode, synthetic_episodes


def _canon(episode: Episode) -> str:
    """Exact text of an episode (NaN-safe, unlike ``==``, since NaN != NaN)."""
    return codec.encode(episode.model_dump())


def play_keydoor(seed: int, *, run_id: str = "run-real", group_id: str | None = None) -> Episode:
    """A real KeyDoor episode played by the env's own oracle."""
    env = turngym.make("KeyDoor-v0", expert=True)
    obs, info = env.reset(seed=seed)
    turns: list[Turn] = []
    done = False
    while not done:
        action = info["expert_action"]
        next_obs, reward, terminated, truncated, next_info = env.step(action)
        turns.append(
            Turn(
                index=len(turns),
                observation=obs,
                anchor=info.get("anchor"),
                action=action,
                action_valid=next_info["action_valid"],
                reward=reward,
                terminated=terminated,
                truncated=truncated,
                info={k: v for k, v in next_info.items() if k != "expert_action"},
            )
        )
        obs, info, done = next_obs, next_info, terminated or truncated
    return Episode(
        run_id=run_id,
        env_id="KeyDoor-v0",
        task_id=info.get("task_id"),
        group_id=group_id,
        seed=seed,
        turns=turns,
        outcome_reward=sum(t.reward for t in turns),
        won=bool(info.get("won")),
        terminated=turns[-1].terminated,
        truncated=turns[-1].truncated,
    )


@pytest.fixture
def store(tmp_run):
    with EpisodeStore(tmp_run) as s:
        yield s


def test_path_forms(tmp_path):
    with EpisodeStore(tmp_path / "run") as s:
        assert s.path == tmp_path / "run" / "episodes.db"
    with EpisodeStore(tmp_path / "run") as s:  # an existing directory
        assert s.path == tmp_path / "run" / "episodes.db"
    with EpisodeStore(tmp_path / "custom.db") as s:
        assert s.path == tmp_path / "custom.db"
    assert (tmp_path / "custom.db").is_file()


def test_round_trip_synthetic_and_real(store):
    episodes = synthetic_episodes(60, seed=1) + [play_keydoor(s, group_id="real") for s in range(5)]
    assert all(e.won for e in episodes[-5:])  # the oracle wins, so these are real, complete games
    assert store.write(episodes) == 65
    assert store.count() == 65
    back = store.query()
    assert back == episodes
    assert [store.get(e.episode_id) for e in episodes[::7]] == episodes[::7]


def test_unusual_values_survive_exactly(store):
    rng = random.Random(3)
    episode = synthetic_episode(rng, unusual=True)
    t0 = episode.turns[0]
    assert math.isnan(t0.info["nan"]) and t0.rollout_logprobs[0] == float("-inf")
    store.write([episode])
    back = store.get(episode.episode_id)
    assert _canon(back) == _canon(episode)
    b0 = back.turns[0]
    assert math.isnan(b0.info["nan"]) and b0.info["inf"] == math.inf and b0.info["big"] == 2**80
    assert b0.rollout_logprobs[:4] == [float("-inf"), -0.0, 5e-324, 1.7976931348623157e308]
    assert math.copysign(1, b0.rollout_logprobs[1]) == -1.0
    assert back.seed == 2**127 + 12345
    assert store.summaries()[0].seed == 2**127 + 12345
    assert "\u0000" in b0.observation and "🗝️" in b0.observation


def test_numpy_values_are_stored_as_plain_numbers(store):
    episode = synthetic_episode(random.Random(0), num_turns=2)
    episode.turns[0].advantage = np.float32(0.25)  # trainers hand back numpy values
    episode.turns[1].advantage = np.array([0.5, -0.5])
    episode.meta["np"] = np.int64(7)
    store.write(episode)
    back = store.get(episode.episode_id)
    assert back.turns[0].advantage == 0.25 and back.turns[1].advantage == [0.5, -0.5]
    assert back.meta["np"] == 7


def test_get_missing_raises_key_error_with_id(store):
    with pytest.raises(KeyError, match="nope-123"):
        store.get("nope-123")


def test_duplicates_error_by_default_and_write_nothing(store):
    first = synthetic_episodes(5, seed=2)
    store.write(first)
    fresh = synthetic_episodes(3, seed=99)
    with pytest.raises(DuplicateEpisodeError) as exc:
        store.write([*fresh, first[2]])
    assert first[2].episode_id in str(exc.value) and "on_duplicate='ignore'" in str(exc.value)
    assert exc.value.episode_ids == [first[2].episode_id]
    assert store.count() == 5  # the fresh ones of the failed call were not written either
    with pytest.raises(DuplicateEpisodeError):
        store.write([fresh[0], fresh[0]])  # repeated inside one call
    assert store.count() == 5


def test_duplicates_ignored_on_request(store):
    first = synthetic_episodes(5, seed=2)
    store.write(first)
    fresh = synthetic_episodes(3, seed=99)
    assert store.write([*first, *fresh, fresh[0]], on_duplicate="ignore") == 3
    assert store.count() == 8
    assert store.write(first, on_duplicate="ignore") == 0
    with pytest.raises(ValueError, match="on_duplicate"):
        store.write(fresh, on_duplicate="replace")  # type: ignore[arg-type]


def test_unencodable_value_fails_clearly_and_atomically(store):
    good = synthetic_episodes(3, seed=4)
    bad = synthetic_episode(random.Random(5), num_turns=2)
    bad.turns[1].info["obj"] = object()
    with pytest.raises(EncodeError, match=bad.episode_id):
        store.write([*good, bad])
    assert store.count() == 0


def test_write_rejects_non_episodes(store):
    with pytest.raises(TypeError, match="Episode"):
        store.write([{"env_id": "x"}])  # type: ignore[list-item]


def test_empty_episode_and_empty_write(store):
    assert store.write([]) == 0
    empty = Episode(env_id="KeyDoor-v0", error="env failed to reset")
    store.write(empty)
    assert store.get(empty.episode_id) == empty
    assert store.summaries()[0].num_turns == 0


def test_update_training_fields(store):
    episodes = synthetic_episodes(4, seed=6)
    store.write(episodes)
    target = episodes[1].model_copy(deep=True)
    for i, turn in enumerate(target.turns):
        turn.advantage = [0.1 * i] * 3 if i % 2 else 0.5 - i
        turn.clip_scale = 0.8
        turn.trainer_logprobs = [-0.25, -1.5]
        turn.step_reward = 0.01 * i
        turn.info_gain = 0.3
        turn.entropy = 1.25
        turn.action = "tampered"  # not a training field: must not be stored
    target.step = 17
    target.meta = {"policy_version": 17, "loss": 0.5}
    store.update_training_fields([target])
    back = store.get(target.episode_id)
    expected = target.model_copy(deep=True)
    for turn, original in zip(expected.turns, episodes[1].turns, strict=True):
        turn.action = original.action
    assert back == expected
    assert store.summaries(step=17)[0].episode_id == target.episode_id
    assert [store.get(e.episode_id) for e in (episodes[0], episodes[2])] == [episodes[0], episodes[2]]


def test_update_training_fields_is_atomic_and_checks_input(store):
    episodes = synthetic_episodes(2, seed=7)
    store.write(episodes)
    changed = episodes[0].model_copy(deep=True)
    changed.turns[0].advantage = 9.0
    unknown = synthetic_episode(random.Random(8))
    with pytest.raises(KeyError, match=unknown.episode_id):
        store.update_training_fields([changed, unknown])
    assert store.get(changed.episode_id).turns[0].advantage is None  # rolled back
    shorter = episodes[1].model_copy(deep=True)
    shorter.turns = shorter.turns[:-1]
    with pytest.raises(ValueError, match="turns given"):
        store.update_training_fields(shorter)


def test_branches_are_ordinary_episodes(store):
    parent = synthetic_episode(random.Random(9), num_turns=6)
    child = synthetic_episode(random.Random(10), num_turns=3)
    child.parent_id, child.branch_turn = parent.episode_id, 2
    store.write([parent])
    store.write([child])
    assert store.query(parent_id=parent.episode_id) == [child]
    assert store.query(has_parent=True) == [child]
    assert store.query(has_parent=False) == [parent]


def test_runs(store):
    store.set_run("run-a", {"lr": 1e-3, "algo": "gigpo"}, host="box")
    store.set_run("run-a", None, note="resumed")  # keeps config, merges meta
    store.write(synthetic_episodes(3, run_id="run-a") + synthetic_episodes(2, run_id="run-b", seed=1))
    runs = store.runs()
    assert [r.run_id for r in runs] == ["run-a", "run-b"]
    a, b = runs
    assert isinstance(a, RunInfo)
    assert a.config == {"lr": 1e-3, "algo": "gigpo"} and a.meta == {"host": "box", "note": "resumed"}
    assert a.num_episodes == 3 and b.num_episodes == 2 and b.config == {}
    store.set_run("run-a", {"lr": 2e-3})
    assert store.runs()[0].config == {"lr": 2e-3}
    with pytest.raises(TypeError):
        store.set_run("run-c", config=["not", "a", "dict"])  # type: ignore[arg-type]


def test_readonly(tmp_path):
    with pytest.raises(FileNotFoundError):
        EpisodeStore(tmp_path / "missing", readonly=True)
    episodes = synthetic_episodes(3)
    with EpisodeStore(tmp_path / "run") as s:
        s.write(episodes)
    with EpisodeStore(tmp_path / "run", readonly=True) as ro:
        assert ro.query() == episodes
        with pytest.raises(PermissionError):
            ro.write(synthetic_episodes(1, seed=5))
        with pytest.raises(PermissionError):
            ro.set_run("x")


def test_not_a_store(tmp_path):
    path = tmp_path / "other.db"
    import sqlite3

    sqlite3.connect(path).execute("CREATE TABLE t (x)").connection.commit()
    with pytest.raises(ValueError, match="not an episode store"):
        EpisodeStore(path, readonly=True)
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ValueError, match="not an episode store"):
        EpisodeStore(garbage)


def test_newer_schema_refused(tmp_path):
    import sqlite3

    with EpisodeStore(tmp_path / "run") as s:
        path = s.path
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.commit()
    conn.close()
    with pytest.raises(ValueError, match="schema version 99"):
        EpisodeStore(path)


def test_delete_for_trainer_resume(store):
    episodes = synthetic_episodes(40, seed=12, steps=5)
    other = synthetic_episodes(5, seed=13, run_id="other", steps=5)
    store.write(episodes + other)
    lost = [e for e in episodes if e.step >= 3]
    assert lost and store.delete(run_id="run-0", min_step=3) == len(lost)
    assert store.query() == [e for e in episodes if e.step < 3] + other
    with pytest.raises(ValueError, match="at least one filter"):
        store.delete()
    with pytest.raises(ValueError, match="at least one filter"):
        store.delete(run_id=None)
    assert store.delete(run_id="nope") == 0
    import sqlite3

    conn = sqlite3.connect(store.path)
    n_turns = conn.execute("SELECT COUNT(*) FROM turns").fetchone()[0]
    conn.close()
    assert n_turns == sum(e.num_turns for e in store.query())  # no orphan turns
