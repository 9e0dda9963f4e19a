"""Products, prices and goals: from the real WebShop files or from the generated catalog.

``process_products`` is upstream's ``load_products`` (the same cleaning and the same derived
fields: ``Title``, ``Description``, ``BulletPoints``, ``pricing``/``Price``, lower-cased ``options``
with ``/`` → `` | ``, ``Attributes`` or ``['DUMMY_ATTR']``, ``instruction_text`` /
``instructions``, ``MainImage``, reviews with ``score``/``body``), with clear errors instead of
crashes on records it cannot use. :class:`ShopData` holds one catalog's products, prices, goals and
search index; :func:`shop_data` caches them per process (every env instance and the web site of a
process share one), keyed by where the data came from.

Real data: a folder with ``items_shuffle*.json`` and ``items_ins_v2*.json`` (and optionally
``items_human_ins.json`` and ``reviews.json``), e.g. what upstream's ``setup.sh -d small`` downloads.
"""

from __future__ import annotations

import json
import os
import random
import re
import threading
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from turngym.envs.webshop import goals as goals_mod
from turngym.envs.webshop.schema import (
    DataFormatError,
    validate_attributes,
    validate_human,
    validate_products,
    validate_reviews,
)


def _parse_pricing(pricing: str | None) -> tuple[list[float], str]:
    if not pricing:
        return [100.0], "$100.0"
    values = []
    for part in pricing.split("$")[1:]:
        digits = re.sub(r"[^\d.]", "", part)
        try:
            values.append(float(Decimal(digits)))
        except InvalidOperation:
            continue  # upstream raises here; a malformed price piece is dropped instead
    if not values:
        return [100.0], "$100.0"
    if len(values) == 1:
        return values, f"${values[0]}"
    return values[:2], f"${values[0]} to ${values[1]}"


def process_products(
    raw_products: list[Any],
    attributes: dict[str, Any],
    human: dict[str, Any] | None = None,
    reviews: list[Any] | None = None,
    *,
    human_goals: bool = False,
    num_products: int | None = None,
) -> list[dict[str, Any]]:
    """Upstream's ``load_products`` over validated raw records (see the module docstring)."""
    all_reviews: dict[str, list[dict[str, Any]]] = {}
    all_ratings: dict[str, Any] = {}
    for rec in reviews or []:
        all_reviews[rec.asin] = [r.model_dump() for r in rec.reviews]
        all_ratings[rec.asin] = rec.average_rating
    if num_products is not None:
        raw_products = raw_products[:num_products]
    seen: set[str] = set()
    products = []
    for p in raw_products:
        asin = p.asin
        if asin == "nan" or len(asin) > 10 or asin in seen:
            continue
        seen.add(asin)
        product: dict[str, Any] = {k: v for k, v in p.model_dump().items() if k not in _DROPPED}
        product["Title"] = p.name
        product["Description"] = p.full_description
        product_reviews = []
        for r in all_reviews.get(asin, []):
            review = {"title": r.get("title") or ""}
            review["score"] = r["score"] if r.get("score") is not None else r.get("stars")
            review["body"] = r["review"] if r.get("review") is not None else ""  # upstream ignores 'body'
            product_reviews.append(review)
        product["Reviews"] = product_reviews
        product["Rating"] = all_ratings.get(asin, "N.A.")
        product["BulletPoints"] = p.small_description if isinstance(p.small_description, list) else [p.small_description]
        product["pricing"], product["Price"] = _parse_pricing(p.pricing)
        options: dict[str, list[str]] = {}
        option_to_image: dict[str, str | None] = {}
        for option_name, contents in (p.customization_options or {}).items():
            if contents is None:
                continue
            values = []
            for content in contents:
                value = content.value.strip().replace("/", " | ").lower()
                values.append(value)
                option_to_image[value] = content.image
            options[option_name.lower()] = values
        product["options"] = options
        product["option_to_image"] = option_to_image
        rec = attributes.get(asin)
        product["Attributes"] = rec.attributes if rec is not None and rec.attributes else ["DUMMY_ATTR"]
        if human_goals:
            if human and asin in human:
                product["instructions"] = [h.model_dump() for h in human[asin]]
        else:
            product["instruction_text"] = rec.instruction if rec is not None else None
            product["instruction_attributes"] = rec.instruction_attributes if rec is not None else None
        product["MainImage"] = p.images[0] if p.images else None
        product["query"] = p.query.lower().strip()
        products.append(product)
    return products


