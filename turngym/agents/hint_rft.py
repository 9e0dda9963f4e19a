"""START's Hint-RFT data: sample with and without hints, keep what only the hints solved, write SFT.

For each task the policy plays ``samples`` episodes plainly and ``samples`` with Hint-infer
(:class:`~turngym.agents.hint.HintBackend`). A task is *kept* when no plain episode won and at
least one hinted episode did: those are the traces where the hint made the difference, which START
fine-tunes on (rejection-sampling fine-tuning) so the model learns to reach for the tool itself.
Each kept task contributes its first winning hinted episode as one JSONL record::

    {"task_id", "env_id", "seed", "prompt", "completion", "hints", "reward", "turns"}

``prompt`` is what the policy saw on its first turn (chat messages, or the transcript text in the
concatenated layout); ``completion`` is the whole assistant side of the episode: every response
followed by the env's reply to it (the tool outputs), up to the final answer, i.e. the text an SFT
step trains on after the prompt. Episodes run through the ordinary rollout engine, so the env, the
sandbox path and the grading are the ones RL uses.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from turngym.agents.backends.base import PolicyBackend, SamplingParams
from turngym.agents.hint import DEFAULT_HINTS, DEFAULT_TRIGGERS, HintBackend
from turngym.agents.llm import LLMAgent
from turngym.agents.rollout import RolloutEngine, TaskSpec
from turngym.core.episode import Episode


@dataclass
class HintRFTSummary:
    tasks: int
    samples: int
    plain_solved: int  # tasks with at least one plain win
    hinted_solved: int  # tasks with at least one hinted win
    hinted_episodes: int  # hinted episodes in which a hint was inserted
    kept: int
    out: str
    kept_task_ids: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def transcript(ep: Episode) -> str:
    """The assistant side of an episode: each response, then the env's reply to it (not after the last)."""
    parts = []
    for k, turn in enumerate(ep.turns):
        parts.append(turn.response_text or turn.action)
        if k + 1 < len(ep.turns):
            parts.append(ep.turns[k + 1].observation)
    return "".join(p if p.endswith("\n") or i + 1 == len(parts) else p + "\n" for i, p in enumerate(parts))


def _won(ep: Episode) -> bool:
    return bool(ep.turns and ep.turns[-1].info.get("won"))


def _hints_in(ep: Episode, hints: Sequence[str]) -> list[str]:
    return [h for t in ep.turns for h in hints if h in (t.response_text or "")]


def hint_rft(
    env_id: str,
    backend: PolicyBackend,
    tasks: Sequence[TaskSpec],
    out: str | Path,
    *,
    env_kwargs: dict[str, Any] | None = None,
    samples: int = 2,
    hints: Sequence[str] = DEFAULT_HINTS,
    triggers: Sequence[str] = DEFAULT_TRIGGERS,
    at_stop: bool = True,
    at_length: bool = False,
    max_hints: int = 1,
    sampling: SamplingParams | None = None,
    projection: str | dict[str, Any] = "tir",
    layout: str = "concat",
    template: str = "auto",
    num_envs: int = 8,
) -> HintRFTSummary:
    """Run the plain and the hinted sampling over ``tasks`` and write the kept traces to ``out`` (JSONL)."""
    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples}")
    if not tasks:
        raise ValueError("hint_rft needs at least one task")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sampling = sampling or SamplingParams(max_new_tokens=256, temperature=1.0, seed=0)
    hinted_backend = HintBackend(backend, hints=hints, triggers=triggers, at_stop=at_stop, at_length=at_length, max_hints=max_hints)
    runs: dict[str, list[Episode]] = {}
    for name, policy in (("plain", backend), ("hinted", hinted_backend)):
        agent = LLMAgent(policy, projection=projection, layout=layout, template=template, sampling=sampling)  # type: ignore[arg-type]
        with RolloutEngine(env_id, agent, env_kwargs=env_kwargs, num_envs=min(num_envs, len(tasks) * samples), num_workers=0) as engine:
            runs[name] = engine.run(list(tasks), group_size=samples, run_id=f"hint-rft-{name}")
    plain_solved = hinted_solved = 0
    hinted_episodes = sum(bool(_hints_in(ep, hints)) for ep in runs["hinted"])
    records: list[dict[str, Any]] = []
    for t in range(len(tasks)):
        plain = runs["plain"][t * samples : (t + 1) * samples]
        hinted = runs["hinted"][t * samples : (t + 1) * samples]
        plain_won = any(_won(ep) for ep in plain)
        winners = [ep for ep in hinted if _won(ep)]
        plain_solved += plain_won
        hinted_solved += bool(winners)
        if plain_won or not winners:
            continue
        ep = winners[0]
        records.append({
            "task_id": ep.task_id or ep.turns[0].info.get("task_id"), "env_id": ep.env_id, "seed": ep.seed,
            "prompt": ep.turns[0].prompt, "completion": transcript(ep), "hints": _hints_in(ep, hints),
            "reward": ep.total_reward, "turns": len(ep.turns),
        })
    with out.open("w", encoding="utf-8") as f:
        for rec in records:
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return HintRFTSummary(tasks=len(tasks), samples=samples, plain_solved=plain_solved, hinted_solved=hinted_solved,
                          hinted_episodes=hinted_episodes, kept=len(records), out=str(out),
                          kept_task_ids=[str(r["task_id"]) for r in records])
