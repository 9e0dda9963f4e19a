"""One way for tests to serve a real ASGI app over loopback: uvicorn in a daemon thread.

Shared by the sandbox, search, web shop and replay tests (importable from any test directory:
``tests/`` is on ``sys.path`` through its root ``conftest.py``).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve_in_thread(app: Any, *, log_level: str = "warning", timeout: float = 20.0) -> Iterator[str]:
    """Serve ``app`` on a free 127.0.0.1 port; yields its URL and stops the server afterwards.

    Raises ``RuntimeError`` if uvicorn has not started within ``timeout`` seconds or its thread died
    (a port race, an app that fails at start-up), instead of waiting forever.
    """
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level=log_level))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