_DROPPED = {
    "product_information", "brand", "brand_url", "list_price", "availability_quantity", "availability_status",
    "total_reviews", "total_answered_questions", "seller_id", "seller_name", "fulfilled_by_amazon",
    "fast_track_message", "aplus_present", "small_description_old",
}


def generate_product_prices(all_products: list[dict[str, Any]], rng: random.Random) -> dict[str, float]:
    prices = {}
    for product in all_products:
        pricing = product["pricing"]
        if not pricing:
            price = 100.0
        elif len(pricing) == 1:
            price = pricing[0]
        else:
            price = rng.uniform(*pricing[:2])
        prices[product["asin"]] = price
    return prices


@dataclass
class ShopData:
    """One catalog: processed products, their prices, the shuffled goals and the search index."""

    source: str  # a short, stable description used in task ids ("gen0-1000", "real-<hash>")
    products: list[dict[str, Any]]
    product_prices: dict[str, float]
    goals: list[dict[str, Any]]
    human_goals: bool
    _search: Any = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.product_item_dict = {p["asin"]: p for p in self.products}

    @property
    def search_engine(self) -> Any:
        """The BM25 index, built on first use (the reward-only paths never need it)."""
        if self._search is None:
            with self._lock:
                if self._search is None:
                    from turngym.envs.webshop.search import ProductSearch

                    self._search = ProductSearch(self.products)
        return self._search

    def split_indices(self, split: str) -> range:
        return goals_mod.split_range(split, len(self.goals))


def build_shop_data(
    raw_products: list[Any],
    attributes: dict[str, Any],
    human: dict[str, Any] | None,
    reviews: list[Any] | None,
    *,
    source: str,
    human_goals: bool = False,
    goal_seed: int = 233,
    num_products: int | None = None,
) -> ShopData:
    """Products → prices → goals → shuffle, drawing randomness in upstream's order (see goals.py)."""
    products = process_products(raw_products, attributes, human, reviews, human_goals=human_goals, num_products=num_products)
    if not products:
        raise DataFormatError(f"{source}: no usable products (every asin was missing, 'nan', longer than 10 characters or repeated)")
    rng = random.Random(goal_seed)
    prices = generate_product_prices(products, rng)
    goals = goals_mod.shuffle_goals(goals_mod.get_goals(products, prices, rng, human_goals), seed=goal_seed)
    if not goals:
        kind = "human instructions (items_human_ins)" if human_goals else "instructions with instruction_attributes (items_ins_v2)"
        raise DataFormatError(f"{source}: no goals could be made: no product has {kind}")
    return ShopData(source=source, products=products, product_prices=prices, goals=goals, human_goals=human_goals)


