"""A seeded product generator that writes WebShop's raw files in the exact upstream schema.

Product ``i`` of catalog seed ``s`` depends only on ``(CATALOG_VERSION, s, i)``: a 1,000-product
catalog is the prefix of the 100,000-product one, as upstream's ``items_shuffle_1000`` is of
``items_shuffle``. Each record looks like a scraped listing (invented brand, title built from the
type's nouns and attributes, description and bullet points that mention the attributes, a
log-normal price, sometimes a price range, options by type), and comes with its ``items_ins_v2``
record (attribute phrases, one synthetic instruction and its attributes), sometimes reviews, and
sometimes human-style instructions (``items_human_ins``) that name option values in words.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from turngym.envs.webshop import vocab

#: Bump when the generator's output changes; it is part of every generated task id.
CATALOG_VERSION = "1"
_ASIN_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass
class GeneratedCatalog:
    """The four upstream files as JSON-ready objects."""

    products: list[dict[str, Any]] = field(default_factory=list)  # items_shuffle
    attributes: dict[str, dict[str, Any]] = field(default_factory=dict)  # items_ins_v2
    human: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # items_human_ins
    reviews: list[dict[str, Any]] = field(default_factory=list)  # reviews.json

    def file_names(self, n: int) -> dict[str, str]:
        return {
            "products": f"items_shuffle_{n}.json",
            "attributes": f"items_ins_v2_{n}.json",
            "human": "items_human_ins.json",
            "reviews": "reviews.json",
        }

    def write(self, out_dir: str | os.PathLike[str]) -> dict[str, Path]:
        """Write the files under the names upstream's loaders look for; returns their paths."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {}
        for key, name in self.file_names(len(self.products)).items():
            path = out / name
            tmp = path.with_suffix(".json.tmp")
            tmp.write_text(json.dumps(getattr(self, key)), encoding="utf-8")
            tmp.replace(path)
            paths[key] = path
        return paths


def _title(words: str) -> str:
    return " ".join(w[:1].upper() + w[1:] for w in words.split(" "))


def _join_attrs(attrs: list[str]) -> str:
    return attrs[0] if len(attrs) == 1 else ", ".join(attrs[:-1]) + " and " + attrs[-1]


def _article(first_word: str, noun: str) -> str:
    if noun.endswith("s") and not noun.endswith("ss"):
        return ""
    return "an " if first_word[:1] in "aeiou" else "a "


def _price(rng: random.Random, median: float, sigma: float) -> float:
    raw = math.exp(math.log(median) + sigma * rng.gauss(0.0, 1.0))
    cents = rng.choice((0.99, 0.99, 0.95, 0.49, 0.0, 0.97))
    return max(0.99, round(math.floor(max(raw, 1.0)) + cents, 2))


