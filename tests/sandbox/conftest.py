"""Shared fixtures: one local backend per module (workers take ~1 s to start), and the other local
modes the abuse suite runs its integrity and IPC cases through."""

from __future__ import annotations

import warnings

import pytest

from turngym.sandbox import SandboxConfig
from turngym.sandbox.local import LocalBackend


@pytest.fixture(scope="module")
def backend():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        b = LocalBackend(SandboxConfig(workers=2))
    yield b
    b.close()


@pytest.fixture(scope="module")
def proxied_backend():
    """Runs collected by the worker instead of the caller (``direct=False``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        b = LocalBackend(SandboxConfig(workers=1, direct=False))
    yield b
    b.close()


@pytest.fixture(scope="module")
def stdio_backend():
    """The ``--stdio`` worker protocol the Docker backend speaks inside containers, over local pipes:
    runs and sessions are proxied by the worker."""
    from turngym.sandbox.docker_backend import PipeStream, StreamBackend

    cfg = SandboxConfig(workers=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        b = StreamBackend(lambda: PipeStream(cfg), workers=1, cfg=cfg)
    yield b
    b.close()


@pytest.fixture(scope="module")
def server_url(backend):
    """``turngym sandbox serve``'s app over 127.0.0.1 in a thread, serving ``backend``."""
    from asgi_in_thread import serve_in_thread

    from turngym.sandbox.server import create_app

    with serve_in_thread(create_app(backend)) as url:
        yield url


@pytest.fixture(scope="module")
def http_backend(server_url):
    from turngym.sandbox.fusion import FusionBackend

    c = FusionBackend(server_url)
    yield c
    c.close()
