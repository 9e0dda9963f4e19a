"""``Discussion-v0``: a multi-agent discussion over any task with a checkable answer.

The env wraps another env that implements :class:`~turngym.envs.answers.CheckableAnswer`
(``ToolCalc-v0`` by default, ``SearchQA-v0``, MathTool, ...): it resets it to pick a task and then
only uses it to grade messages; the agents never step it. Each ``step`` is one agent's message; the
``info`` returned with an observation names the agent that must answer it (``info["agent"]``), so
the rollout engine records every message as a ``Turn`` with its ``agent``. One policy with role
prompts plays every agent, or a router sends each agent id to its own policy
(:class:`turngym.agents.discussion.AgentRouter`).

Topologies (DESIGN.md §4, "Multi-agent discussion"):

- ``debate`` (Du et al.; MAPoRL): ``agents`` debaters × ``rounds`` rounds, agents ``agent0``..
  ``agent{N-1}``. In round 0 each answers alone; in round r > 0 each sees its own and the others'
  messages of round r-1. The team answer is the majority vote of the last round (``aggregate=
  "majority"``) or the answer of a ``judge`` agent who reads every final message (``"judge"``).
  ``stop_on_consensus`` ends the debate after a round in which every agent gave the same answer.
- ``ceo`` (MAS-TTS, "Two Heads are Better Than One"): per round a ``solver`` writes a solution,
  ``critic1``..``criticK`` review it and end with ``[Agree]`` or ``[Disagree]``; when every critic
  agrees the discussion stops (consensus); otherwise the ``ceo`` ends its message with
  ``[Continue]`` (another round, in which the solver sees the critiques) or ``[Stop]``, and may set
  how many critics review next round with ``critics: k`` (1..``agents``). The team answer is the
  solver's latest answer. The CEO does not speak in the last round (its decision would be moot).

Malformed messages never raise: a debater/solver/judge message without an answer in the wrapped
env's format, a critic without a verdict and a CEO without a decision are invalid turns
(``action_valid=False``, ``invalid_penalty`` off that turn's reward). The env contract holds (an
invalid action leaves the state as it was): the same agent is asked again, up to ``max_retries``
times per message; after that the malformed message is recorded and the discussion goes on: a
missing verdict counts as not agreeing, a missing decision as ``[Continue]``, and missing answers
follow the missing-vote rule of :mod:`turngym.envs.discussion.protocol`. The turn limit is the
protocol's length times ``1 + max_retries``, so retries never cut a discussion short.

Credit (``credit``; :mod:`turngym.envs.discussion.credit`): every message gets a *verified score*
(``info["verified"]``): the wrapped env's ``check_answer`` for answers, and for a critic / the CEO
whether its verdict / decision was right about the solution it reviewed. When the discussion ends,
``info["turn_rewards"]`` holds one reward per message under the selected rule (``team``: the team
score on each agent's last message; ``final``: on the last message; ``maporl``: MAPoRL's reward)
and ``info["outcome_reward"]`` the team score; the rollout engine writes them onto the turns and
the episode. The step rewards themselves are 0 until the last step, which returns the team score.

Info keys: ``agent`` and ``round`` (who acts next, in which round), ``speaker``/``speaker_round``/
``verified``/``answer_key`` of the message just taken, ``question``, the wrapped env's task info (``ground_truth`` ...), and at the end
``team_answer``, ``score`` (team score), ``won`` (team score 1), ``consensus``, ``turn_rewards``,
``outcome_reward``. ``expert=True`` adds the oracle's message (the right answer in the wrapped
env's format, a correct verdict or decision).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from turngym.envs.answers import CheckableAnswer, question_text
from turngym.envs.base import StepResult, TextEnv, check_choice
from turngym.envs.discussion import credit as credit_rules
from turngym.envs.discussion.protocol import (
    clip_text,
    consensus,
    latest_keys,
    majority,
    parse_critics,
    parse_decision,
    parse_verdict,
)

TOPOLOGIES = ("debate", "ceo")
AGGREGATES = ("majority", "judge")


@dataclass
class _Message:
    agent: str
    round: int
    text: str
    key: str | None
    verified: float
    valid: bool
    extra: dict[str, Any] = field(default_factory=dict)


class DiscussionEnv(TextEnv):
    """N agents discuss one task of a wrapped env with a checkable answer (see the module docstring)."""

    task_version = "1"

    def __init__(
        self,
        *,
        env: str = "ToolCalc-v0",
        env_kwargs: dict[str, Any] | None = None,
        topology: str = "debate",
        agents: int = 3,
        rounds: int = 2,
        aggregate: str = "majority",
        stop_on_consensus: bool = False,
        credit: str = "team",
        gamma: float = 0.3,
        alpha: list[float] | tuple[float, ...] = (0.0, 0.0, 0.0, 0.0),
        show_chars: int = 240,
        max_retries: int = 1,
        max_turns: int | None = None,
        expert: bool = False,
        invalid_penalty: float = 0.0,
        render_mode: str | None = None,
    ) -> None:
        check_choice("topology", topology, TOPOLOGIES)
        check_choice("aggregate", aggregate, AGGREGATES)
        check_choice("credit", credit, credit_rules.CREDIT_RULES)
        if not isinstance(agents, int) or not 1 <= agents <= 16:
            raise ValueError(f"agents must be an int in 1..16, got {agents!r}")
        if not isinstance(rounds, int) or not 1 <= rounds <= 16:
            raise ValueError(f"rounds must be an int in 1..16, got {rounds!r}")
        if not 0.0 <= float(gamma) <= 1.0:
            raise ValueError(f"gamma must be in [0, 1], got {gamma}")
        if len(alpha) != 4:
            raise ValueError(f"alpha holds MAPoRL's four incentive coefficients, got {list(alpha)}")
        if not isinstance(max_retries, int) or not 0 <= max_retries <= 8:
            raise ValueError(f"max_retries must be an int in 0..8, got {max_retries!r}")
        if show_chars < 16:
            raise ValueError(f"show_chars must be >= 16, got {show_chars}")
        if topology == "ceo" and aggregate == "judge":
            raise ValueError("aggregate='judge' is a debate setting; the ceo topology answers with the solver")
        longest = agents * rounds + (aggregate == "judge") if topology == "debate" else rounds * (agents + 1) + rounds - 1
        super().__init__(max_turns=max_turns or longest * (1 + max_retries), expert=expert, invalid_penalty=0.0, render_mode=render_mode)
        import turngym

        self.inner_id = env
        self.inner = turngym.make(env, **dict(env_kwargs or {})).unwrapped
        if not isinstance(self.inner, CheckableAnswer):
            raise TypeError(
                f"{env} has no checkable answer: Discussion-v0 wraps envs with answer_spec(), check_answer(text) and "
                "answer_key(text) (turngym.envs.answers.CheckableAnswer)"
            )
        self.topology, self.n_agents, self.n_rounds = topology, agents, rounds
        self.aggregate, self.stop_on_consensus = aggregate, bool(stop_on_consensus or topology == "ceo")
        self.credit, self.gamma, self.alpha = credit, float(gamma), tuple(float(a) for a in alpha)
        self.show_chars = int(show_chars)
        self.max_retries = max_retries
        self._retries_left = max_retries
        self._steps: list[int | None] = []  # per step: index of the message it recorded, None for a retry
        self.penalty = float(invalid_penalty)
        self.question = ""
        self.spec = ""
        self._task_info: dict[str, Any] = {}
        self._messages: list[_Message] = []
        self._queue: list[tuple[str, int]] = []  # (agent, round) still to speak
        self._critics = agents
        self._oracle_answer = ""

    # -- episode ------------------------------------------------------------------------------------
    def _reset(self, options: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        obs, info = self.inner.reset(seed=int(self.np_random.integers(2**31 - 1)), options=options or None)
        self.task_id = str(info.get("task_id") or getattr(self.inner, "task_id", "") or "")
        self.question = question_text(self.inner, info, obs)
        self.spec = str(self.inner.answer_spec())
        task_info = getattr(self.inner, "task_info", None)
        self._task_info = {k: v for k, v in (task_info() if callable(task_info) else {}).items() if k in ("ground_truth", "golden_answers")}
        self._messages = []
        self._steps = []
        self._retries_left = self.max_retries
        self._critics = self.n_agents
        self._queue = self._round_plan(0)
        self._oracle_answer = self._find_oracle_answer()
        return self._observation(), {"task": self.question, "question": self.question, **self._next_info()}

    def _round_plan(self, r: int) -> list[tuple[str, int]]:
        if self.topology == "debate":
            return [(f"agent{i}", r) for i in range(self.n_agents)]
        plan = [("solver", r)] + [(f"critic{k + 1}", r) for k in range(self._critics)]
        return plan + ([("ceo", r)] if r < self.n_rounds - 1 else [])

    def task_info(self) -> dict[str, Any]:
        return dict(self._task_info)

    def anchor(self, observation: str) -> str:
        """State = who speaks in which round and the answers on the table (not their wording)."""
        if not self._queue:
            return f"end|{self.question}"
        agent, r = self._queue[0]
        shown = "|".join(f"{m.agent}={m.key}" for m in self._messages if m.round >= r - 1)
        return f"{agent}|r{r}|{self.question}|{shown}"

    def _next_info(self) -> dict[str, Any]:
        return {"agent": self._queue[0][0], "round": self._queue[0][1]} if self._queue else {}

    # -- observations -------------------------------------------------------------------------------
    def _last_of(self, agent: str, before_round: int | None = None) -> _Message | None:
        for m in reversed(self._messages):
            if m.agent == agent and (before_round is None or m.round < before_round):
                return m
        return None

    def _show(self, m: _Message) -> str:
        return clip_text(m.text, self.show_chars) or "(empty message)"

    def _observation(self) -> str:
        if not self._queue:
            return "The discussion is over."
        agent, r = self._queue[0]
        head = f"Question: {self.question}"
        if self.topology == "debate":
            if agent == "judge":
                lines = [f"You are the judge of a debate among {self.n_agents} agents.", head, "Final answers:"]
                lines += [f"- {a}: {self._show(m)}" for a in self._agents() if (m := self._last_of(a)) is not None]
                return "\n".join([*lines, f"Decide the answer. {self.spec}"])
            lines = [f"You are {agent} in a debate among {self.n_agents} agents, round {r + 1} of {self.n_rounds}.", head]
            if r > 0:
                mine = self._last_of(agent, before_round=r)
                lines.append(f"Your previous answer: {self._show(mine) if mine else '(none)'}")
                lines.append("Other agents' answers:")
                lines += [
                    f"- {a}: {self._show(m)}"
                    for a in self._agents()
                    if a != agent and (m := self._last_of(a, before_round=r)) is not None
                ]
                lines.append("Consider their reasoning and give your updated answer.")
            return "\n".join([*lines, self.spec])
        solution = self._last_of("solver")
        if agent == "solver":
            lines = [f"You are the solver, round {r + 1} of {self.n_rounds}.", head]
            if r > 0 and solution is not None:
                lines.append(f"Your previous solution: {self._show(solution)}")
                lines += [f"- {m.agent}: {self._show(m)}" for m in self._messages if m.round == r - 1 and m.agent != "solver"]
                lines.append("Revise your solution if the critiques are right.")
            return "\n".join([*lines, self.spec])
        shown = self._show(solution) if solution is not None else "(none)"
        if agent.startswith("critic"):
            return "\n".join(
                [f"You are {agent}, reviewing the solver's solution.", head, f"Solution: {shown}",
                 "Check it and end your message with [Agree] or [Disagree]."]
            )
        critiques = [f"- {m.agent}: {self._show(m)}" for m in self._messages if m.round == r and m.agent.startswith("critic")]
        return "\n".join(
            [f"You are the CEO leading the discussion, round {r + 1} of {self.n_rounds}.", head, f"Solution: {shown}",
             "Critiques:", *critiques,
             f"End with [Continue] for another round or [Stop] to accept the solution; 'critics: k' sets how many critics (1-{self.n_agents}) review next."]
        )

    def _agents(self) -> list[str]:
        return [f"agent{i}" for i in range(self.n_agents)]

    # -- acting -------------------------------------------------------------------------------------
    def _score(self, text: str) -> float:
        try:
            value = float(self.inner.check_answer(text))
        except Exception:  # noqa: BLE001 - a checker that fails on odd text must not end the discussion
            return 0.0
        return min(max(value, 0.0), 1.0) if np.isfinite(value) else 0.0

    def _key(self, text: str) -> str | None:
        try:
            key = self.inner.answer_key(text)
        except Exception:  # noqa: BLE001 - as in _score
            return None
        return str(key) if key is not None else None

    def _step(self, action: str) -> StepResult:
        agent, r = self._queue.pop(0)
        extra: dict[str, Any] = {}
        if agent in ("solver", "judge") or agent.startswith("agent"):
            key = self._key(action)
            msg = _Message(agent, r, action, key, self._score(action) if key is not None else 0.0, key is not None)
        else:
            solution = self._last_of("solver")
            right = solution is not None and solution.verified >= 0.5
            if agent.startswith("critic"):
                verdict = parse_verdict(action)
                good = verdict == ("agree" if right else "disagree")
                msg = _Message(agent, r, action, verdict, float(good), verdict is not None, {"verdict": verdict or "missing"})
            else:
                decision = parse_decision(action)
                effective = decision or "continue"
                good = effective == ("stop" if right else "continue")
                msg = _Message(agent, r, action, decision, float(good), decision is not None, {"decision": effective})
                critics = parse_critics(action, 1, self.n_agents)
                if critics is not None:
                    self._critics = critics
                    extra["critics"] = critics
        if not msg.valid and self._retries_left > 0:  # ask the same agent again; nothing is recorded
            self._retries_left -= 1
            self._queue.insert(0, (agent, r))
            self._steps.append(None)
            what = {"critic": "a verdict ([Agree] or [Disagree])", "ceo": "a decision ([Continue] or [Stop])"}
            need = next((v for k, v in what.items() if agent.startswith(k)), f"an answer ({self.spec})")
            obs = f"Your message had no {need}; write it again.\n{self._observation()}"
            reward = -self.penalty if self.penalty else 0.0
            info = {"speaker": agent, "speaker_round": r, "verified": 0.0, "answer_key": None, "retry": True, **self._next_info(), "question": self.question}
            return StepResult(obs, reward=reward, valid=False, info=info)
        self._retries_left = self.max_retries
        self._steps.append(len(self._messages))
        self._messages.append(msg)
        self._advance(agent, r)
        extra.update({"speaker": agent, "speaker_round": r, "verified": msg.verified, "answer_key": msg.key, **msg.extra})
        reward = 0.0 if msg.valid or not self.penalty else -self.penalty
        if not self._queue:
            result = self._finish()
            extra.update(result)
            reward = result["outcome_reward"] - (0.0 if msg.valid else self.penalty)
            return StepResult("The discussion is over.", reward=reward, terminated=True, valid=msg.valid, won=result["won"], info={**extra, **self._next_info()})
        return StepResult(self._observation(), reward=reward, valid=msg.valid, info={**extra, **self._next_info(), "question": self.question})

    def _advance(self, agent: str, r: int) -> None:
        """Schedule what follows the message just taken (consensus stop, CEO decision, next round)."""
        if self._queue and self._queue[0][1] == r:
            if self.topology == "ceo" and agent.startswith("critic") and not any(a.startswith("critic") for a, _ in self._queue):
                verdicts = [m.key for m in self._messages if m.round == r and m.agent.startswith("critic")]
                if all(v == "agree" for v in verdicts):
                    self._queue.clear()  # consensus: the CEO need not speak
            return
        if self.topology == "ceo":
            last = self._messages[-1]
            if agent == "ceo" and last.extra.get("decision") == "stop":
                return
            if agent.startswith("critic") and all(m.key == "agree" for m in self._messages if m.round == r and m.agent.startswith("critic")):
                return
            if r + 1 < self.n_rounds:
                self._queue = self._round_plan(r + 1)
            return
        if self.stop_on_consensus and consensus([m.key for m in self._messages if m.round == r and m.agent != "judge"]):
            return
        if agent != "judge" and r + 1 < self.n_rounds:
            self._queue = self._round_plan(r + 1)
        elif agent != "judge" and self.aggregate == "judge":
            self._queue = [("judge", r + 1)]

    def _finish(self) -> dict[str, Any]:
        """Team answer, team score and the per-message credit, when the last message is in."""
        msgs = self._messages
        debaters = self._agents() if self.topology == "debate" else ["solver"]
        keys = [[m.key for m in msgs if m.agent == a] for a in debaters]
        votes = latest_keys(keys)
        answer, voter = majority(votes) if self.topology == "debate" else (votes[0], 0 if votes[0] is not None else None)
        source = "vote"
        judge = next((m for m in msgs if m.agent == "judge"), None)
        if judge is not None and judge.key is not None:
            answer, team_score, source = judge.key, judge.verified, "judge"
        elif answer is None:
            team_score = 0.0
        else:
            giver = next(m for m in reversed(msgs) if m.agent == debaters[voter] and m.key == answer)  # type: ignore[index]
            team_score = giver.verified
        agent_codes = {a: i for i, a in enumerate(dict.fromkeys(m.agent for m in msgs))}
        ep = np.zeros(len(msgs), dtype=np.int64)
        if self.credit == "maporl":
            rewards = credit_rules.maporl_credit(
                ep, [m.round for m in msgs], [agent_codes[m.agent] for m in msgs], [m.verified for m in msgs],
                gamma=self.gamma, alpha=self.alpha,
            )
        elif self.credit == "team":
            rewards = credit_rules.team_credit(ep, [agent_codes[m.agent] for m in msgs], [team_score])
        else:
            rewards = credit_rules.final_credit(ep, [team_score])
        rewards = rewards - self.penalty * np.array([not m.valid for m in msgs], dtype=np.float64)
        retry = -self.penalty if self.penalty else 0.0
        per_step = [retry if i is None else float(rewards[i]) for i in self._steps]
        final_round = max(m.round for m in msgs if m.agent in debaters) if any(m.agent in debaters for m in msgs) else -1
        last_round = [m.key for m in msgs if m.round == final_round and m.agent in debaters]
        return {
            "team_answer": answer,
            "answer_source": source,
            "score": float(team_score),
            "won": bool(team_score >= 1.0 - 1e-9),
            "consensus": consensus(last_round) if self.topology == "debate" else all(
                m.key == "agree" for m in msgs if m.round == msgs[-1].round and m.agent.startswith("critic")
            ),
            "turn_rewards": per_step,
            "outcome_reward": float(team_score),
        }

    # -- the oracle ---------------------------------------------------------------------------------
    def _find_oracle_answer(self) -> str:
        """The right answer in the wrapped env's format: the ground truth in the common answer
        formats, the first that the env's own checker accepts ('' when none does)."""
        truth = self._task_info.get("ground_truth")
        if truth is None:
            return ""
        for text in (f"answer[{truth}]", f"<answer> {truth} </answer>", f"Final answer: {truth}", str(truth)):
            if self._score(text) >= 1.0:
                return text
        return ""

    def expert_action(self) -> str | None:
        if not self._queue or not self._oracle_answer:
            return None
        agent, _ = self._queue[0]
        if agent in ("solver", "judge") or agent.startswith("agent"):
            return self._oracle_answer
        solution = self._last_of("solver")
        right = solution is not None and solution.verified >= 0.5
        if agent.startswith("critic"):
            return "[Agree]" if right else "[Disagree]"
        return "[Stop]" if right else "[Continue]"
