"""Shared fixtures: the tiny and small generated corpora, and a real /retrieve server on loopback."""

from __future__ import annotations

import pytest

pytest.importorskip("bm25s", reason='SearchQA needs the search extra: pip install "turngym[search]"')

from turngym.envs.searchqa.dataset import load_data  # noqa: E402


@pytest.fixture(scope="session")
def tiny():
    return load_data(size="tiny", seed=0)


@pytest.fixture(scope="session")
def small():
    return load_data(size="small", seed=0)


@pytest.fixture(scope="session")
def server_url(small):
    """``turngym search serve``'s app over the small corpus, on a loopback port, for the session."""
    from asgi_in_thread import serve_in_thread

    from turngym.envs.searchqa.server import create_app

    with serve_in_thread(create_app(small.retriever, num_passages=len(small.corpus)), log_level="error", timeout=30) as url:
        yield url
