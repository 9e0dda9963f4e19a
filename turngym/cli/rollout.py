"""``turngym rollout``: play N tasks × G rollouts with a scripted agent or a policy into a store.

A policy is prompted the way it was trained: a checkpoint (or HF export) carries
``turngym_agent.json`` (template, projection, history, token budget, ...) and those settings apply
unless a flag overrides them; ``--run RUN_DIR [--step N]`` takes the run's own config as well (its
env, kwargs and held-out evaluation tasks), so its score is comparable with the trainer's table.
Bad input (env kwargs, template, split, output path) fails with exit code 2 before any episode is
written.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from turngym.cli.common import EnvArgs, console, fail, parse_kv, resolve_env_arg, store_error

#: Built-in defaults of the agent flags, used when neither the flag, the checkpoint nor the run says.
AGENT_DEFAULTS: dict[str, Any] = {
    "layout": "step", "projection": "plain", "template": "auto", "history_k": 2, "max_new_tokens": 64, "max_prompt_tokens": None,
    "concat_reply": "chat",
}


def _template_help() -> str:
    from turngym.agents.prompting import template_names

    return f"Prompt template: {', '.join(template_names())} (default: the policy's own, else auto = by env family)."


def _run_settings(run_dir: Path, step: int | None) -> tuple[dict[str, Any], Path]:
    """The agent settings, env and evaluation defaults of a training run, and its checkpoint."""
    from turngym.train.checkpoint import checkpoint_dir, list_checkpoints
    from turngym.train.config import ConfigError, load_config
    from turngym.train.trainer import EVAL_SEED_BASE

    config = run_dir / "config.yaml"
    if not config.is_file():
        fail(f"--run {run_dir}: no config.yaml there (is it a `turngym train` run directory?)")
    try:
        cfg = load_config(config, profile="none")
    except ConfigError as exc:
        fail(f"--run {run_dir}: {exc}")
    found = list_checkpoints(run_dir)
    if not found:
        fail(f"--run {run_dir}: the run has no checkpoint yet (under {run_dir / 'checkpoints'})")
    if step is None:
        ckpt = found[-1]
    else:
        ckpt = checkpoint_dir(run_dir, step)
        if ckpt not in found:
            kept = ", ".join(str(int(p.name.split("_")[1])) for p in found)
            fail(f"--step {step}: {run_dir} has no checkpoint of that step; it keeps steps {kept}")
    if cfg.model.lora.enabled:
        fail(f"--run {run_dir}: the run trains a LoRA adapter; roll out with --policy and a merged export instead")
    from turngym.train.policy import agent_settings_of

    settings = {
        **agent_settings_of(cfg),
        # the trainer's held-out evaluation: these seeds, one rollout each, this sampling seed
        "n": cfg.eval.tasks, "seed": EVAL_SEED_BASE, "sampling_seed": EVAL_SEED_BASE, "threads": cfg.run.threads,
    }
    return settings, ckpt


def rollout(
    env_id: Annotated[str | None, typer.Argument(help="Env id (KeyDoor-v0), or path/to/file.py:Class or module:Class; optional with --run.")] = None,
    env_opt: Annotated[str | None, typer.Option("--env", help="Same as ENV_ID: an id, path/to/file.py:Class or module:Class.")] = None,
    imports: Annotated[list[str] | None, typer.Option("--import", help="Import MODULE first (it registers envs), repeatable.")] = None,
    agent: Annotated[str, typer.Option(help="Scripted agent (oracle or random), used when no --policy is given.")] = "oracle",
    policy: Annotated[str | None, typer.Option(help="Policy: an HF model directory or checkpoint (hf, vllm) or a server URL (openai).")] = None,
    run: Annotated[Path | None, typer.Option("--run", help="A training run directory: its checkpoint, agent settings, env and eval tasks.")] = None,
    step: Annotated[int | None, typer.Option("--step", min=0, help="With --run: the checkpoint of this step (default: the latest).")] = None,
    backend: Annotated[str, typer.Option(help="Policy backend: hf, vllm or openai.")] = "hf",
    n: Annotated[int | None, typer.Option("-n", min=1, help="Number of tasks (default 16; with --run the run's eval.tasks).")] = None,
    group: Annotated[int, typer.Option(min=1, help="Rollouts per task (G).")] = 1,
    out: Annotated[Path, typer.Option(help="Run directory for the episode store.")] = Path("runs/rollout"),
    seed: Annotated[int | None, typer.Option(min=0, help="First task seed; tasks use seed, seed+1, ... (with --run: the trainer's eval seeds).")] = None,
    split: Annotated[str | None, typer.Option(help="Task split passed to reset (e.g. train, test; with --run: the run's eval split).")] = None,
    workers: Annotated[int, typer.Option(min=0, help="Env worker processes (0 = in process).")] = 0,
    envs_: Annotated[int, typer.Option("--envs", min=1, help="Concurrent env slots.")] = 16,
    env_arg: EnvArgs = None,
    layout: Annotated[str | None, typer.Option(help="History layout: step (last K turns) or concat (one transcript). Default: the policy's own, else step.")] = None,
    projection: Annotated[str | None, typer.Option(help="Action parser: plain, think_action, search_answer, python_block, tool_call. Default: the policy's own, else plain.")] = None,
    template: Annotated[str | None, typer.Option(help=_template_help())] = None,
    history_k: Annotated[int | None, typer.Option(min=0, help="Turns of history in step-row prompts. Default: the policy's own, else 2.")] = None,
    max_new_tokens: Annotated[int | None, typer.Option(min=1, help="Tokens generated per turn at most. Default: the policy's own, else 64.")] = None,
    temperature: Annotated[float | None, typer.Option(min=0.0, help="Sampling temperature (0 = greedy; default 1, with --run the run's eval temperature).")] = None,
    top_p: Annotated[float, typer.Option(min=0.0, max=1.0, help="Nucleus sampling mass.")] = 1.0,
    sampling_seed: Annotated[int | None, typer.Option(help="Seed for reproducible sampling (per episode and turn).")] = None,
    max_prompt_tokens: Annotated[int | None, typer.Option(min=16, help="Context budget: an episode whose prompt would exceed it ends truncated.")] = None,
    max_obs_tokens: Annotated[int | None, typer.Option(min=1, help="Truncate each observation to this many tokens.")] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Generation batch size (hf).")] = 32,
    model: Annotated[str | None, typer.Option(help="Served model name (openai backend).")] = None,
    tokenizer: Annotated[str | None, typer.Option(help="Tokenizer directory (openai backend; needed for token ids/concat).")] = None,
    threads: Annotated[int | None, typer.Option(min=1, help="torch threads for the hf backend (1 is fastest for tiny models on busy CPUs).")] = None,
) -> None:
    """Play N tasks × G rollouts with a scripted agent or a policy and write the episodes to RUN_DIR."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from turngym.agents.rollout import RolloutEngine, make_tasks
    from turngym.agents.scripted import SCRIPTED_AGENTS
    from turngym.core.episode import new_id
    from turngym.store import EpisodeStore

    run_defaults: dict[str, Any] = {}
    if run is not None:
        if policy is not None:
            fail("give --policy or --run, not both (--run picks the run's checkpoint)")
        run_defaults, ckpt = _run_settings(run, step)
        policy = str(ckpt)
    elif step is not None:
        fail("--step needs --run RUN_DIR")
    env_id = resolve_env_arg(env_id, env_opt, imports, default=run_defaults.get("env_id"))
    kwargs = {**run_defaults.get("env_kwargs", {}), **parse_kv(env_arg, flag="-e/--env-arg")}
    n = n if n is not None else run_defaults.get("n", 16)
    seed = seed if seed is not None else run_defaults.get("seed", 0)
    split = split if split is not None else run_defaults.get("eval_split")
    threads = threads if threads is not None else run_defaults.get("threads")
    _check_env(env_id, kwargs, seed, split)

    run_id = new_id()[:12]
    config: dict[str, Any] = {"env_id": env_id, "n": n, "group": group, "seed": seed, "split": split, "env_kwargs": kwargs}
    policy_backend = None
    if policy is None:
        if agent not in SCRIPTED_AGENTS:
            fail(f"unknown agent {agent!r}; choose one of {', '.join(SCRIPTED_AGENTS)}")
        agent_obj: Any = SCRIPTED_AGENTS[agent]()
        label = f"{agent} agent"
        config["agent"] = agent
    else:
        from turngym.agents.backends.base import SamplingParams
        from turngym.agents.llm import LLMAgent
        from turngym.agents.prompting import resolve_template
        from turngym.agents.settings import read_agent_settings

        flags = {"layout": layout, "projection": projection, "template": template, "history_k": history_k,
                 "max_new_tokens": max_new_tokens, "max_prompt_tokens": max_prompt_tokens}
        try:
            saved = read_agent_settings(policy) if Path(policy).is_dir() else {}
        except ValueError as exc:
            fail(f"--policy: {exc}")
        chosen: dict[str, Any] = {}
        source: dict[str, str] = {}
        for key in [*flags, "concat_reply"]:
            origin, value = "default", AGENT_DEFAULTS[key]
            for name, table in (("flag", flags), ("checkpoint", saved), ("run", run_defaults)):
                if table.get(key) is not None:
                    origin, value = name, table[key]
                    break
            chosen[key], source[key] = value, origin
        try:
            resolve_template(chosen["template"], env_id=env_id)
        except ValueError as exc:
            fail(f"--template: {exc}")
        if temperature is None:
            temperature = run_defaults.get("eval_temperature", 1.0)
        if sampling_seed is None:
            sampling_seed = run_defaults.get("sampling_seed")
        if threads is not None:
            import torch

            torch.set_num_threads(max(1, threads))
        try:
            sampling = SamplingParams(max_new_tokens=chosen["max_new_tokens"], temperature=temperature, top_p=top_p, seed=sampling_seed)
            policy_backend = _make_backend(backend, policy, batch_size=batch_size, model=model, tokenizer=tokenizer)
            agent_tokenizer = None
            if getattr(policy_backend, "tokenizer", None) is None:  # e.g. a server: tokenise locally if we can
                from turngym.models.loading import load_tokenizer

                source_dir = tokenizer or (policy if Path(policy).is_dir() else None)
                agent_tokenizer = load_tokenizer(source_dir) if source_dir else None
            agent_obj = LLMAgent(
                policy_backend, template=chosen["template"], projection=chosen["projection"], layout=chosen["layout"], sampling=sampling,
                history_k=chosen["history_k"], max_prompt_tokens=chosen["max_prompt_tokens"], max_obs_tokens=max_obs_tokens,
                tokenizer=agent_tokenizer, concat_reply=chosen["concat_reply"],
            )
        except (ValueError, TypeError, ImportError, OSError) as exc:
            if policy_backend is not None:
                policy_backend.close()
            fail(f"--policy {policy}: {exc}")
        label = f"{backend} policy {Path(policy).name or policy}"
        inherited = [f"{k}={chosen[k]}" for k in chosen if source[k] in ("checkpoint", "run")]
        if inherited:
            console.print(f"agent settings of {policy}: {', '.join(inherited)} (flags override them)", highlight=False)
        config.update(policy=policy, backend=backend, temperature=temperature, top_p=top_p, sampling_seed=sampling_seed, **chosen)
    try:
        _check_out(out)
    except typer.Exit:
        if policy_backend is not None:
            policy_backend.close()
        raise
    total = n * group
    wins = 0
    t0 = time.monotonic()
    try:
        engine = RolloutEngine(env_id, agent_obj, env_kwargs=kwargs, num_envs=envs_, num_workers=workers)
    except Exception as exc:
        if policy_backend is not None:
            policy_backend.close()
        fail(str(exc))
    try:
        with engine, EpisodeStore(out) as store, Progress(
            TextColumn("[bold]rollout[/]"), BarColumn(), MofNCompleteColumn(), TextColumn("success {task.fields[success]}"),
            TimeElapsedColumn(), TimeRemainingColumn(), console=console,
        ) as progress:
            store.set_run(run_id, config, kind="rollout")
            bar = progress.add_task("rollout", total=total, success="-")

            def on_episode(ep: Any) -> None:
                nonlocal wins
                wins += ep.won
                progress.update(bar, advance=1, success=f"{wins / (progress.tasks[bar].completed + 1):.2f}")

            episodes = engine.run(make_tasks(n, seed=seed, split=split), group_size=group, run_id=run_id, store=store, on_episode=on_episode)
    finally:
        if policy_backend is not None:
            policy_backend.close()
    _print_summary(episodes, env_id=env_id, label=label, run_id=run_id, elapsed=time.monotonic() - t0, with_tokens=policy is not None, out=out)


