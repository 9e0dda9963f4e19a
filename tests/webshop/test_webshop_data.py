"""The generated catalog, upstream's product processing, goals and splits, and the real-data loader
on small files in the real schema written here."""

from __future__ import annotations

import json
import random

import pytest

from turngym.envs.webshop import goals as goals_mod
from turngym.envs.webshop.catalog import generate_catalog
from turngym.envs.webshop.data import find_data_files, load_data_dir
from turngym.envs.webshop.schema import DataFormatError, validate_products

REAL_PRODUCTS = [
    {  # shaped like an items_shuffle record (fields the shop drops included)
        "asin": "B078GWRC1J", "name": "Bright Citrus Deodorant by Earth Mama | Natural and Safe for Sensitive Skin, 3-Ounce",
        "full_description": "Earth Mama's deodorant is made with natural ingredients.", "small_description": ["Aluminum free", "Travel size"],
        "pricing": "$10.99", "list_price": "", "images": ["https://m.media-amazon.com/images/I/x.jpg"],
        "product_category": "Beauty & Personal Care › Personal Care › Deodorants & Antiperspirants › Deodorants",
        "average_rating": 4.6, "brand": "Earth Mama", "seller_id": "A1", "total_reviews": 12, "category": "beauty", "query": "Deodorant ",
        "customization_options": {"Size": [{"value": "Travel Set (4-Pack)", "image": None}, {"value": "3 Ounce (Pack of 1)", "image": "https://img/2.jpg"}],
                                  "Scent": [{"value": "Bright Citrus", "image": None}, {"value": "Calming Lavender/Rose", "image": None}], "Style": None},
    },
    {"asin": "B08KBVJ4XN", "name": "Vanilla Cake Mix, Gluten Free", "full_description": "", "small_description": "one bullet as a string",
     "pricing": "$5.50 - $12.00", "images": [], "product_category": "Grocery › Baking", "category": "food", "query": "cake mix",
     "customization_options": None},
    {"asin": "nan", "name": "skipped", "category": "food", "query": "x"},
    {"asin": "B08KBVJ4XN", "name": "duplicate, skipped", "category": "food", "query": "x"},
    {"asin": "B0TOOLONG000", "name": "asin too long, skipped", "category": "food", "query": "x"},
    {"asin": "B000NOATTR", "name": "No attribute record", "pricing": None, "category": "food", "query": "x"},
]
REAL_ATTRS = {
    "B078GWRC1J": {"attributes": ["natural ingredients", "sensitive skin", "aluminum free"], "instruction": "i want a natural deodorant for sensitive skin",
                   "instruction_attributes": ["natural ingredients", "sensitive skin"]},
    "B08KBVJ4XN": {"attributes": ["gluten free"], "instruction": "i need a gluten free cake mix", "instruction_attributes": ["gluten free"]},
}
REAL_HUMAN = {"B078GWRC1J": [{"asin": "B078GWRC1J", "instruction": "i would like a 3 ounce bottle of bright citrus deodorant for sensitive skin.",
                              "instruction_attributes": ["sensitive skin"], "instruction_options": ["3 ounce (pack of 1)", "bright citrus"], "worker_id": "w"}]}
REAL_REVIEWS = [{"asin": "B078GWRC1J", "average_rating": 4.5, "reviews": [{"title": "Love it", "stars": 5, "review": "Smells great"}, {"title": "Meh", "stars": "3"}]}]


@pytest.fixture()
def real_dir(tmp_path):
    (tmp_path / "items_shuffle_1000.json").write_text(json.dumps(REAL_PRODUCTS))
    (tmp_path / "items_ins_v2_1000.json").write_text(json.dumps(REAL_ATTRS))
    (tmp_path / "items_human_ins.json").write_text(json.dumps(REAL_HUMAN))
    (tmp_path / "reviews.json").write_text(json.dumps(REAL_REVIEWS))
    return tmp_path


