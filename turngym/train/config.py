"""Training configuration: YAML files validated by pydantic, with dotted command-line overrides.

A config file holds the published (GPU) hyper-parameters at the top level and may carry
``profiles: {cpu: {...}, gpu: {...}}`` whose entries override them; ``turngym train CFG
--profile cpu`` picks one, ``--profile none`` the top level, and the default ``auto`` picks
``cpu`` when no CUDA device is visible (``gpu`` otherwise, or the top level when the file has no
such profile). Overrides such as
``algo.params.gamma=0.9`` are applied last. Every section forbids unknown keys, so a typo fails
before any work starts with the key's path and, where it helps, the allowed values.
"""

from __future__ import annotations

import copy
import difflib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())


class RunConfig(_Section):
    out: str = "runs/train"
    seed: int = 0
    steps: int = Field(40, ge=0, description="RL iterations (rollout + update).")
    checkpoint_every: int = Field(10, ge=1)
    keep_checkpoints: int = Field(2, ge=1)
    tensorboard: bool = True
    wandb: bool = False
    wandb_project: str = "turngym"
    threads: int | None = Field(None, ge=1, description="torch threads; None keeps torch's default.")


class EnvConfig(_Section):
    id: str = "KeyDoor-v0"
    kwargs: dict[str, Any] = Field(default_factory=dict)
    train_split: str | None = "train"
    eval_split: str | None = "test"


class LoraConfig(_Section):
    enabled: bool = False
    r: int = Field(8, ge=1)
    alpha: int = Field(16, ge=1)
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    target_modules: list[str] = Field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"])


class ModelConfig(_Section):
    path: str | None = Field(None, description="HF model directory (or hub id on machines that have it cached).")
    init: Literal["tiny", "small"] | None = Field("tiny", description="Build a fresh local model when path is None.")
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    lora: LoraConfig = Field(default_factory=LoraConfig)

    @model_validator(mode="after")
    def _one_source(self) -> ModelConfig:
        if self.path is None and self.init is None:
            raise ValueError("model needs either path (an HF model directory) or init (tiny|small)")
        return self


