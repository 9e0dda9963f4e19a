"""Top-level env commands: ``envs``, ``check``, ``play``, ``rollout``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console
from rich.markup import escape
from rich.table import Table

console = Console()
err_console = Console(stderr=True)

EnvArgs = Annotated[
    list[str] | None,
    typer.Option("--env-arg", "-e", help="Env constructor argument KEY=VALUE (YAML value), repeatable."),
]


def parse_kv(pairs: list[str] | None) -> dict[str, Any]:
    """``["a=1", "b=x"]`` -> ``{"a": 1, "b": "x"}``; values are parsed as YAML scalars."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"expected KEY=VALUE, got {pair!r}")
        out[key.strip()] = yaml.safe_load(value)
    return out


def _fail(message: str) -> None:
    err_console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code=2)


def envs() -> None:
    """List registered envs (built-in and from installed plugins)."""
    from turngym.envs.registration import list_envs

    table = Table(title="turngym envs")
    table.add_column("id", style="bold cyan")
    table.add_column("source")
    table.add_column("description")
    for spec in list_envs():
        try:
            summary = spec.summary()
        except Exception as exc:  # an env whose optional dependency is missing still lists
            summary = f"[yellow](cannot import: {exc})[/]"
        table.add_row(spec.id, spec.source, summary)
    console.print(table)


def check(
    env_id: Annotated[str, typer.Argument(help="Env id, e.g. KeyDoor-v0")],
    seed: Annotated[int, typer.Option(help="Seed for resets and the action sequence.")] = 0,
    fuzz: Annotated[int, typer.Option(help="Number of garbage actions to fuzz with.")] = 300,
    env_arg: EnvArgs = None,
) -> None:
    """Check that an env honours the turngym env contract (API, info keys, determinism, fuzzing)."""
    from turngym.envs.checker import check_env_id
    from turngym.envs.registration import UnknownEnvError

    try:
        report = check_env_id(env_id, seed=seed, n_fuzz=fuzz, raise_on_error=False, **parse_kv(env_arg))
    except (UnknownEnvError, TypeError, ValueError, ImportError) as exc:
        _fail(str(exc))
        return
    table = Table(title=f"turngym check {env_id}")
    table.add_column("check")
    table.add_column("result")
    table.add_column("details", overflow="fold")
    table.add_column("s", justify="right")
    for r in report.results:
        verdict = "[yellow]skip[/]" if getattr(r, "skipped", False) else "[green]pass[/]" if r.passed else "[bold red]FAIL[/]"
        table.add_row(r.name, verdict, r.message, f"{r.seconds:.2f}")
    console.print(table)
    if not report.ok:
        err_console.print(f"[bold red]{env_id} fails {len(report.failures())} check(s)[/]")
        raise typer.Exit(code=1)
    console.print(f"[bold green]{env_id} passes all checks[/]")


def play(
    env_id: Annotated[str, typer.Argument(help="Env id, e.g. KeyDoor-v0")],
    seed: Annotated[int | None, typer.Option(help="Seed that fixes the task.")] = None,
    out: Annotated[Path, typer.Option(help="Run directory whose store receives the episode.")] = Path("runs/play"),
    env_arg: EnvArgs = None,
) -> None:
    """Play an env yourself in the terminal; type an action or the number of an admissible one."""
    import turngym
    from turngym.agents.base import AgentAction
    from turngym.agents.rollout import apply_step, turn_from_action
    from turngym.core.episode import Episode
    from turngym.store import EpisodeStore

    kwargs = parse_kv(env_arg)
    try:
        env = turngym.make(env_id, **kwargs)
    except Exception as exc:
        _fail(str(exc))
        return
    obs, info = env.reset(seed=seed)
    episode = Episode(env_id=env.spec_id, task_id=info.get("task_id"), seed=seed, env_kwargs=kwargs, run_id="play")
    done = False
    while not done:
        console.rule(f"turn {len(episode.turns)}")
        console.print(obs, markup=False, highlight=False)
        admissible = info.get("admissible_actions") or []
        for i, a in enumerate(admissible, 1):
            console.print(f"  [cyan]{i:>2}[/] {escape(a)}", highlight=False)  # actions like click[b07x] are not markup
        try:
            typed = console.input("[bold]> [/]")
        except (EOFError, KeyboardInterrupt):
            episode.truncated, episode.error = True, "aborted by the player"
            break
        action = admissible[int(typed) - 1] if typed.strip().isdigit() and 0 < int(typed) <= len(admissible) else typed
        turn = turn_from_action(len(episode.turns), obs, info, AgentAction(action=action, response_text=typed))
        obs, reward, terminated, truncated, info = env.step(action)
        apply_step(turn, reward, terminated, truncated, info)
        episode.turns.append(turn)
        console.print(f"reward {reward:+.3f}" + ("" if turn.action_valid else "  [red](invalid action)[/]"))
        done = terminated or truncated
        if done:
            console.print(obs, markup=False, highlight=False)
            episode.final_observation = obs
            episode.terminated, episode.truncated = terminated, truncated
            episode.won = bool(info.get("won"))
    episode.outcome_reward = episode.total_reward
    with EpisodeStore(out) as store:
        store.write([episode])
    console.print(f"[bold]{'won' if episode.won else 'not won'}[/], reward {episode.outcome_reward:+.3f}; saved episode {episode.episode_id} to {out}")