class CatalogGenerator:
    """``generate(n)`` → a :class:`GeneratedCatalog`; ``iter_products`` streams (record, attr, ...)."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = int(seed)

    def _rng(self, i: int) -> random.Random:
        return random.Random(f"webshop-catalog-v{CATALOG_VERSION}/{self.seed}/{i}")

    def _asin(self, i: int, salt: int) -> str:
        digest = hashlib.sha256(f"asin/{CATALOG_VERSION}/{self.seed}/{i}/{salt}".encode()).digest()
        value = int.from_bytes(digest[:8], "little")
        chars = []
        for _ in range(8):
            value, r = divmod(value, 36)
            chars.append(_ASIN_CHARS[r])
        return "B0" + "".join(chars)

    def generate(self, n: int) -> GeneratedCatalog:
        if n < 1:
            raise ValueError(f"a catalog needs at least 1 product, got n={n}")
        cat = GeneratedCatalog()
        for product, attrs, human, reviews in self.iter_products(n):
            cat.products.append(product)
            cat.attributes[product["asin"]] = attrs
            if human:
                cat.human[product["asin"]] = human
            if reviews is not None:
                cat.reviews.append(reviews)
        return cat

    def iter_products(self, n: int) -> Iterator[tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]], dict[str, Any] | None]]:
        seen: set[str] = set()
        for i in range(n):
            salt = 0
            asin = self._asin(i, salt)
            while asin in seen:  # depends only on earlier products: the prefix property holds
                salt += 1
                asin = self._asin(i, salt)
            seen.add(asin)
            yield self._product(i, asin)

    def _product(self, i: int, asin: str) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]], dict[str, Any] | None]:
        rng = self._rng(i)
        ptype = rng.choice(vocab.PRODUCT_TYPES)
        brand = rng.choice(vocab.BRAND_HEADS) + rng.choice(vocab.BRAND_TAILS) + rng.choice(vocab.BRAND_SUFFIXES)
        noun = rng.choice(ptype.nouns)
        audience = rng.choice(ptype.audiences) if ptype.audiences and rng.random() < 0.6 else ""
        n_attrs = min(len(ptype.attributes), rng.randint(3, 6))
        attributes = rng.sample(ptype.attributes, n_attrs)
        title_attrs = attributes[: rng.randint(1, 2)]

        options: dict[str, list[str]] = {}
        for opt_name, pool in ptype.options.items():
            if rng.random() < 0.8:
                k = min(len(pool), rng.randint(2, 5))
                options[opt_name] = rng.sample(pool, k)

        adjective = _title(rng.choice(vocab.ADJECTIVES)) + " " if rng.random() < 0.4 else ""
        tail = []
        if rng.random() < 0.5 and len(attributes) > len(title_attrs):
            tail.append(_title(attributes[len(title_attrs)]))
        if "size" in options and rng.random() < 0.5:
            tail.append(_title(options["size"][0]))
        title = f"{brand} {adjective}{_title(' '.join(title_attrs))} {_title(noun)}"
        if audience:
            title += f" {_title(audience)}"
        if tail:
            title += ", " + ", ".join(tail)

        desc_attrs = rng.sample(attributes, min(len(attributes), rng.randint(2, 4)))
        description = " ".join(rng.choice(vocab.DESCRIPTION_FRAMES).format(a=a, n=noun) for a in desc_attrs)
        bullets = [
            rng.choice(vocab.BULLET_FRAMES).format(a=a, A=a[:1].upper() + a[1:], n=noun)
            for a in rng.sample(attributes, min(len(attributes), rng.randint(3, 5)))
        ]
        median, sigma = ptype.price
        low = _price(rng, median, sigma)
        pricing = f"${low:.2f}"
        if rng.random() < 0.12:
            pricing = f"${low:.2f} - ${round(low * rng.uniform(1.1, 1.8), 2):.2f}"

        ins_attrs = rng.sample(attributes, min(len(attributes), rng.randint(1, 3)))
        phrase = rng.choice(vocab.PHRASES)
        target = f"{_join_attrs(ins_attrs)} {noun}" + (f" {audience}" if audience else "")
        instruction = f"{phrase} {_article(ins_attrs[0], noun)}{target}"

        product = {
            "asin": asin,
            "name": title,
            "full_description": description,
            "small_description": bullets,
            "pricing": pricing,
            "list_price": "",
            "images": [f"/images/{asin}.svg"],
            "product_category": ptype.breadcrumb,
            "average_rating": None,
            "customization_options": {
                name.title(): [{"value": _title(v), "image": None} for v in values] for name, values in options.items()
            } or None,
            "brand": brand,
            "category": ptype.category,
            "query": ptype.query,
        }
        attrs_record = {"attributes": attributes, "instruction": instruction, "instruction_attributes": ins_attrs}

        human = []
        if rng.random() < 0.3:
            for _ in range(rng.randint(1, 2)):
                picked = {name: rng.choice(values) for name, values in options.items() if rng.random() < 0.7}
                h_attrs = rng.sample(attributes, min(len(attributes), rng.randint(1, 2)))
                opt_words = " ".join(picked.values())
                lead = f"{opt_words} " if opt_words else ""
                text = f"{rng.choice(vocab.PHRASES)} {_article((lead or noun)[:1], noun)}{lead}{noun} that is {_join_attrs(h_attrs)}"
                human.append({"asin": asin, "instruction": text + ".", "instruction_attributes": h_attrs, "instruction_options": list(picked.values())})

        reviews = None
        if rng.random() < 0.5:
            items = []
            for _ in range(rng.randint(1, 4)):
                stars = rng.choice((5, 5, 4, 4, 3, 2, 1))
                items.append({
                    "title": rng.choice(vocab.REVIEW_TITLES),
                    "stars": stars,
                    "review": rng.choice(vocab.REVIEW_BODIES).format(n=noun, a=rng.choice(attributes)),
                })
            rating = round(sum(r["stars"] for r in items) / len(items), 1)
            reviews = {"asin": asin, "reviews": items, "average_rating": rating}
            product["average_rating"] = rating
        return product, attrs_record, human, reviews


def generate_catalog(n: int = 1000, seed: int = 0) -> GeneratedCatalog:
    return CatalogGenerator(seed).generate(n)
