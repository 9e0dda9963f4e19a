"""Product search: BM25 over the documents upstream indexes, with ``bm25s`` in process.

Upstream indexes each product as ``Title + Description + BulletPoints[0] + option text``, lower-cased
(``search_engine/convert_product_file_format.py``), in Lucene through pyserini, and returns at most
50 hits. We index the same text with ``bm25s`` using what pyserini's default analyzer does (Porter
stemming, English stop words) and Anserini's BM25 defaults (k1=0.9, b=0.4). Only documents that share
a term with the query are hits (as in Lucene), ties are broken by catalog order so that results are
the same on every run, and queries keep their first ``MAX_QUERY_TERMS`` terms (Lucene refuses more
than 1024 clauses; we truncate instead of failing).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

SEARCH_RETURN_N = 50
MAX_QUERY_TERMS = 1024
K1, B = 0.9, 0.4
INSTALL_HINT = "pip install 'turngym[webshop]'"


def require_bm25s() -> Any:
    try:
        import bm25s
        import Stemmer
    except ImportError as exc:
        raise ImportError(f"WebShop search needs bm25s and PyStemmer (the webshop extra): {INSTALL_HINT}") from exc
    return bm25s, Stemmer


def product_document(product: dict[str, Any]) -> str:
    option_texts = [f"{name}: {', '.join(values)}" for name, values in product.get("options", {}).items()]
    bullets = product.get("BulletPoints") or [""]
    return " ".join([product["Title"], product["Description"], bullets[0] or "", ", and ".join(option_texts)]).lower()


class ProductSearch:
    """``search(keywords) -> [asin, ...]`` (≤ 50, best first), deterministic."""

    def __init__(self, products: Sequence[dict[str, Any]], *, show_progress: bool = False) -> None:
        bm25s, Stemmer = require_bm25s()
        self._bm25s = bm25s
        self._stemmer = Stemmer.Stemmer("porter")
        self.asins = [p["asin"] for p in products]
        corpus = [product_document(p) for p in products]
        tokens = bm25s.tokenize(corpus, stopwords="en", stemmer=self._stemmer, show_progress=show_progress)
        self.retriever = bm25s.BM25(k1=K1, b=B, method="lucene")
        self.retriever.index(tokens, show_progress=show_progress)
        self.vocab = self.retriever.vocab_dict
        self._cached = functools.lru_cache(maxsize=4096)(self._search)

    def tokens(self, text: str) -> list[str]:
        """The query's index terms (stemmed, stop words removed), unknown terms dropped."""
        words = text.split()[:MAX_QUERY_TERMS]
        if not words:
            return []
        (toks,) = self._bm25s.tokenize([" ".join(words)], stopwords="en", stemmer=self._stemmer, return_ids=False, show_progress=False)
        return [t for t in toks if t in self.vocab]

    def scores(self, text: str) -> np.ndarray:
        toks = self.tokens(text)
        if not toks:
            return np.zeros(len(self.asins), dtype=np.float32)
        return self.retriever.get_scores(toks)

    def search(self, keywords: str | Sequence[str], k: int = SEARCH_RETURN_N) -> list[str]:
        text = keywords if isinstance(keywords, str) else " ".join(keywords)
        return list(self._cached(" ".join(text.split()[:MAX_QUERY_TERMS]), k))

    def _search(self, text: str, k: int) -> tuple[str, ...]:
        scores = self.scores(text)
        return tuple(self.asins[i] for i in top_k(scores, k))


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` best positive scores, best first, ties in index order."""
    positive = np.flatnonzero(scores > 0)
    if positive.size == 0:
        return positive
    if positive.size > k:
        kth = np.partition(scores[positive], positive.size - k)[positive.size - k]
        positive = positive[scores[positive] >= kth]
    order = np.lexsort((positive, -scores[positive]))
    return positive[order][:k]
