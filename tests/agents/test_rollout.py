import os
import signal

import pytest

from turngym.agents.base import AgentAction
from turngym.agents.rollout import RolloutEngine, TaskSpec, make_tasks
from turngym.agents.scripted import OracleAgent, RandomAgent
from turngym.core.table import TurnTable


def test_oracle_rollout_groups_and_records():
    with RolloutEngine("KeyDoor-v0", OracleAgent(), num_envs=4) as engine:
        eps = engine.run(make_tasks(5), group_size=3, run_id="r1", step=7)
    assert len(eps) == 15 and all(e.won and e.terminated and not e.truncated for e in eps)
    groups = [e.group_id for e in eps]
    assert len(set(groups)) == 5 and groups[0] == groups[1] == groups[2]
    first = eps[0]
    assert first.run_id == "r1" and first.step == 7 and first.seed == 0 and first.task_id.startswith("keydoor")
    assert [t.index for t in first.turns] == list(range(first.num_turns))
    assert first.turns[-1].reward == 1.0 and first.outcome_reward == 1.0
    assert all(t.anchor and t.observation and t.action == t.response_text for t in first.turns)
    assert "admissible_actions" in first.turns[0].meta and "env_s" in first.turns[0].meta
    assert all(not k.startswith("_") and k != "pending" for e in eps for t in e.turns for k in t.meta)
    # Group members of the same task start from the same observation.
    assert len({e.turns[0].observation for e in eps[:3]}) == 1
    table = TurnTable.from_episodes(eps)
    assert len(table) == sum(e.num_turns for e in eps)


def test_random_rollout_with_workers_ends_every_episode():
    with RolloutEngine("ToolCalc-v0", RandomAgent(seed=1, garbage_prob=0.3), num_envs=6, num_workers=2) as engine:
        eps = engine.run([TaskSpec(seed=i) for i in range(12)], group_size=2)
    assert len(eps) == 24
    assert all(e.terminated or e.truncated for e in eps)
    assert any(not t.action_valid for e in eps for t in e.turns)
    assert all(e.num_turns <= 4 for e in eps)


def test_reset_options_pick_the_task():
    with RolloutEngine("KeyDoor-v0", OracleAgent(), num_envs=2) as engine:
        eps = engine.run([TaskSpec(options={"task_id": "keydoor-v1-3-s00-k22-d02"})], group_size=2)
    assert {e.task_id for e in eps} == {"keydoor-v1-3-s00-k22-d02"}


class FlakyAgent:
    """Fails on its second call, like a backend that times out."""

    env_requirements = {"expert": True}

    def __init__(self):
        self.calls = 0

    def act(self, inputs):
        self.calls += 1
        if self.calls == 2:
            raise TimeoutError("backend timed out")
        return [AgentAction(action=i.info["expert_action"]) for i in inputs]


def test_agent_failure_marks_episodes_and_rollout_continues():
    with RolloutEngine("KeyDoor-v0", FlakyAgent(), num_envs=2) as engine:
        eps = engine.run(make_tasks(4), group_size=1)
    failed = [e for e in eps if e.error]
    assert failed and all("backend timed out" in e.error and e.truncated for e in failed)
    assert any(e.won for e in eps)


class StoppingAgent:
    env_requirements: dict = {}

    def act(self, inputs):
        return [AgentAction(action="look", stop="context budget exhausted") if len(i.episode.turns) >= 2 else AgentAction(action="look") for i in inputs]


def test_agent_stop_truncates_episode():
    with RolloutEngine("KeyDoor-v0", StoppingAgent(), num_envs=2) as engine:
        eps = engine.run(make_tasks(2))
    assert all(e.num_turns == 2 and e.truncated and e.error == "context budget exhausted" for e in eps)


class KillingAgent:
    """Kills the env worker of the first episode on its first action (a crashed env worker)."""

    env_requirements = {"expert": True}

    def __init__(self):
        self.engine = None
        self.done = False

    def act(self, inputs):
        if not self.done:
            self.done = True
            os.kill(self.engine.venv.worker_pids()[0], signal.SIGKILL)
        return [AgentAction(action=i.info["expert_action"]) for i in inputs]


def test_worker_crash_marks_episode_and_the_rest_complete():
    agent = KillingAgent()
    with RolloutEngine("KeyDoor-v0", agent, num_envs=4, num_workers=2) as engine:
        agent.engine = engine
        eps = engine.run(make_tasks(8))
    errored = [e for e in eps if e.error]
    assert errored and all("died" in e.error or "lost" in e.error for e in errored)
    assert len(eps) == 8 and sum(e.won for e in eps) >= 8 - len(errored)


def test_group_size_validated():
    with RolloutEngine("KeyDoor-v0", OracleAgent(), num_envs=1) as engine, pytest.raises(ValueError, match="group_size"):
        engine.run(make_tasks(1), group_size=0)