class PolicyConfig(_Section):
    backend: Literal["hf", "vllm"] = "hf"
    layout: Literal["step", "concat"] = "step"
    concat_reply: Literal["chat", "inline"] = Field("chat", description="Concat layout: env replies as user turns, or inline in the assistant turn (Search-R1).")
    template: str = "auto"
    projection: str | dict[str, Any] = Field("auto", description="A projection name, or {name: ..., **options}.")
    history_k: int = Field(2, ge=0)
    max_new_tokens: int = Field(16, ge=1)
    max_prompt_tokens: int = Field(1024, ge=16)
    temperature: float = Field(1.0, gt=0.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    eval_temperature: float = Field(1.0, ge=0.0, description="0 = greedy evaluation.")
    vllm: dict[str, Any] = Field(default_factory=dict, description="Extra vllm.LLM engine kwargs.")
    agent_policies: dict[str, str] = Field(
        default_factory=dict,
        description="Multi-agent envs: agent id -> policy name; named policies train their own model copy (turngym.train.multipolicy), unlisted agents and 'main' share the main policy.",
    )


class RolloutConfig(_Section):
    tasks_per_step: int = Field(8, ge=1, description="B: tasks per iteration.")
    group_size: int = Field(8, ge=1, description="G: rollouts per task.")
    num_envs: int = Field(64, ge=1)
    num_workers: int = Field(0, ge=0, description="Env worker processes (0 = in process).")
    env_timeout: float = Field(60.0, gt=0)


ESTIMATORS = ("grpo", "rloo", "reinforce_pp", "gigpo", "matchtir", "a2tgpo", "aem", "oprl")


class AlgoConfig(_Section):
    name: Literal["grpo", "rloo", "reinforce_pp", "gigpo", "matchtir", "a2tgpo", "aem", "oprl", "turn_grpo"] = "gigpo"
    preset: Literal["paper", "reference"] = "reference"
    params: dict[str, Any] = Field(default_factory=dict)
    prm: dict[str, float] = Field(default_factory=dict, description="OPRL implicit PRM: beta, lr, grad_clip.")
    dynamic_sampling: bool = False
    max_resample: int = Field(3, ge=0)
    filter_void: bool = Field(False, description="SimpleTIR: episodes with a void turn (info['void_turn']) take no part in the update.")


class OptimConfig(_Section):
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    epochs: int = Field(2, ge=1, description="Passes over each rollout batch (PPO epochs).")
    micro_batch_tokens: int = Field(4096, ge=16, description="Token budget of one micro-batch (length-bucketed).")
    max_grad_norm: float = Field(1.0, gt=0)
    clip_low: float = Field(0.2, ge=0, lt=1)
    clip_high: float = Field(0.2, ge=0)
    dual_clip: float | None = 3.0
    loss_agg: Literal["token-mean", "seq-mean-token-mean", "seq-mean-token-sum", "seq-mean-token-sum-norm"] = "token-mean"
    kl_coef: float = Field(0.0, ge=0)
    kl_kind: Literal["k1", "k2", "k3", "low_var_kl"] = "low_var_kl"
    entropy_coef: float = Field(0.0, ge=0)
    drop_zero_advantage: bool = True
    autocast: Literal["auto", "bf16", "none"] = "auto"
    gradient_checkpointing: bool = False


class BCConfig(_Section):
    enabled: bool = False
    episodes: int = Field(1500, ge=1)
    epochs: int = Field(2, ge=1)
    lr: float = Field(3e-3, gt=0)
    noise: float = Field(0.4, ge=0, le=1, description="Share of demonstrator actions replaced by random admissible ones.")
    batch_tokens: int = Field(8192, ge=16)


class EvalConfig(_Section):
    every: int = Field(10, ge=1)
    tasks: int = Field(200, ge=1)
    before: bool = True


class DistributedConfig(_Section):
    """Rollouts on Ray (``ray``) and the learner on N ranks (``turngym train --nproc N`` or torchrun).

    The learner settings apply only when launched with more than one rank: the policy (and the
    reference model) are sharded per decoder layer with FSDP2 ``fully_shard``.
    """

    ray: bool = False
    num_rollout_workers: int = Field(2, ge=1)
    ray_address: str | None = None
    timeout_s: float = Field(600.0, gt=0, description="Collective timeout: a dead or hung rank fails the others after this long.")
    param_dtype: Literal["auto", "float32", "bfloat16"] = Field(
        "auto", description="FSDP parameter dtype; bfloat16 keeps fp32 gradient reduction. auto = bfloat16 when model.dtype is bfloat16.")
    cpu_offload: bool = Field(False, description="FSDP2 CPUOffloadPolicy: parameters and optimizer state live on the CPU between uses.")


class TrainConfig(_Section):
    run: RunConfig = Field(default_factory=RunConfig)
    env: EnvConfig = Field(default_factory=EnvConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    policy: PolicyConfig = Field(default_factory=PolicyConfig)
    rollout: RolloutConfig = Field(default_factory=RolloutConfig)
    algo: AlgoConfig = Field(default_factory=AlgoConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    bc: BCConfig = Field(default_factory=BCConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    distributed: DistributedConfig = Field(default_factory=DistributedConfig)
    profiles: dict[str, dict[str, Any]] = Field(default_factory=dict, description="Named override sets.")
    description: str = ""



class ConfigError(ValueError):
    """A config that cannot run; the message names the key and what is allowed."""


def _format_validation_error(exc: ValidationError, data: dict[str, Any]) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            parent = data
            for p in err["loc"][:-1]:
                parent = parent.get(p, {}) if isinstance(parent, dict) else {}
            section = TrainConfig
            for p in err["loc"][:-1]:
                field = section.model_fields.get(str(p))
                section = field.annotation if field is not None and isinstance(field.annotation, type) else None  # type: ignore[assignment]
                if section is None:
                    break
            allowed = sorted(section.model_fields) if section is not None else []
            close = difflib.get_close_matches(str(err["loc"][-1]), allowed, n=1)
            msg = "unknown key" + (f" (did you mean {'.'.join(map(str, err['loc'][:-1] + (close[0],)))}?)" if close else "")
            if allowed:
                msg += f"; allowed keys here: {', '.join(allowed)}"
        lines.append(f"  {loc}: {msg}")
    return "invalid training config:\n" + "\n".join(lines)


def apply_override(data: dict[str, Any], dotted: str) -> None:
    """Apply ``a.b.c=value`` (value parsed as YAML) to a nested dict in place."""
    key, sep, raw = dotted.partition("=")
    if not sep or not key or any(not p.strip() for p in key.split(".")):
        raise ConfigError(f"override {dotted!r} must look like section.key=value")
    parts = key.strip().split(".")
    node = data
    for p in parts[:-1]:
        child = node.setdefault(p, {})
        if not isinstance(child, dict):
            raise ConfigError(f"override {dotted!r}: {p} is not a section")
        node = child
    try:
        node[parts[-1]] = _safe_yaml(raw, f"override {dotted!r}")
    except ConfigError as exc:
        raise ConfigError(f"{exc}; quote the value to pass a string") from None


#: A config is a page of YAML; these bounds stop an alias bomb or a wrong file before it eats memory.
MAX_CONFIG_BYTES = 1 << 20
MAX_YAML_ALIASES = 100


def _safe_yaml(text: str, what: str) -> Any:
    """``yaml.safe_load`` with a bound on aliases (each may expand a whole subtree downstream)."""
    try:
        aliases = sum(isinstance(ev, yaml.AliasEvent) for ev in yaml.parse(text, Loader=yaml.SafeLoader))
        if aliases > MAX_YAML_ALIASES:
            raise ConfigError(f"{what} uses {aliases} YAML aliases (at most {MAX_YAML_ALIASES} allowed: aliases of aliases grow exponentially)")
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{what} is not valid YAML{where}: {problem}") from None
    except RecursionError:
        raise ConfigError(f"{what} nests too deeply to be a config") from None


def read_config_file(path: Path) -> dict[str, Any]:
    """The top-level mapping of a YAML config file, or a ``ConfigError`` naming the file."""
    if not path.exists():
        raise ConfigError(f"config file {path} does not exist")
    if not path.is_file():
        raise ConfigError(f"config {path} is a directory, not a YAML file" if path.is_dir() else f"config {path} is not a regular file")
    try:
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise ConfigError(f"config file {path} is {size:,} bytes; a config is at most {MAX_CONFIG_BYTES:,} (is it the right file?)")
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not UTF-8 text (a binary file?)") from None
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror or exc}") from None
    if "\x00" in text:
        raise ConfigError(f"config file {path} holds NUL bytes (a binary file?)")
    loaded = _safe_yaml(text, f"config file {path}") or {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"config file {path} must hold a mapping (section: ...) at the top level, not {type(loaded).__name__}")
    return loaded


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


def default_profile() -> str:
    try:
        import torch

        return "gpu" if torch.cuda.is_available() else "cpu"
    except ImportError:
        return "cpu"


def estimator_params(name: str) -> list[str] | None:
    """The parameter names of estimator ``name`` (None when it is not registered)."""
    import dataclasses

    from turngym.algos.registry import estimators

    est = estimators.get(name)
    return [f.name for f in dataclasses.fields(est.config)] if est is not None else None


def load_config(
    path: str | Path | None, overrides: list[str] | None = None, profile: str | None = "auto", notes: list[str] | None = None
) -> TrainConfig:
    """Read a YAML config, apply a profile and dotted overrides, validate.

    ``notes`` (when given) receives what a person should know about the result: which profile
    was chosen and why, and parameters dropped because an override changed the estimator.
    """
    notes = notes if notes is not None else []
    data: dict[str, Any] = {}
    if path is not None:
        data = read_config_file(Path(path))
    profiles = data.get("profiles") or {}
    if not isinstance(profiles, dict) or not all(isinstance(v, dict) for v in profiles.values()):
        raise ConfigError(f"profiles in {path} must map names to override sections (profiles: {{cpu: {{run: ...}}}})")
    where = f" {path}" if path is not None else ""
    if profile == "none":
        profile = None
    if profile == "auto":  # cpu without CUDA; the top level (the GPU recipe) when no such profile
        detected = default_profile()
        profile = detected if detected in profiles else None
        notes.append(
            f"profile: {detected} (auto: {'a CUDA device is' if detected == 'gpu' else 'no CUDA device'} visible)" if profile
            else f"profile: none (auto found no {detected!r} profile{' in ' + str(path) if path else ''}; the top-level settings apply)"
        )
    elif profile:
        if profile not in profiles:
            have = f"available: {', '.join(profiles)}" if profiles else "it has no profiles"
            raise ConfigError(f"profile {profile!r} not in config{where}; {have} (or --profile none for the top level)")
        notes.append(f"profile: {profile}")
    if profile:
        data = _deep_merge(data, profiles[profile])
    file_algo = data.get("algo") if isinstance(data.get("algo"), dict) else {}
    file_name, file_params = file_algo.get("name", "gigpo"), dict(file_algo.get("params") or {})
    for ov in overrides or []:
        apply_override(data, ov)
    _drop_params_of_replaced_estimator(data, file_name, file_params, overrides or [], notes)
    try:
        return TrainConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(exc, data)) from None


def _drop_params_of_replaced_estimator(
    data: dict[str, Any], file_name: str, file_params: dict[str, Any], overrides: list[str], notes: list[str]
) -> None:
    """``algo.name=grpo`` on a gigpo config: the file's gigpo-only params are dropped (and said so);
    params given as overrides are kept, so a wrong one still fails validation with its name."""
    algo = data.get("algo")
    if not isinstance(algo, dict) or algo.get("name", "gigpo") == file_name or not isinstance(algo.get("params"), dict):
        return
    allowed = estimator_params(str(algo.get("name")))
    if allowed is None:
        return
    overridden = {ov.partition("=")[0].strip().removeprefix("algo.params.") for ov in overrides if ov.startswith("algo.params.")}
    dropped = sorted(k for k in algo["params"] if k in file_params and k not in overridden and k not in allowed)
    for k in dropped:
        del algo["params"][k]
    if dropped:
        notes.append(f"algo.name={algo['name']} replaces {file_name}: dropped its parameter(s) {', '.join(dropped)} ({algo['name']} has {', '.join(allowed)})")
