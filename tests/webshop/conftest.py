"""WebShop tests need the webshop extra (pip install 'turngym[webshop]'); without it they skip."""

from __future__ import annotations

import pytest

for _module in ("bm25s", "Stemmer", "thefuzz", "spacy", "jinja2"):
    pytest.importorskip(_module, reason="the webshop extra is not installed: pip install 'turngym[webshop]'")


@pytest.fixture(scope="session")
def data():
    from turngym.envs.webshop.data import shop_data

    return shop_data()


@pytest.fixture(scope="session")
def shop(data):
    from turngym.envs.webshop.engine import Shop

    return Shop(data)
