import numpy as np
import pytest
from pydantic import ValidationError

from turngym import Episode, Turn, TurnTable


def _ep(group, rewards, anchors, valid=None, outcome=None):
    turns = [
        Turn(index=i, observation=f"obs {a}", anchor=a, action="a", reward=r, action_valid=True if valid is None else valid[i])
        for i, (r, a) in enumerate(zip(rewards, anchors))
    ]
    return Episode(env_id="KeyDoor-v0", group_id=group, turns=turns, outcome_reward=sum(rewards) if outcome is None else outcome)


def test_episode_json_round_trip_keeps_every_field():
    ep = _ep("g", [0.0, 1.0], ["s0", "s1"])
    ep.turns[0].response_token_ids = [1, 2, 3]
    ep.turns[0].rollout_logprobs = [-0.1, -0.2, -0.3]
    ep.turns[0].loss_mask = [1, 1, 0]
    ep.turns[0].prompt = [{"role": "user", "content": "hi"}]
    ep.turns[1].advantage = [0.5, 0.25]
    ep.turns[1].info = {"nested": {"x": [1, 2]}, "won": True}
    again = Episode.from_json(ep.to_json())
    assert again == ep
    assert again.turns[1].advantage == [0.5, 0.25]


def test_training_fields_are_optional_and_typed():
    t = Turn(index=0)
    assert t.advantage is None and t.clip_scale is None and t.trainer_logprobs is None
    with pytest.raises(ValidationError):
        Turn(index=0, loss_mask=[0, 2])
    with pytest.raises(ValidationError):
        Turn(index=-1)
    with pytest.raises(ValidationError):
        Episode(env_id="x", bogus=1)


def test_turn_table_from_episodes_and_write_back():
    eps = [_ep("g1", [0, 0, 10], ["s0", "s1", "s2"]), _ep("g1", [0, -0.1], ["s0", "s1"], valid=[True, False]), _ep(None, [1], ["z"])]
    table = TurnTable.from_episodes(eps)
    assert len(table) == 6
    assert table.group.tolist() == [0, 0, 0, 0, 0, 1]
    assert table.traj.tolist() == [0, 0, 0, 1, 1, 2]
    assert table.turn.tolist() == [0, 1, 2, 0, 1, 0]
    assert table.final.tolist() == [False, False, True, False, True, True]
    assert table.valid.tolist() == [True, True, True, True, False, True]
    assert list(table.anchor) == ["s0", "s1", "s2", "s0", "s1", "z"]
    assert table.outcome.tolist() == [10, 10, 10, -0.1, -0.1, 1]
    table.write_back(eps, np.arange(6, dtype=float), clip_scale=np.ones(6))
    assert [t.advantage for t in eps[1].turns] == [3.0, 4.0]
    assert eps[2].turns[0].clip_scale == 1.0


def test_turn_table_validates_lengths_and_derives_final():
    with pytest.raises(ValueError, match="'reward' has length 2, expected 3"):
        TurnTable(group=[0, 0, 0], traj=[0, 0, 1], turn=[0, 1, 0], reward=[1, 2])
    t = TurnTable(group=[0, 0, 0], traj=[0, 0, 1], turn=[1, 0, 0], reward=[1, 2, 3])
    assert t.final.tolist() == [True, False, True]
    with pytest.raises(KeyError, match="info_gain"):
        t.column("info_gain")
    perm = np.array([2, 0, 1])
    assert t.take(perm).reward.tolist() == [3, 1, 2]
