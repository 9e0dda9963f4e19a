from pathlib import Path

import pytest

from turngym.train.config import ConfigError, load_config
from turngym.train.trainer import validate_combination

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_shipped_configs_validate_in_every_profile(path):
    base = load_config(path, profile=None)
    for profile in base.profiles or {}:
        load_config(path, profile=profile)


def test_overrides_and_profiles(tmp_path):
    cfg = load_config(CONFIGS[0], ["algo.params.gamma=0.9", "run.steps=3"], profile="cpu")
    assert cfg.algo.params["gamma"] == 0.9 and cfg.run.steps == 3
    assert cfg.model.init == "tiny" and cfg.policy.backend == "hf"
    gpu = load_config(CONFIGS[0], profile=None)
    assert gpu.policy.backend == "vllm"


@pytest.mark.parametrize(
    "override,message",
    [
        ("optim.lrr=1", "optim.lrr: unknown key (did you mean optim.lr?)"),
        ("algo.name=ppo", "algo.name: Input should be"),
        ("rollout.group_size=zero", "rollout.group_size"),
        ("optim.loss_agg=mean", "optim.loss_agg"),
        ("nonsense", "must look like section.key=value"),
    ],
)
def test_bad_config_names_the_key(override, message):
    with pytest.raises(ConfigError) as exc:
        load_config(None, [override])
    assert message in str(exc.value)


def test_missing_profile_and_file(tmp_path):
    with pytest.raises(ConfigError, match="profile 'tpu' not in config"):
        load_config(CONFIGS[0], profile="tpu")
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")


def test_impossible_combinations_fail_before_work():
    with pytest.raises(ConfigError, match="a2tgpo needs info\\['ground_truth'\\]"):
        validate_combination(load_config(None, ["algo.name=a2tgpo", "env.id=KeyDoor-v0"]))
    with pytest.raises(ConfigError, match="cannot be made"):
        validate_combination(load_config(None, ["env.id=KeyDoor-v0", "env.kwargs.size=7"]))
    with pytest.raises(ConfigError, match="cannot be made"):
        validate_combination(load_config(None, ["env.id=KeyDor-v0"]))
    validate_combination(load_config(None, ["algo.name=a2tgpo", "env.id=ToolCalc-v0", "policy.layout=concat"]))
