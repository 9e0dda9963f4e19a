"""The oracle: it knows the goal's product and options, and shops the way a careful person would.

On the search page it types the instruction (the env's suggested search); if the goal product is
not among that query's ≤ 50 hits it tries the instruction without its price clause, the product
type with the goal's attributes, then the title.
It pages with ``Next >`` to the product, opens it, selects each goal option and buys. Every action
it returns is valid in the current state, and it never needs more than 1 search + 4 page turns +
1 open + #options + 1 buy steps, so it fits verl-agent's 15-turn budget.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from turngym.envs.webshop.engine import ShopSession

_PRICE = re.compile(r",? and price lower than [\d.]+ dollars$")


def instruction_query(instruction: str) -> str:
    """The search a shopper types first: the instruction itself, on one line, without brackets."""
    return " ".join(instruction.replace("[", " ").replace("]", " ").split())


def search_candidates(goal: dict[str, Any], product: dict[str, Any]) -> list[str]:
    instruction = _PRICE.sub("", goal["instruction_text"]).strip()
    typed = " ".join([product.get("query", ""), *goal.get("attributes", [])]).strip()
    out = [instruction_query(goal["instruction_text"])]
    for q in (instruction, typed, product["Title"]):
        q = instruction_query(q.lower())
        if q and q not in out:
            out.append(q)
    return out


def goal_option_values(goal: dict[str, Any]) -> list[tuple[str | None, str]]:
    options = goal["goal_options"]
    if isinstance(options, dict):
        return [(str(k).lower(), str(v)) for k, v in options.items()]
    return [(None, str(v)) for v in options]


class Oracle:
    """``next_action(session)`` for one goal; stateless apart from the queries it already tried."""

    def __init__(self, goal: dict[str, Any]) -> None:
        self.goal = goal
        self.target = goal["asin"]
        self._query: str | None = None
        self._tried: list[str] = []

    def _plan_query(self, session: ShopSession) -> str:
        product = session.shop.product(self.target)
        candidates = search_candidates(self.goal, product)
        for q in candidates:
            if q in self._tried:
                continue
            hits = [p["asin"] for p in session.shop.search(q.split(" "))]
            if self.target in hits:
                return q
        return candidates[-1]  # the title: as good as it gets

    def next_action(self, session: ShopSession) -> str | None:
        if session.done:
            return None
        if session.kind == "index":
            self._query = self._plan_query(session)
            self._tried.append(self._query)
            return f"search[{self._query}]"
        if session.kind == "search_results":
            asins = [p["asin"] for p in session.hits]
            if self.target not in asins:
                return "click[back to search]"
            position = asins.index(self.target) // 10 + 1
            if position == session.page:
                return f"click[{self.target.lower()}]"
            return "click[next >]" if position > session.page else "click[< prev]"
        if session.kind == "item_sub_page":
            return "click[< prev]"
        if session.kind == "item_page":
            if session.asin != self.target:
                return "click[< prev]"
            clickables = session.parsed.clickables
            for name, value in goal_option_values(self.goal):
                selected = session.options.get(name) == value if name is not None else value in session.options.values()
                clickable = clickables.get(value)
                if not selected and clickable is not None and clickable.kind == "option":
                    return f"click[{value}]"
            return "click[buy now]"
        return None