def _check_env(env_id: str, kwargs: dict[str, Any], seed: int, split: str | None) -> None:
    """Build and reset one env with the given kwargs and split, so a typo fails before any work."""
    import turngym
    from turngym.envs.registration import UnknownEnvError

    try:
        env = turngym.make(env_id, **kwargs)
    except UnknownEnvError as exc:
        fail(str(exc))
    except Exception as exc:
        fail(f"-e/--env-arg: {env_id} cannot be made with {kwargs}: {exc}")
    try:
        env.reset(seed=seed, options={"split": split} if split else None)
    except Exception as exc:
        fail(f"--split {split}: {env_id} cannot reset with it: {exc}" if split else f"{env_id} cannot reset (seed {seed}): {exc}")
    finally:
        close = getattr(env, "close", None)
        if callable(close):
            close()


def _check_out(out: Path) -> None:
    """The store under ``out`` opens for writing (a file, a read-only place, garbage fail here)."""
    from turngym.store import EpisodeStore

    try:
        EpisodeStore(out).close()
    except Exception as exc:  # sqlite, OS and schema errors alike name the path
        fail(f"--out {out}: {store_error(exc)}")


def _print_summary(episodes: list[Any], *, env_id: str, label: str, run_id: str, elapsed: float, with_tokens: bool, out: Path) -> None:
    from turngym.core.episode import summarize

    stats = summarize(episodes)
    rows = [
        ("episodes", str(len(episodes))),
        ("success", f"{stats['success']:.3f}"),
        ("mean reward", f"{stats['reward_mean']:.3f}"),
        ("mean turns", f"{stats['turns_mean']:.2f}"),
        ("invalid rate", f"{stats['invalid_rate']:.3f}"),
        ("errors", str(int(stats["errors"]))),
        ("episodes/s", f"{len(episodes) / max(elapsed, 1e-9):.1f}"),
    ]
    if with_tokens:
        rows += [("turns/s", f"{stats['turns'] / elapsed:.1f}"), ("tokens/s", f"{stats['response_tokens'] / elapsed:.0f}")]
    # one row per metric: fits 80 columns with no header cut short; the same numbers once, as
    # "name value" pairs that grep reads too
    console.print(f"[bold]{env_id}[/] · {label} · run {run_id}", highlight=False)
    summary = Table(show_header=False)
    summary.add_column("metric")
    summary.add_column("value", justify="right")
    for name, value in rows:
        summary.add_row(name, value)
    console.print(summary)
    errors = [e.error for e in episodes if e.error]
    if errors:
        console.print(f"[yellow]{len(errors)} episode(s) ended with an error, e.g.:[/] {errors[0]}", markup=True, highlight=False)
    console.print(f"episodes written to {out} (run {run_id}); list them with:", highlight=False)
    console.print(f"turngym replay {out} --list", soft_wrap=True, highlight=False, markup=False)  # one line: copyable


def _make_backend(kind: str, policy: str, *, batch_size: int, model: str | None, tokenizer: str | None) -> Any:
    """The policy backend named on the command line (engines are imported only when chosen)."""
    if kind == "hf":
        from turngym.agents.backends.hf import HFBackend

        return HFBackend.from_pretrained(policy, batch_size=batch_size)
    if kind == "vllm":
        from turngym.agents.backends import vllm as vllm_backend

        cls = vllm_backend.VLLMBackend
        return cls.from_pretrained(policy) if hasattr(cls, "from_pretrained") else cls(policy)
    if kind == "openai":
        from turngym.agents.backends.openai import OpenAIBackend

        if not model:
            raise ValueError("the openai backend needs --model (the served model name)")
        return OpenAIBackend(policy, model, tokenizer=tokenizer)
    raise ValueError(f"unknown backend {kind!r}; choose hf, vllm or openai")
