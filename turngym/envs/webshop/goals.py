"""Goals the upstream way, and the pinned splits.

A goal is the dict upstream's reward reads: ``asin``, ``category``, ``query``, ``name``,
``product_category``, ``instruction_text``, ``attributes``, ``price_upper``, ``goal_options`` and
``weight``. Synthetic goals (upstream's ``get_synthetic_goals``, what verl-agent trains on) make one
goal per combination of a product's option values, with ``goal_options`` a dict (so the reward
compares against stringified ``(name, value)`` tuples, upstream's quirk) and ``name`` the product
title; human goals (``get_human_goals``) take ``items_human_ins`` instructions, ``goal_options`` a
list of values.

Randomness follows upstream's order of calls exactly, through one ``random.Random``: product prices
(``generate_product_prices``) and then each goal's ``price_upper`` draw from the same generator, and
the goal list is shuffled by a generator seeded again (upstream: ``random.seed(233)`` then
``random.shuffle``; verl-agent seeds 42 before loading and before the shuffle). Splits as in
upstream's baselines: the first 500 shuffled goals are ``test``, the next 1000 ``eval``, the rest
``train``.
"""

from __future__ import annotations

import itertools
import random
from collections import defaultdict
from typing import Any

#: Bump when goal construction or splitting changes (part of every task id).
GOALS_VERSION = "1"
PRICE_RANGE = [10.0 * i for i in range(1, 100)]
SPLITS = ("test", "eval", "train", "all")
TEST_SIZE, EVAL_SIZE = 500, 1000


def _price_upper(price: float | None, rng: random.Random) -> tuple[float, str]:
    if price is None:
        return 1000000, ""
    price_range = [p for p in PRICE_RANGE if p > price][:4]
    if len(price_range) >= 2:
        _, price_upper = sorted(rng.sample(price_range, 2))
        return price_upper, f", and price lower than {price_upper:.2f} dollars"
    return 1000000, ""


def get_synthetic_goals(all_products: list[dict[str, Any]], product_prices: dict[str, float] | None, rng: random.Random) -> list[dict[str, Any]]:
    goals: list[dict[str, Any]] = []
    cnt_atts: dict[str, int] = defaultdict(int)
    for product in all_products:
        if product.get("instruction_text") is None or not product.get("instruction_attributes"):
            continue  # upstream asserts here; a product without an instruction simply has no goal
        attributes = product["instruction_attributes"]
        price = product_prices[product["asin"]] if product_prices is not None else None
        price_upper, price_text = _price_upper(price, rng)
        options = product["options"]
        option_names = sorted(options)
        for combination in itertools.product(*(options[name] for name in option_names)):
            goal_options = dict(zip(option_names, combination))
            option_text = ", and ".join(f"{k}: {v}" for k, v in goal_options.items())
            option_text = " with " + option_text if option_text else ""
            goals.append({
                "asin": product["asin"],
                "category": product["category"],
                "query": product["query"],
                "name": product["Title"],  # upstream sets 'name' twice; the title wins
                "product_category": product["product_category"],
                "instruction_text": f"{product['instruction_text']}{option_text}{price_text}",
                "attributes": attributes,
                "price_upper": price_upper,
                "goal_options": goal_options,
            })
            for att in attributes:
                cnt_atts[att] += 1
    for goal in goals:
        goal["weight"] = sum(1.0 / cnt_atts[att] for att in goal["attributes"]) / len(goal["attributes"])
    return goals


def get_human_goals(all_products: list[dict[str, Any]], product_prices: dict[str, float] | None, rng: random.Random) -> list[dict[str, Any]]:
    goals: list[dict[str, Any]] = []
    for item in all_products:
        for product in item.get("instructions") or []:
            attributes = product["instruction_attributes"]
            if len(attributes) == 0:
                continue
            price = product_prices[item["asin"]] if product_prices is not None else None
            price_upper, price_text = _price_upper(price, rng)
            goals.append({
                "asin": item["asin"],
                "category": item["category"],
                "query": item["query"],
                "name": item["name"],
                "product_category": item["product_category"],
                "instruction_text": product["instruction"].strip(".") + price_text,
                "attributes": attributes,
                "price_upper": price_upper,
                "goal_options": product["instruction_options"],
                "weight": 1,
            })
    return goals


def get_goals(all_products: list[dict[str, Any]], product_prices: dict[str, float] | None, rng: random.Random, human_goals: bool = False) -> list[dict[str, Any]]:
    return (get_human_goals if human_goals else get_synthetic_goals)(all_products, product_prices, rng)


def shuffle_goals(goals: list[dict[str, Any]], seed: int = 233) -> list[dict[str, Any]]:
    out = list(goals)
    random.Random(seed).shuffle(out)
    return out


def split_range(split: str, n_goals: int) -> range:
    """Indices of the shuffled goal list that form ``split`` (upstream's baseline splits)."""
    if split == "test":
        return range(0, min(TEST_SIZE, n_goals))
    if split == "eval":
        return range(min(TEST_SIZE, n_goals), min(TEST_SIZE + EVAL_SIZE, n_goals))
    if split == "train":
        return range(min(TEST_SIZE + EVAL_SIZE, n_goals), n_goals)
    if split == "all":
        return range(n_goals)
    raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
