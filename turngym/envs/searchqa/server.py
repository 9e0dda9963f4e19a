"""The Search-R1 retrieval API over any :class:`Retriever`: ``POST /retrieve``.

Request: ``{"queries": [...], "topk": 3, "return_scores": true}`` (Search-R1's client) or
``{"query": "..."}`` (one query); ``topk`` defaults to the server's. Response:
``{"result": [[{"document": {"id", "contents"}, "score"}, ...], ...]}`` with scores, or
``{"result": [[{"id", "contents"}, ...], ...]}`` without, one list per query, as Search-R1's
``retrieval_server.py`` answers. A body that is not that shape gets 422 with the reason; the
server keeps serving.

Endpoints are plain functions, so FastAPI runs them in its thread pool: concurrent requests are
accepted and parsed side by side (the searches themselves take turns, see ``create_app``) and a
long batch does not block the health check.
"""

from __future__ import annotations

import threading
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from turngym.envs.searchqa.retrieval import Retriever

MAX_BATCH = 4096
SERVE_INSTALL = 'pip install "turngym[search]"'


class RetrieveRequest(BaseModel):
    """A Search-R1 retrieval request (extra keys are ignored, as other clients send some)."""

    model_config = ConfigDict(extra="ignore")
    queries: list[str] | None = Field(None, max_length=MAX_BATCH, description="Batch of queries.")
    query: str | None = Field(None, description="A single query (alternative to queries).")
    topk: int | None = Field(None, ge=1, le=1000)
    return_scores: bool = False

    @model_validator(mode="after")
    def _one_form(self) -> RetrieveRequest:
        if (self.queries is None) == (self.query is None):
            raise ValueError("give exactly one of 'queries' (a list of strings) or 'query' (a string)")
        return self


def create_app(retriever: Retriever, *, default_topk: int = 3, num_passages: int | None = None) -> Any:
    try:
        from fastapi import FastAPI
    except ImportError:
        raise ImportError(f"the retrieval server needs fastapi and uvicorn: {SERVE_INSTALL}") from None

    app = FastAPI(title="turngym retriever", description="Search-R1-compatible retrieval API")
    # One search at a time: scoring is CPU-bound Python + numpy, and threads interleaving on the
    # GIL made 4 concurrent clients 2.5x slower than one (measured, benchmarks/search_speed.py).
    # Requests still arrive, parse and serialise concurrently.
    lock = threading.Lock()

    @app.post("/retrieve")
    def retrieve(request: RetrieveRequest) -> dict[str, Any]:
        queries = request.queries if request.queries is not None else [request.query or ""]
        with lock:
            hits = retriever.search(queries, request.topk or default_topk)
        return {"result": [[h.to_json(with_score=request.return_scores) for h in per_query] for per_query in hits]}

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "retriever": getattr(retriever, "kind", type(retriever).__name__), "passages": num_passages, "topk": default_topk}

    return app


def serve(retriever: Retriever, *, host: str = "127.0.0.1", port: int = 8000, default_topk: int = 3, num_passages: int | None = None, log_level: str = "warning") -> None:
    try:
        import uvicorn
    except ImportError:
        raise ImportError(f"the retrieval server needs uvicorn: {SERVE_INSTALL}") from None
    uvicorn.run(create_app(retriever, default_topk=default_topk, num_passages=num_passages), host=host, port=port, log_level=log_level)
