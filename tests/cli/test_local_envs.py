"""Issue 18.4: local envs (file.py:Class, module:Class, --import) on every env command."""

import subprocess
import sys

import pytest

from cli_helpers import CONFIG, ROOT, cli_env, turngym_cli
from turngym.store import EpisodeStore

GUESS = f"{ROOT / 'examples' / 'guess_env.py'}:GuessEnv"


def test_check_and_rollout_a_file_env_in_worker_processes(tmp_path):
    proc = turngym_cli("check", "--env", GUESS, "--fuzz", "30")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "passes all checks" in proc.stdout
    out = tmp_path / "run"
    proc = turngym_cli("rollout", "--env", GUESS, "--agent", "oracle", "-n", "4", "--workers", "2", "--out", out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with EpisodeStore(out, readonly=True) as store:
        eps = store.query()
    assert len(eps) == 4 and all(e.won and e.num_turns == 1 and e.task_id.startswith("guess-") for e in eps)


def test_play_a_file_env_with_piped_actions(tmp_path):
    # an out-of-range menu number is refused without spending a turn, then the guesses go on
    proc = turngym_cli("play", GUESS, "--seed", "3", "-e", "max_turns=9", "--out", tmp_path / "p", input="42\n" + "".join(f"{i}\n" for i in range(1, 10)))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no action number 42" in proc.stdout
    with EpisodeStore(tmp_path / "p", readonly=True) as store:
        (ep,) = store.query()
    assert ep.won and [t.action for t in ep.turns] == [str(i) for i in range(1, len(ep.turns) + 1)]
    assert "> 1" in proc.stdout  # piped actions are echoed


def test_import_module_and_module_class_targets(tmp_path):
    (tmp_path / "my_envs.py").write_text(
        "import turngym\nturngym.register('Guess9-v0', 'guess_env:GuessEnv', max_turns=9)\n"
    )
    extra = f"{tmp_path}:{ROOT / 'examples'}"
    proc = turngym_cli("check", "Guess9-v0", "--import", "my_envs", "--fuzz", "20", extra_path=extra)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = turngym_cli("check", "guess_env:GuessEnv", "--fuzz", "20", extra_path=extra)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    bad = turngym_cli("check", "--import", "no_such_module_xyz", "KeyDoor-v0")
    assert bad.returncode == 2 and "--import no_such_module_xyz" in bad.stderr and "Traceback" not in bad.stderr
    bad = turngym_cli("check", f"{ROOT / 'examples' / 'guess_env.py'}:NoSuchEnv")
    assert bad.returncode == 2 and "has no class 'NoSuchEnv'" in bad.stderr


def test_train_takes_a_local_env():
    proc = turngym_cli("train", CONFIG, "--env", "examples/guess_env.py:GuessEnv", "--dry-run", "bc.enabled=false")  # cwd: the repo
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "GuessEnv" in proc.stdout and "config is valid" in proc.stdout


@pytest.mark.slow
def test_plugin_envs_reach_gymnasium_make_without_turngym_make(tmp_path):
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target", str(target), str(ROOT / "tests" / "plugin_pkg")],
        check=True,
    )
    code = "import gymnasium, turngym; print(type(gymnasium.make('turngym/Echo-v0').unwrapped).__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=cli_env(str(target)), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["EchoEnv"]