def test_real_files_are_processed_the_upstream_way(real_dir) -> None:
    data = load_data_dir(real_dir)
    assert [p["asin"] for p in data.products] == ["B078GWRC1J", "B08KBVJ4XN", "B000NOATTR"]
    p = data.product_item_dict["B078GWRC1J"]
    assert p["Title"] == REAL_PRODUCTS[0]["name"] and p["query"] == "deodorant"
    assert p["options"] == {"size": ["travel set (4-pack)", "3 ounce (pack of 1)"], "scent": ["bright citrus", "calming lavender | rose"]}
    assert p["option_to_image"]["3 ounce (pack of 1)"] == "https://img/2.jpg"
    assert p["pricing"] == [10.99] and p["Price"] == "$10.99" and data.product_prices["B078GWRC1J"] == 10.99
    assert p["Reviews"] == [{"title": "Love it", "score": 5, "body": "Smells great"}, {"title": "Meh", "score": "3", "body": ""}]
    assert p["Rating"] == 4.5 and "brand" not in p and "seller_id" not in p
    q = data.product_item_dict["B08KBVJ4XN"]
    assert q["BulletPoints"] == ["one bullet as a string"] and q["pricing"] == [5.5, 12.0] and q["Price"] == "$5.5 to $12.0"
    assert 5.5 <= data.product_prices["B08KBVJ4XN"] <= 12.0 and q["MainImage"] is None and q["Rating"] == "N.A."
    assert data.product_item_dict["B000NOATTR"]["Attributes"] == ["DUMMY_ATTR"] and data.product_item_dict["B000NOATTR"]["Price"] == "$100.0"
    # synthetic goals: one per option combination, options as a dict, the title as the name
    by_asin = [g for g in data.goals if g["asin"] == "B078GWRC1J"]
    assert len(by_asin) == 4 and all(isinstance(g["goal_options"], dict) and g["name"] == p["Title"] for g in by_asin)
    assert any(g["instruction_text"].startswith("i want a natural deodorant for sensitive skin with scent: bright citrus, and size: ") for g in by_asin)
    assert all(re_price(g) for g in data.goals)


def re_price(goal) -> bool:
    text = goal["instruction_text"]
    return goal["price_upper"] == 1000000 or text.endswith(f", and price lower than {goal['price_upper']:.2f} dollars")


def test_human_goals_from_the_real_file(real_dir) -> None:
    data = load_data_dir(real_dir, human_goals=True)
    assert len(data.goals) == 1
    goal = data.goals[0]
    assert goal["goal_options"] == ["3 ounce (pack of 1)", "bright citrus"] and goal["weight"] == 1
    assert goal["instruction_text"].startswith("i would like a 3 ounce bottle of bright citrus deodorant for sensitive skin, and price lower than")


def test_the_env_plays_the_real_files(real_dir) -> None:
    from turngym.envs.webshop.env import WebShopEnv

    env = WebShopEnv(data_dir=real_dir, split="test", expert=True, human_goals=True)
    obs, info = env.reset(seed=0)
    assert obs.startswith("WebShop [SEP] Instruction: [SEP] i would like a 3 ounce bottle")
    for _ in range(env.max_turns):
        obs, reward, terminated, truncated, info = env.step(info["expert_action"])
        if terminated or truncated:
            break
    assert info["won"] and reward == 1.0 and info["purchased"]["options"] == {"size": "3 ounce (pack of 1)", "scent": "bright citrus"}


def test_malformed_files_fail_with_the_record_and_field(real_dir, tmp_path) -> None:
    with pytest.raises(DataFormatError, match=r"record 1: field 'category'"):
        validate_products([REAL_PRODUCTS[0], {"asin": "B1", "name": "x", "query": "y"}])
    with pytest.raises(DataFormatError, match="expected a JSON list"):
        validate_products({"asin": "B1"})
    (real_dir / "items_ins_v2_1000.json").write_text("{not json")
    with pytest.raises(DataFormatError, match="not valid JSON"):
        load_data_dir(real_dir)
    with pytest.raises(FileNotFoundError, match=r"no items_shuffle\*\.json"):
        find_data_files(tmp_path / "empty" if (tmp_path / "empty").mkdir() is None else tmp_path)


