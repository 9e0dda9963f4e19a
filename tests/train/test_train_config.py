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


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_dry_run_plans_the_gpu_recipe_without_weights(path):
    from rich.console import Console

    from turngym.train.plan import print_plan

    console = Console(record=True, width=160)
    plan = print_plan(load_config(path, profile="none"), console)
    text = console.export_text()
    published = {"Qwen/Qwen2.5-1.5B-Instruct": (1.5e9, 1.6e9), "Qwen/Qwen2.5-3B-Instruct": (3.0e9, 3.2e9),
                 "Qwen/Qwen2.5-Coder-7B-Instruct": (7.5e9, 7.7e9), "Qwen/Qwen2.5-Math-7B": (7.5e9, 7.7e9), "Qwen/Qwen3-8B": (8.1e9, 8.3e9)}
    low, high = published[load_config(path, profile="none").model.path]
    assert low < plan["params"] < high  # from the model's published shape
    assert "vLLM KV cache" in text and "trainer total" in text and "nothing was loaded" in text


def test_dry_run_cli(tmp_path):
    from typer.testing import CliRunner

    from turngym.cli.main import app

    result = CliRunner().invoke(app, ["train", str(CONFIGS[0]), "--profile", "none", "--dry-run"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "the plan" in result.output
    bad = CliRunner().invoke(app, ["train", str(CONFIGS[0]), "optim.lrr=1"], env={"COLUMNS": "200"})
    assert bad.exit_code == 2 and "optim.lrr: unknown key" in bad.output


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_cpu_profiles_are_cpu_sized(path):
    cfg = load_config(path, profile="cpu")
    assert cfg.model.init == "tiny" and cfg.policy.backend == "hf"
    assert not cfg.optim.gradient_checkpointing  # it turns the KV cache off, which cripples generation
    assert cfg.optim.kl_coef == 0.0 and cfg.rollout.num_envs <= 64


def test_unknown_template_or_projection_fails_early():
    with pytest.raises(ConfigError, match="policy: unknown projection 'thinking'"):
        validate_combination(load_config(None, ["policy.projection=thinking"]))
    with pytest.raises(ConfigError, match="policy: unknown template 'fancy'"):
        validate_combination(load_config(None, ["policy.template=fancy"]))
