import subprocess
import sys
from pathlib import Path

import gymnasium
import pytest

import turngym
from turngym.envs import TextEnv, UnknownEnvError, list_envs

BUILTIN = ["KeyDoor-v0", "ToolCalc-v0"]
ROOT = Path(__file__).resolve().parents[2]


def test_builtins_listed():
    ids = [s.id for s in list_envs()]
    for env_id in BUILTIN:
        assert env_id in ids


@pytest.mark.parametrize("env_id", BUILTIN)
def test_gymnasium_make(env_id):
    env = gymnasium.make(f"turngym/{env_id}", expert=True)
    obs, info = env.reset(seed=1)
    assert isinstance(obs, str) and isinstance(env.unwrapped, TextEnv)
    obs, reward, terminated, truncated, info = env.step(info["expert_action"])
    assert info["action_valid"] is True


def test_unknown_id_names_close_matches():
    with pytest.raises(UnknownEnvError, match=r"Did you mean 'KeyDoor-v0'"):
        turngym.make("KeyDor-v0")
    with pytest.raises(UnknownEnvError, match="Registered:"):
        turngym.make("Nothing-v9")


def test_bad_kwarg_names_valid_options():
    with pytest.raises(TypeError, match=r"unknown argument\(s\) 'sise' \(did you mean 'size'\?\).*Valid arguments: size, hint"):
        turngym.make("KeyDoor-v0", sise=4)
    with pytest.raises(ValueError, match="split must be one of"):
        turngym.make("KeyDoor-v0", split="nope")


def test_register_requires_version_and_overrides_defaults():
    with pytest.raises(ValueError, match="version"):
        turngym.register("NoVersion", "turngym.envs.toys.keydoor:KeyDoorEnv")
    turngym.register("KeyDoor4-v0", "turngym.envs.toys.keydoor:KeyDoorEnv", size=4)
    assert turngym.make("KeyDoor4-v0").size == 4
    assert turngym.make("KeyDoor4-v0", size=3).size == 3
    assert gymnasium.make("turngym/KeyDoor4-v0").unwrapped.size == 4


@pytest.mark.slow
def test_third_party_plugin_is_discovered(tmp_path):
    """Install a real package declaring `turngym.envs` entry points and see its envs listed."""
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target", str(target), str(ROOT / "tests" / "plugin_pkg")],
        check=True,
    )
    env = {"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin", "COLUMNS": "200"}
    out = subprocess.run([sys.executable, "-m", "turngym.cli.main", "envs"], capture_output=True, text=True, env=env, check=True).stdout
    assert "Echo-v0" in out and "EchoPair-v0" in out and "plugin:turngym-echo" in out
    code = (
        "import gymnasium, turngym; e = turngym.make('Echo-v0', expert=True); o, i = e.reset(seed=0);"
        "print(e.step(i['expert_action'])[4]['won']); print(type(gymnasium.make('turngym/EchoPair-v0').unwrapped).__name__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout.split()
    assert out == ["True", "EchoEnv"]
    check = subprocess.run([sys.executable, "-m", "turngym.cli.main", "check", "Echo-v0"], capture_output=True, text=True, env=env)
    assert check.returncode == 0, check.stdout + check.stderr