def test_generator_is_deterministic_and_prefix_stable() -> None:
    a, b = generate_catalog(200, seed=3), generate_catalog(200, seed=3)
    assert json.dumps(a.products) == json.dumps(b.products) and a.attributes == b.attributes
    big = generate_catalog(400, seed=3)
    assert big.products[:200] == a.products
    assert generate_catalog(50, seed=4).products[0] != a.products[0]
    assert len({p["asin"] for p in big.products}) == 400


def test_generated_records_validate_and_are_varied(tmp_path) -> None:
    cat = generate_catalog(1000, seed=0)
    raw = validate_products(cat.products)
    assert len(raw) == 1000
    assert {p["category"] for p in cat.products} == {"beauty", "electronics", "fashion", "food", "furniture"}
    assert len({p["query"] for p in cat.products}) >= 50
    names = {n.lower() for p in cat.products for n in (p["customization_options"] or {})}
    assert {"size", "color", "flavor", "scent", "capacity"} <= names
    prices = sorted(float(p["pricing"].split("$")[1].split()[0]) for p in cat.products)
    assert prices[50] < 10 and prices[-50] > 150  # log-normal spread across types
    assert sum(" - $" in p["pricing"] for p in cat.products) > 50  # price ranges exist
    assert all(set(v["instruction_attributes"]) <= set(v["attributes"]) for v in cat.attributes.values())
    assert cat.human and cat.reviews
    paths = cat.write(tmp_path)
    assert sorted(p.name for p in paths.values()) == ["items_human_ins.json", "items_ins_v2_1000.json", "items_shuffle_1000.json", "reviews.json"]
    assert len(load_data_dir(tmp_path).goals) > 1000


def test_splits_are_pinned_the_upstream_way(data) -> None:
    n = len(data.goals)
    assert data.split_indices("test") == range(0, 500) and data.split_indices("eval") == range(500, 1500)
    assert data.split_indices("train") == range(1500, n)
    from turngym.envs.webshop.data import generated_data

    again, other = generated_data(1000, 0, goal_seed=233), generated_data(1000, 0, goal_seed=42)
    assert [g["instruction_text"] for g in again.goals] == [g["instruction_text"] for g in data.goals]
    assert [g["asin"] for g in other.goals[:500]] != [g["asin"] for g in data.goals[:500]]
    with pytest.raises(ValueError, match="unknown split"):
        goals_mod.split_range("valid", n)


def test_randomness_follows_upstreams_call_order() -> None:
    """Prices (random.uniform for ranges) and price bounds (random.sample) share one generator in
    upstream's order: reseeding the global RNG the way verl-agent does gives the same goals."""
    products = [
        {"asin": f"A{i}", "pricing": [10.0 + i, 20.0 + i] if i % 2 else [5.0 + i], "instruction_text": f"i need thing {i}", "instruction_attributes": ["x"],
         "options": {"size": ["s", "m"]} if i % 3 else {}, "category": "c", "query": "q", "product_category": "a › b", "Title": f"Thing {i}"}
        for i in range(30)
    ]
    from turngym.envs.webshop.data import generate_product_prices

    rng = random.Random(42)
    ours = goals_mod.shuffle_goals(goals_mod.get_synthetic_goals(products, generate_product_prices(products, rng), rng), seed=42)
    random.seed(42)  # the verl-agent sequence, with the global generator
    prices = {p["asin"]: (random.uniform(*p["pricing"]) if len(p["pricing"]) > 1 else p["pricing"][0]) for p in products}
    ref = []
    for p in products:
        pr = [x for x in goals_mod.PRICE_RANGE if x > prices[p["asin"]]][:4]
        _, upper = sorted(random.sample(pr, 2))
        for combo in (p["options"].get("size") or [None]):
            ref.append((p["asin"], upper, combo))
    random.seed(42)
    random.shuffle(ref)
    assert [(g["asin"], g["price_upper"], g["goal_options"].get("size")) for g in ours] == ref