def rollout(
    env_id: Annotated[str, typer.Argument(help="Env id, e.g. KeyDoor-v0")],
    agent: Annotated[str, typer.Option(help="Scripted agent (oracle or random), used when no --policy is given.")] = "oracle",
    policy: Annotated[str | None, typer.Option(help="Policy: an HF model directory (hf, vllm) or a server URL (openai).")] = None,
    backend: Annotated[str, typer.Option(help="Policy backend: hf, vllm or openai.")] = "hf",
    n: Annotated[int, typer.Option("-n", help="Number of tasks.")] = 16,
    group: Annotated[int, typer.Option(help="Rollouts per task (G).")] = 1,
    out: Annotated[Path, typer.Option(help="Run directory for the episode store.")] = Path("runs/rollout"),
    seed: Annotated[int, typer.Option(help="First task seed; tasks use seed, seed+1, ...")] = 0,
    split: Annotated[str | None, typer.Option(help="Task split passed to reset (e.g. train, test).")] = None,
    workers: Annotated[int, typer.Option(help="Env worker processes (0 = in process).")] = 0,
    envs_: Annotated[int, typer.Option("--envs", help="Concurrent env slots.")] = 16,
    env_arg: EnvArgs = None,
    layout: Annotated[str, typer.Option(help="History layout: step (last K turns) or concat (one transcript).")] = "step",
    projection: Annotated[str, typer.Option(help="Action parser: plain, think_action, search_answer, python_block, tool_call.")] = "plain",
    template: Annotated[str, typer.Option(help="Prompt template: auto (by env family), keydoor, toolcalc, generic.")] = "auto",
    history_k: Annotated[int, typer.Option(help="Turns of history in step-row prompts.")] = 2,
    max_new_tokens: Annotated[int, typer.Option(help="Tokens generated per turn at most.")] = 64,
    temperature: Annotated[float, typer.Option(help="Sampling temperature (0 = greedy).")] = 1.0,
    top_p: Annotated[float, typer.Option(help="Nucleus sampling mass.")] = 1.0,
    sampling_seed: Annotated[int | None, typer.Option(help="Seed for reproducible sampling (per episode and turn).")] = None,
    max_prompt_tokens: Annotated[int | None, typer.Option(help="Context budget: an episode whose prompt would exceed it ends truncated.")] = None,
    max_obs_tokens: Annotated[int | None, typer.Option(help="Truncate each observation to this many tokens.")] = None,
    batch_size: Annotated[int, typer.Option(help="Generation batch size (hf).")] = 32,
    model: Annotated[str | None, typer.Option(help="Served model name (openai backend).")] = None,
    tokenizer: Annotated[str | None, typer.Option(help="Tokenizer directory (openai backend; needed for token ids/concat).")] = None,
    threads: Annotated[int | None, typer.Option(help="torch threads for the hf backend (1 is fastest for tiny models on busy CPUs).")] = None,
) -> None:
    """Play N tasks × G rollouts with a scripted agent or a policy and write the episodes to RUN_DIR."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from turngym.agents.rollout import RolloutEngine, make_tasks
    from turngym.agents.scripted import SCRIPTED_AGENTS
    from turngym.core.episode import new_id, summarize
    from turngym.store import EpisodeStore

    run_id = new_id()[:12]
    config: dict[str, Any] = {"env_id": env_id, "n": n, "group": group, "seed": seed, "split": split}
    policy_backend = None
    if policy is None:
        if agent not in SCRIPTED_AGENTS:
            _fail(f"unknown agent {agent!r}; choose one of {', '.join(SCRIPTED_AGENTS)}")
        agent_obj: Any = SCRIPTED_AGENTS[agent]()
        label = f"{agent} agent"
        config["agent"] = agent
    else:
        from turngym.agents.backends.base import SamplingParams
        from turngym.agents.llm import LLMAgent

        if threads is not None:
            import torch

            torch.set_num_threads(max(1, threads))
        try:
            sampling = SamplingParams(max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, seed=sampling_seed)
            policy_backend = _make_backend(backend, policy, batch_size=batch_size, model=model, tokenizer=tokenizer)
            agent_tokenizer = None
            if getattr(policy_backend, "tokenizer", None) is None:  # e.g. a server: tokenise locally if we can
                from turngym.models.loading import load_tokenizer

                source = tokenizer or (policy if Path(policy).is_dir() else None)
                agent_tokenizer = load_tokenizer(source) if source else None
            agent_obj = LLMAgent(
                policy_backend, template=template, projection=projection, layout=layout, sampling=sampling,  # type: ignore[arg-type]
                history_k=history_k, max_prompt_tokens=max_prompt_tokens, max_obs_tokens=max_obs_tokens, tokenizer=agent_tokenizer,
            )
        except (ValueError, TypeError, ImportError, OSError) as exc:
            if policy_backend is not None:
                policy_backend.close()
            _fail(str(exc))
            return
        label = f"{backend} policy {Path(policy).name or policy}"
        config.update(policy=policy, backend=backend, layout=layout, projection=projection, template=template, history_k=history_k,
                      max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, sampling_seed=sampling_seed)
    total = n * group
    wins = 0
    t0 = time.monotonic()
    try:
        engine = RolloutEngine(env_id, agent_obj, env_kwargs=parse_kv(env_arg), num_envs=envs_, num_workers=workers)
    except Exception as exc:
        if policy_backend is not None:
            policy_backend.close()
        _fail(str(exc))
        return
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
    elapsed = time.monotonic() - t0
    summary = Table(title=f"{env_id} · {label} · run {run_id}")
    columns = ["episodes", "success", "mean reward", "mean turns", "invalid rate", "errors", "episodes/s"]
    stats = summarize(episodes)
    row = [
        str(len(episodes)),
        f"{stats['success']:.3f}",
        f"{stats['reward_mean']:.3f}",
        f"{stats['turns_mean']:.2f}",
        f"{stats['invalid_rate']:.3f}",
        str(int(stats["errors"])),
        f"{len(episodes) / elapsed:.1f}",
    ]
    if policy is not None:
        columns += ["turns/s", "tokens/s"]
        row += [f"{stats['turns'] / elapsed:.1f}", f"{stats['response_tokens'] / elapsed:.0f}"]
    for col in columns:
        summary.add_column(col, justify="right")
    summary.add_row(*row)
    console.print(summary)
    console.print(" · ".join(f"{c} {v}" for c, v in zip(columns, row)), highlight=False)  # greppable in logs
    errors = [e.error for e in episodes if e.error]
    if errors:
        console.print(f"[yellow]{len(errors)} episode(s) ended with an error, e.g.:[/] {errors[0]}", markup=True, highlight=False)
    console.print(f"episodes written to [bold]{out}[/] (run {run_id})")


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


def attach(app: typer.Typer) -> None:
    app.command("envs")(envs)
    app.command("check")(check)
    app.command("play")(play)
    app.command("rollout")(rollout)