def _read_json(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as exc:
        raise DataFormatError(f"{path}: not valid JSON ({exc})") from None


def find_data_files(data_dir: str | os.PathLike[str]) -> dict[str, Path | None]:
    """The upstream files in a folder: the smallest ``items_shuffle*``/``items_ins_v2*`` pair wins
    unless only the full one is there (``setup.sh -d small`` gives the ``_1000`` pair)."""
    folder = Path(data_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"WebShop data folder {folder} does not exist")

    def pick(pattern: str) -> Path | None:
        found = sorted(folder.glob(pattern), key=lambda p: (len(p.name), p.name))
        return found[0] if found else None

    products, attributes = pick("items_shuffle*.json"), pick("items_ins_v2*.json")
    if products is None or attributes is None:
        missing = [n for n, p in (("items_shuffle*.json", products), ("items_ins_v2*.json", attributes)) if p is None]
        raise FileNotFoundError(f"{folder} has no {' and no '.join(missing)} (WebShop's data files; see upstream's setup.sh)")
    human = folder / "items_human_ins.json"
    reviews = folder / "reviews.json"
    return {"products": products, "attributes": attributes, "human": human if human.exists() else None, "reviews": reviews if reviews.exists() else None}


def load_data_dir(data_dir: str | os.PathLike[str], *, human_goals: bool = False, goal_seed: int = 233, num_products: int | None = None) -> ShopData:
    files = find_data_files(data_dir)
    if human_goals and files["human"] is None:
        raise FileNotFoundError(f"human_goals=True needs {Path(data_dir) / 'items_human_ins.json'}")
    raw = validate_products(_read_json(files["products"]), str(files["products"]))
    attrs = validate_attributes(_read_json(files["attributes"]), str(files["attributes"]))
    human = validate_human(_read_json(files["human"]), str(files["human"])) if files["human"] else None
    reviews = validate_reviews(_read_json(files["reviews"]), str(files["reviews"])) if files["reviews"] else None
    stamp = "|".join(f"{p.name}:{p.stat().st_size}" for p in files.values() if p is not None)
    import hashlib

    source = "real" + hashlib.sha256(stamp.encode()).hexdigest()[:8]
    return build_shop_data(raw, attrs, human, reviews, source=source, human_goals=human_goals, goal_seed=goal_seed, num_products=num_products)


def generated_data(num_products: int = 1000, catalog_seed: int = 0, *, human_goals: bool = False, goal_seed: int = 233) -> ShopData:
    from turngym.envs.webshop.catalog import CATALOG_VERSION, generate_catalog
    from turngym.envs.webshop.schema import AttributeRecord, HumanInstruction, RawProduct, ReviewRecord

    cat = generate_catalog(num_products, catalog_seed)
    raw = [RawProduct.model_construct(**_with_options(p)) for p in cat.products]
    attrs = {k: AttributeRecord.model_construct(**v) for k, v in cat.attributes.items()}
    human = {k: [HumanInstruction.model_construct(**h) for h in v] for k, v in cat.human.items()}
    reviews = [ReviewRecord.model_validate(r) for r in cat.reviews]
    source = f"gen{CATALOG_VERSION}s{catalog_seed}n{num_products}"
    return build_shop_data(raw, attrs, human, reviews, source=source, human_goals=human_goals, goal_seed=goal_seed)


def _with_options(p: dict[str, Any]) -> dict[str, Any]:
    """``model_construct`` skips validation (the generator's records are known-good, and 100k of them
    validate in seconds); nested option values still need their model type."""
    from turngym.envs.webshop.schema import OptionValue

    opts = p.get("customization_options")
    if opts:
        p = {**p, "customization_options": {k: [OptionValue.model_construct(**v) for v in vals] for k, vals in opts.items()}}
    return p


#: Upstream's small set (``items_shuffle_1000``), which verl-agent trains on.
DEFAULT_NUM_PRODUCTS = 1000
_CACHE: dict[tuple[Any, ...], ShopData] = {}
_CACHE_LOCK = threading.Lock()


def shop_data(
    *,
    data_dir: str | os.PathLike[str] | None = None,
    num_products: int | None = None,
    catalog_seed: int = 0,
    human_goals: bool = False,
    goal_seed: int = 233,
) -> ShopData:
    """The process-wide :class:`ShopData` for these arguments (built once, then shared)."""
    key = (os.fspath(data_dir) if data_dir is not None else None, num_products, catalog_seed, human_goals, goal_seed)
    with _CACHE_LOCK:
        if key not in _CACHE:
            if data_dir is not None:
                _CACHE[key] = load_data_dir(data_dir, human_goals=human_goals, goal_seed=goal_seed, num_products=num_products)
            else:
                _CACHE[key] = generated_data(num_products or DEFAULT_NUM_PRODUCTS, catalog_seed, human_goals=human_goals, goal_seed=goal_seed)
        return _CACHE[key]
