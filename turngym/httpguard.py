"""Guards for the HTTP servers turngym starts (the sandbox server, the replay viewer).

Two attacks matter for a server a researcher starts on a workstation:

* **DNS rebinding.** A web page the researcher visits resolves its own name to 127.0.0.1 and then
  talks to the loopback server from the browser. The browser still sends the attacker's name in
  the ``Host`` header, so a server bound to loopback answers only requests whose ``Host`` is a
  loopback name. A server bound to a specific address answers its address and the names given with
  ``allow_hosts``; a wildcard bind (``0.0.0.0``/``::``) cannot know its names and relies on the token.
* **Anyone on the network.** Bound beyond loopback, the sandbox runs code for whoever asks, and the
  viewer writes branches. Write methods then need a shared token (``Authorization: Bearer TOKEN`` or
  ``X-Turngym-Token: TOKEN``); reads stay open so health checks work.

This is a plain ASGI middleware (no framework import) so both servers, and any layer of the
package, can use it. Starlette's ``TrustedHostMiddleware`` is not used because it splits the
``Host`` header on the first ``:`` and so never matches an IPv6 literal such as ``[::1]:8080``.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
TOKEN_HEADER = "x-turngym-token"


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and any loopback address (127.0.0.0/8, ::1)."""
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_wildcard(host: str) -> bool:
    return host.strip("[]") in ("0.0.0.0", "::", "")


def host_name(header: str) -> str:
    """The name part of a ``Host`` header: ``[::1]:80`` -> ``::1``, ``a.b:8080`` -> ``a.b``."""
    header = header.strip().lower()
    if header.startswith("["):
        end = header.find("]")
        return header[1:end] if end > 0 else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def allowed_host_names(bind_host: str, allow_hosts: Iterable[str] = ()) -> frozenset[str] | None:
    """The ``Host`` names a server bound to ``bind_host`` answers; None means any (wildcard bind)."""
    extra = {h.strip("[]").lower() for h in allow_hosts if h}
    if is_loopback(bind_host):
        return frozenset(LOOPBACK_NAMES | {bind_host.strip("[]").lower()} | extra)
    if is_wildcard(bind_host):
        return frozenset(extra) if extra else None
    return frozenset({bind_host.strip("[]").lower()} | extra)


def needs_token(bind_host: str) -> bool:
    return not is_loopback(bind_host)


def new_token() -> str:
    return secrets.token_urlsafe(24)


class HostAndTokenGuard:
    """ASGI middleware: 400 for a ``Host`` not in ``allowed`` (None = any), 401 for a write without the token."""

    def __init__(self, app: ASGIApp, *, allowed: frozenset[str] | None, token: str | None) -> None:
        self.app = app
        self.allowed = allowed
        self.token = token

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if self.allowed is not None and host_name(headers.get("host", "")) not in self.allowed:
            await _reject(send, 400, "invalid Host header: this server answers only "
                          + ", ".join(sorted(self.allowed)) + " (DNS-rebinding protection; see --allow-host)")
            return
        if self.token is not None and scope.get("method", "GET").upper() in WRITE_METHODS:
            given = headers.get(TOKEN_HEADER) or _bearer(headers.get("authorization", ""))
            if not given or not hmac.compare_digest(given.encode(), self.token.encode()):
                await _reject(send, 401, "this server needs its token for writes: send 'Authorization: Bearer TOKEN' "
                              "or 'X-Turngym-Token: TOKEN' (printed when the server started)")
                return
        await self.app(scope, receive, send)


def guard(app: Any, *, bind_host: str, token: str | None = None, allow_hosts: Iterable[str] = ()) -> HostAndTokenGuard:
    """Wrap ``app`` for a server bound to ``bind_host``; ``token`` is required when binding beyond loopback."""
    if needs_token(bind_host) and not token:
        raise ValueError(f"binding to {bind_host!r} (beyond loopback) needs a token for write endpoints")
    return HostAndTokenGuard(app, allowed=allowed_host_names(bind_host, allow_hosts), token=token or None)


def _bearer(value: str) -> str:
    scheme, _, cred = value.partition(" ")
    return cred.strip() if scheme.lower() == "bearer" else ""


async def _reject(send: Any, status: int, message: str) -> None:
    import json

    body = json.dumps({"detail": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
