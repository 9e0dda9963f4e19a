"""ALFWorld's handcoded TextWorld expert, with the two fixes it needs to be a usable oracle.

1. alfworld 0.4.2's state tracker recognises a put by ``"put" in last_action`` while the grammar's
   command is ``move X to Y``: after the first put the expert still "holds" the object, so every
   pick-two game (and any game where it drops a wrong object) fails. We hand it the action renamed.
2. It draws from the global ``random`` module (tie-breaking among objects, escaping repeats), so two
   runs of the same game differ. Each expert owns a ``random.Random`` seeded from the episode and
   the module's ``random`` is pointed at it only for the duration of a call.

The expert is driven exactly like ALFWorld's ``AlfredExpert`` wrapper does it: ``observe`` the
intro (its first plan is ``look``), then ``act(state, last_command)`` after every step, falling back
to ``look`` when its proposal is not admissible.
"""

from __future__ import annotations

import random
import threading
from typing import Any

from turngym.envs.alfworld.engine import EngineState, require_alfworld

#: ALFWorld caps the handcoded expert at this many steps (``AlfredExpert`` uses 200).
EXPERT_MAX_STEPS = 200

_RANDOM_LOCK = threading.Lock()
_FIXED_POLICIES: dict[type, type] = {}


def _fixed_policy(policy_cls: type) -> type:
    """A subclass of an alfworld policy whose tracker understands ``move X to Y`` as a put."""
    cached = _FIXED_POLICIES.get(policy_cls)
    if cached is not None:
        return cached

    def update_state_tracking(self: Any, game_state: Any, last_action: str) -> Any:
        if last_action.startswith("move "):
            last_action = "put " + last_action[len("move "):]
        return policy_cls.update_state_tracking(self, game_state, last_action)

    fixed = type(policy_cls.__name__, (policy_cls,), {"update_state_tracking": update_state_tracking})
    _FIXED_POLICIES[policy_cls] = fixed
    return fixed


class HandcodedExpert:
    """One episode's expert: call :meth:`start` after reset and :meth:`advance` after each step."""

    def __init__(self, task_type: str, pddl_params: dict[str, Any], *, seed: int, max_steps: int = EXPERT_MAX_STEPS) -> None:
        require_alfworld()
        from alfworld.agents.expert import HandCodedTWAgent
        from alfworld.gen import constants

        self._rng = random.Random(seed)
        agent = HandCodedTWAgent(max_steps=max_steps)
        # HandCodedAgent.reset(game_path) reads traj_data.json; we hold the same fields in memory.
        params = {**pddl_params, "task_type": task_type}
        agent.task_params = {k: (v.lower() if v in constants.OBJECTS else v) for k, v in params.items()}
        agent.policy = _fixed_policy(agent.get_task_policy(agent.task_params))(agent.task_params, max_steps=max_steps)
        self._agent = agent
        self.next_action: str = "look"
        self.failed = False

    def _with_rng(self, fn: Any, *args: Any) -> Any:
        import alfworld.agents.expert.handcoded_expert as module

        with _RANDOM_LOCK:
            saved = module.random
            module.random = self._rng
            try:
                return fn(*args)
            finally:
                module.random = saved

    def start(self, state: EngineState) -> str:
        self._with_rng(self._agent.observe, state.feedback)
        self.next_action = "look"
        return self.next_action

    def advance(self, state: EngineState, last_command: str) -> str:
        """Update the expert with the step just taken and return its next command."""
        from alfworld.agents.expert import HandCodedAgentFailed, HandCodedAgentTimeout

        proposal = "look"
        if not self.failed:
            try:
                action = self._with_rng(self._agent.act, state.game_state, 0, state.won, last_command)
            except (HandCodedAgentTimeout, HandCodedAgentFailed):
                # The expert gives up (timeout or no subgoal left); ALFWorld then plans "look".
                self.failed = True
            except Exception:  # noqa: BLE001 - its heuristics index lists that can be empty
                # An oracle bug must never break the env's step(): the expert just stops advising.
                self.failed = True
            else:
                if action in state.admissible_commands:
                    proposal = action
        self.next_action = proposal
        return proposal
