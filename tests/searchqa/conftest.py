"""Shared fixtures: the tiny and small generated corpora, and a real /retrieve server on loopback."""

from __future__ import annotations

import socket
import threading
import time

import pytest

pytest.importorskip("bm25s", reason='SearchQA needs the search extra: pip install "turngym[search]"')

from turngym.envs.searchqa.dataset import load_data  # noqa: E402


@pytest.fixture(scope="session")
def tiny():
    return load_data(size="tiny", seed=0)


@pytest.fixture(scope="session")
def small():
    return load_data(size="small", seed=0)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def server_url(small):
    """``turngym search serve``'s app over the small corpus, on a loopback port, for the session."""
    import uvicorn

    from turngym.envs.searchqa.server import create_app

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(small.retriever, num_passages=len(small.corpus)), host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started:
        assert time.time() < deadline, "server did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
