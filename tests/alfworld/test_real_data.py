"""Real ALFWorld games (shared/data/alfworld, valid_seen): the loader, the engine, the expert."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("alfworld", reason="the alfworld extra is not installed (bash scripts/install_alfworld.sh)")

import turngym
from turngym.envs.alfworld.engine import (
    AlfredEngine,
    domain_text,
    grammar_text,
    task_text_from_grammar,
)
from turngym.envs.alfworld.tasks import load_games_dir, run_expert

#: One game per task type, spread over the four room types.
PICKS = (0, 20, 50, 75, 95, 120)


@pytest.fixture(scope="module")
def records(real_data_dir):
    return load_games_dir(real_data_dir)


def test_loader_finds_the_valid_seen_split(records) -> None:
    assert len(records) == 140
    assert {r.task_type for r in records} == {
        "pick_and_place_simple", "look_at_obj_in_light", "pick_clean_then_place_in_recep",
        "pick_heat_then_place_in_recep", "pick_cool_then_place_in_recep", "pick_two_obj_and_place",
    }
    assert {r.room for r in records} == {"Kitchen", "LivingRoom", "Bedroom", "Bathroom"}
    assert [r.task_id for r in records] == sorted(r.task_id for r in records)


def test_games_are_rebuilt_on_the_installed_domain_and_grammar(records, real_data_dir) -> None:
    record = records[0]
    stored = json.loads((real_data_dir / record.task_id / "game.tw-pddl").read_text())
    assert record.game["pddl_problem"] == stored["pddl_problem"]
    assert record.game["pddl_domain"] == domain_text() != stored["pddl_domain"]
    # the released game's task sentence is kept, on the installed grammar
    task = task_text_from_grammar(stored["grammar"])
    assert task == "look at alarmclock under the desklamp"
    assert record.game["grammar"] == grammar_text().replace("UNKNOWN GOAL", task)


@pytest.mark.parametrize("pick", PICKS)
def test_expert_wins_real_games(records, pick: int) -> None:
    run = run_expert(records[pick], seed=1)
    assert run.won, records[pick].task_id


def test_env_plays_a_real_game_by_task_id(real_data_dir, records) -> None:
    env = turngym.make("turngym/ALFWorld-v0", games_dir=str(real_data_dir), expert=True)
    assert env.num_tasks == 140
    task_id = records[50].task_id
    obs, info = env.reset(seed=0, options={"task_id": task_id})
    assert info["task_id"] == task_id and "Your task is to: " in obs
    done = False
    while not done:
        obs, reward, terminated, truncated, info = env.step(info["expert_action"])
        done = terminated or truncated
    assert info["won"] and reward == 10.0
    with pytest.raises(KeyError):
        env.reset(options={"task_id": "valid_seen/nope"})
    env.close()


def test_games_dir_errors_are_clear(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="not a directory"):
        load_games_dir(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="no playable ALFWorld game"):
        load_games_dir(tmp_path)


def test_engine_matches_plain_textworld_gym_path(records, tmp_path) -> None:
    """Our per-instance engine (with its caches) prints exactly what ALFWorld's own path prints."""
    import textworld
    import textworld.gym
    from alfworld.agents.environment.alfred_tw_env import AlfredDemangler, AlfredInfos

    record = records[95]
    (tmp_path / "game.tw-pddl").write_text(json.dumps(record.game))
    (tmp_path / "traj_data.json").write_text(json.dumps(record.traj))
    infos = textworld.EnvInfos(won=True, admissible_commands=True, extras=["gamefile"])
    env_id = textworld.gym.register_games(
        [str(tmp_path / "game.tw-pddl")], infos, batch_size=1, asynchronous=False, max_episode_steps=500,
        wrappers=[AlfredDemangler(shuffle=False), AlfredInfos],
    )
    plain = textworld.gym.make(env_id)
    obs, info = plain.reset()
    engine = AlfredEngine()
    engine.load(record.game)
    state = engine.reset()
    assert obs[0] == state.feedback and info["admissible_commands"][0] == state.admissible_commands
    actions = run_expert(record, seed=1).actions
    for action in actions:
        obs, _, _, info = plain.step([action])
        state = engine.step(action)
        assert obs[0] == state.feedback
        assert info["admissible_commands"][0] == state.admissible_commands
        assert info["won"][0] == state.won
    assert state.won
    plain.close()
