"""``WebShop-v0``: upstream WebShop's text environment over a generated (or the real) catalog.

Observations are upstream's modes (``text`` default: ``WebShop [SEP] Instruction: [SEP] ...``,
``text_rich``, ``html``, ``url``); actions are ``search[query]`` and ``click[value]`` parsed the
upstream way. ``info["admissible_actions"]`` lists the ``click[...]`` actions of the page; on the
search page, where any ``search[...]`` is valid, it lists one: the instruction as the query (what
the oracle types first, and something a random or scripted agent can act on). ``search`` stays
valid on every page, as upstream. ``info["available_actions"]`` carries upstream's
``{"has_search_bar", "clickables"}``, which verl-agent's prompt is built from. An action that would do nothing
upstream is invalid here (``action_valid=False``, the same page again, nothing changed).

Reward on purchase: ``reward_mode="score"`` gives upstream's reward in [0, 1];
``reward_mode="success"`` gives ``success_reward`` (10, verl-agent's GiGPO/GRPO setup) when the
reward is exactly 1 and 0 otherwise. Either way ``info["score"]`` is reward × 100 (WebShop's score),
``info["task_score"]`` the raw reward and ``won`` means reward == 1. Tasks are the shuffled goals of
a pinned split (``test``: first 500, ``eval``: next 1000, ``train``: the rest); ``task_id`` names
the catalog, the goal version and seed, and the goal's index.
"""

from __future__ import annotations

import os
from typing import Any

from turngym.envs.base import InvalidAction, StepResult, TextEnv, check_choice
from turngym.envs.webshop import goals as goals_mod
from turngym.envs.webshop.pages import OBSERVATION_MODES

REWARD_MODES = ("score", "success")


class WebShopEnv(TextEnv):
    """WebShop: find and buy the product an instruction describes (search, pages, options, reward)."""

    default_max_turns = 15
    task_version = goals_mod.GOALS_VERSION

    def __init__(
        self,
        *,
        split: str = "train",
        observation_mode: str = "text",
        num_products: int | None = None,
        catalog_seed: int = 0,
        data_dir: str | os.PathLike[str] | None = None,
        human_goals: bool = False,
        goal_seed: int = 233,
        num_tasks: int | None = None,
        reward_mode: str = "score",
        success_reward: float = 10.0,
        show_attrs: bool = False,
        base_url: str | None = None,
        max_turns: int | None = None,
        expert: bool = False,
        invalid_penalty: float = 0.0,
        render_mode: str | None = None,
    ) -> None:
        super().__init__(max_turns=max_turns, expert=expert, invalid_penalty=invalid_penalty, render_mode=render_mode)
        from turngym.envs.webshop import require_webshop

        require_webshop()
        check_choice("observation_mode", observation_mode, OBSERVATION_MODES)
        check_choice("reward_mode", reward_mode, REWARD_MODES)
        check_choice("split", split, goals_mod.SPLITS)
        if num_tasks is not None and num_tasks < 1:
            raise ValueError(f"num_tasks must be >= 1, got {num_tasks}")
        from turngym.envs.webshop.data import shop_data
        from turngym.envs.webshop.engine import DEFAULT_BASE_URL, Shop

        self.data = shop_data(data_dir=data_dir, num_products=num_products, catalog_seed=catalog_seed, human_goals=human_goals, goal_seed=goal_seed)
        self.shop = Shop(self.data, show_attrs=show_attrs, base_url=base_url or DEFAULT_BASE_URL)
        self.observation_mode = observation_mode
        self.reward_mode = reward_mode
        self.success_reward = float(success_reward)
        self.goal_seed = goal_seed
        self.split = split
        self.num_tasks = num_tasks
        self._prefix = f"webshop-{self.data.source}-g{self.task_version}s{goal_seed}{'h' if human_goals else ''}-"
        self.session: Any = None
        self._oracle: Any = None
        self.goal_index = -1

    # -- tasks ------------------------------------------------------------------------------------
    def _indices(self, split: str) -> range:
        r = self.data.split_indices(split)
        if not len(r):
            raise ValueError(f"split {split!r} is empty: the catalog has {len(self.data.goals)} goals (test takes the first 500, eval the next 1000)")
        return r[: self.num_tasks] if self.num_tasks is not None else r

    def task_ids(self, split: str | None = None) -> list[str]:
        return [f"{self._prefix}{i}" for i in self._indices(split or self.split)]

    def _goal_index(self, options: dict[str, Any]) -> int:
        task_id = options.get("task_id")
        if task_id is not None:
            task_id = str(task_id)
            if not task_id.startswith(self._prefix) or not task_id[len(self._prefix) :].isdigit():
                raise ValueError(f"task_id {task_id!r} is not a task of this catalog (ids look like {self._prefix}<goal index>)")
            index = int(task_id[len(self._prefix) :])
            if index >= len(self.data.goals):
                raise ValueError(f"task_id {task_id!r}: the catalog has {len(self.data.goals)} goals")
            return index
        indices = self._indices(options.get("split", self.split))
        if "index" in options:
            return indices[int(options["index"]) % len(indices)]
        return indices[int(self.np_random.integers(len(indices)))]

    # -- TextEnv hooks ----------------------------------------------------------------------------
    def _reset(self, options: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        from turngym.envs.webshop.engine import ShopSession
        from turngym.envs.webshop.oracle import Oracle

        self.goal_index = self._goal_index(options)
        goal = self.data.goals[self.goal_index]
        self.task_id = f"{self._prefix}{self.goal_index}"
        self.session = ShopSession(self.shop, goal, session_id=str(self.goal_index))
        self._oracle = Oracle(goal) if self.expert else None
        return self._obs(), self._extra()

    def _obs(self) -> str:
        return self.session.observation(self.observation_mode)

    def _extra(self) -> dict[str, Any]:
        return {"available_actions": self.session.available_actions(), "url": self.session.url}

    def _step(self, action: str) -> StepResult:
        action = action.strip()
        if self.session.check(action) is None:
            raise InvalidAction(self._obs())
        raw, done, valid = self.session.step(action)
        extra = self._extra()
        if not done:
            return StepResult(self._obs(), valid=valid, info=extra)
        won = raw == 1.0
        reward = raw if self.reward_mode == "score" else (self.success_reward if won else 0.0)
        extra.update(score=100.0 * raw, task_score=raw, reward_info=self.session.reward_info, purchased={"asin": self.session.asin, "options": dict(self.session.options)})
        return StepResult(self._obs(), reward=reward, terminated=True, won=won, info=extra)

    def admissible_actions(self) -> list[str] | None:
        if self.session is None:
            return None
        if self.session.parsed.has_search_bar:  # any search[...] is valid; list the canonical one
            from turngym.envs.webshop.oracle import instruction_query

            return [f"search[{instruction_query(self.session.instruction)}]"]
        return self.session.admissible_actions()

    def expert_action(self) -> str | None:
        return self._oracle.next_action(self.session) if self._oracle is not None and self.session is not None else None

    def anchor(self, observation: str) -> str:
        return self.session.observation("text") if self.session is not None else observation

    def task_info(self) -> dict[str, Any]:
        return {"task": self.session.instruction} if self.session is not None else {}

    @property
    def goal(self) -> dict[str, Any] | None:
        return self.session.goal if self.session is not None else None
