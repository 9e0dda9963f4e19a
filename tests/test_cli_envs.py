"""The turngym command line, driven in-process with typer's runner."""

import sys
from pathlib import Path

from typer.testing import CliRunner

import turngym
from turngym.cli.main import app

sys.path.insert(0, str(Path(__file__).parent / "envs"))
from checker_broken_envs import BirdsongKeyDoor  # noqa: E402

runner = CliRunner()


def test_envs_lists_builtins():
    result = runner.invoke(app, ["envs"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "KeyDoor-v0" in result.output and "ToolCalc-v0" in result.output


def test_check_passes_builtins():
    for env_id in ("KeyDoor-v0", "ToolCalc-v0"):
        result = runner.invoke(app, ["check", env_id], env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
        assert "passes all checks" in result.output


def test_check_fails_broken_env_with_precise_message():
    turngym.register("BirdsongKeyDoor-v0", BirdsongKeyDoor)
    result = runner.invoke(app, ["check", "BirdsongKeyDoor-v0"], env={"COLUMNS": "200"})
    assert result.exit_code == 1
    assert "FAIL" in result.output and "determinism" in result.output


def test_check_unknown_env_suggests():
    result = runner.invoke(app, ["check", "KeyDor-v0"], env={"COLUMNS": "200"})
    assert result.exit_code == 2 and "KeyDoor-v0" in result.output


def test_rollout_writes_store(tmp_path):
    from turngym.store import EpisodeStore

    out = tmp_path / "run"
    result = runner.invoke(app, ["rollout", "KeyDoor-v0", "--agent", "oracle", "-n", "5", "--group", "2", "--out", str(out)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "1.000" in result.output  # success column
    with EpisodeStore(out, readonly=True) as store:
        eps = store.query()
        assert len(eps) == 10 and all(e.won for e in eps)
        assert len(store.runs()) == 1


def test_play_saves_episode(tmp_path):
    env = turngym.make("KeyDoor-v0", expert=True)
    _, info = env.reset(seed=4)
    actions = []
    while "expert_action" in info:
        actions.append(info["expert_action"])
        *_, term, trunc, info = env.step(actions[-1])
        if term or trunc:
            break
    out = tmp_path / "play"
    result = runner.invoke(app, ["play", "KeyDoor-v0", "--seed", "4", "--out", str(out)], input="\n".join(actions) + "\n")
    assert result.exit_code == 0, result.output
    assert "won" in result.output
    from turngym.store import EpisodeStore

    with EpisodeStore(out, readonly=True) as store:
        (ep,) = store.query()
    assert ep.won and ep.actions == actions and ep.final_observation.endswith("You win!")
